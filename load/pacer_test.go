package load

import (
	"fmt"
	"math"
	"testing"
	"time"
)

// dueTimes returns the first max due times of a pacer at the start of s,
// and whether it ended before max.
func dueTimes(s Schedule, max int) (due []time.Duration, ended bool) {
	pc := newPacer(s)
	for len(due) < max {
		off, ok := pc.next()
		if !ok {
			return due, true
		}
		due = append(due, off)
	}
	return due, false
}

// countBefore returns how many of due (in order) are before t.
func countBefore(due []time.Duration, t time.Duration) int64 {
	var n int64
	for _, d := range due {
		if d >= t {
			break
		}
		n++
	}
	return n
}

func TestPacerConstant(t *testing.T) {
	tests := []struct {
		perSec float64
		gap    time.Duration // exact spacing; 0 when it is not a whole number of ns
	}{
		{perSec: 1000, gap: time.Millisecond},
		{perSec: 20000, gap: 50 * time.Microsecond},
		{perSec: 0.5, gap: 2 * time.Second},
		{perSec: 3},
		{perSec: 7777},
	}
	for _, tt := range tests {
		t.Run(formatRate(tt.perSec), func(t *testing.T) {
			const n = 20000
			due, ended := dueTimes(Constant(tt.perSec), n)
			if ended {
				t.Fatalf("got the end after %d requests, want a constant rate never to end", len(due))
			}
			if due[0] != 0 {
				t.Errorf("got the first request at %v, want 0", due[0])
			}
			exact := float64(time.Second) / tt.perSec
			for k := 1; k < n; k++ {
				gap := due[k] - due[k-1]
				if tt.gap > 0 && gap != tt.gap {
					t.Fatalf("got request %d %v after the previous, want %v", k, gap, tt.gap)
				}
				// the ns the limiter truncates from a gap are carried, never lost
				if math.Abs(float64(due[k])-float64(k)*exact) > 1 {
					t.Fatalf("got request %d at %v, want %v within 1ns", k, due[k], time.Duration(float64(k)*exact))
				}
			}
			last := due[n-1]
			for _, w := range []struct{ from, to time.Duration }{{0, last}, {last / 3, last / 2}, {last / 7, last}, {time.Duration(exact / 2), 5 * last / 6}} {
				got := countBefore(due, w.to) - countBefore(due, w.from)
				want := tt.perSec * (w.to - w.from).Seconds()
				if math.Abs(float64(got)-want) > 1 {
					t.Errorf("got %d requests in [%v, %v), want %.2f within 1", got, w.from, w.to, want)
				}
			}
		})
	}
}

// TestPacerSteps checks steps, a pause among them, and a request whose
// wait spans a change of rate, against the closed form of Schedule.Due.
func TestPacerSteps(t *testing.T) {
	tests := []struct {
		name  string
		s     Schedule
		count int // requests before the end
		first time.Duration
	}{
		{name: "up", s: Steps(Step{1000, time.Second}, Step{2000, time.Second}), count: 3000},
		{name: "pause", s: Steps(Step{10, time.Second}, Step{0, time.Second}, Step{10, time.Second}), count: 20},
		{name: "wait across a change", s: Steps(Step{3, time.Second}, Step{7, 2 * time.Second}, Step{0.5, 4 * time.Second}), count: 3 + 14 + 2},
		{name: "pause mid-wait", s: Steps(Step{3, time.Second}, Step{0, 500 * time.Millisecond}, Step{3, time.Second}), count: 6},
		{name: "starts with a pause", s: Steps(Step{0, time.Second}, Step{0, time.Second}, Step{100, time.Second}), count: 100, first: 2 * time.Second},
		{name: "only pauses", s: Steps(Step{0, time.Second}), count: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			due, ended := dueTimes(tt.s, 1e6)
			if !ended {
				t.Fatal("got no end, want the schedule to end after its last step")
			}
			if len(due) != tt.count {
				t.Fatalf("got %d requests, want %d", len(due), tt.count)
			}
			if len(due) > 0 && due[0] != tt.first {
				t.Errorf("got the first request at %v, want %v", due[0], tt.first)
			}
			for k, got := range due {
				want, ok := tt.s.Due(int64(k))
				if !ok || (got-want).Abs() > time.Microsecond {
					t.Fatalf("got request %d at %v, want %v (%v)", k, got, want, ok)
				}
			}
		})
	}
}

// TestPacerRamp checks that the requests a ramp offers stay within 0.5%
// of the exact integral of its rate, over the whole ramp and any part of
// it from the start.
func TestPacerRamp(t *testing.T) {
	for _, s := range []Schedule{
		Ramp(100, 2000, 10*time.Second), Ramp(0, 1000, 2*time.Second), Ramp(2000, 10, 3*time.Second),
		Ramp(1, 50, 5*time.Second), Ramp(0, 1e6, 100*time.Millisecond),
	} {
		t.Run(s.String(), func(t *testing.T) {
			due, ended := dueTimes(s, 1e7)
			if !ended {
				t.Fatal("got no end, want the ramp to end")
			}
			if last := due[len(due)-1]; last >= s.Length() {
				t.Errorf("got the last request at %v, want it before the end at %v", last, s.Length())
			}
			for i := 1; i <= 20; i++ {
				at := s.Length() * time.Duration(i) / 20
				got, want := countBefore(due, at), s.Count(at)
				if math.Abs(float64(got-want)) > max(0.005*float64(want), 1) {
					t.Errorf("got %d requests before %v, want %d within 0.5%%", got, at, want)
				}
			}
			if got, want := int64(len(due)), s.Count(s.Length()); math.Abs(float64(got-want)) > 0.005*float64(want) {
				t.Errorf("got %d requests over the ramp, want %d within 0.5%%", got, want)
			}
		})
	}
}

// TestPacerShardsPartition checks that n shards' pacers emit exactly the
// whole schedule's due times: shard i's k-th is the whole's (k·n+i-1)-th,
// so their union is the whole sequence and no time is in two shards.
func TestPacerShardsPartition(t *testing.T) {
	for _, s := range []Schedule{
		Constant(20000), Ramp(100, 5000, 2*time.Second),
		Steps(Step{300, time.Second}, Step{0, 250 * time.Millisecond}, Step{1200, time.Second}),
	} {
		whole, _ := dueTimes(s, 30000)
		for _, n := range []int{1, 2, 3, 16} {
			t.Run(fmt.Sprintf("%s/%d", s, n), func(t *testing.T) {
				total := 0
				for i := 1; i <= n; i++ {
					got, _ := dueTimes(s.Shard(Shard{i, n}), (len(whole)-i)/n+1)
					for k, d := range got {
						w := k*n + i - 1
						if w >= len(whole) {
							t.Fatalf("shard %d/%d: got request %d at %v, past the whole schedule's %d", i, n, k, d, len(whole))
						}
						if d != whole[w] {
							t.Fatalf("shard %d/%d: got request %d at %v, want the whole's request %d at %v", i, n, k, d, w, whole[w])
						}
					}
					total += len(got)
				}
				if total != len(whole) {
					t.Errorf("got %d requests from %d shards, want the whole's %d", total, n, len(whole))
				}
			})
		}
	}
}

func TestPacerEnd(t *testing.T) {
	pc := newPacer(Ramp(100, 300, time.Second)) // 200 requests
	n := 0
	for ; n < 1000; n++ {
		if _, ok := pc.next(); !ok {
			break
		}
	}
	if n != 200 {
		t.Errorf("got %d requests, want 200", n)
	}
	for range 3 {
		if off, ok := pc.next(); ok {
			t.Fatalf("got a request at %v after the end, want none", off)
		}
	}
	un := newPacer(Unbounded())
	for range 3 {
		if off, ok := un.next(); !ok || off != 0 {
			t.Fatalf("unbounded: got %v, %v; want every request due at 0", off, ok)
		}
	}
}

// TestRequestsEnd checks where a request bound ends a run: at the due
// time of the request after the bound, warm-up not counted.
func TestRequestsEnd(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name       string
		s          Schedule
		warm, end  time.Duration
		n          int64
		want       time.Duration
		wantLimits bool
	}{
		{name: "constant", s: Constant(1000), n: 500, want: 500 * ms, wantLimits: true},
		{name: "after warm-up", s: Constant(1000), warm: 100 * ms, n: 500, want: 600 * ms, wantLimits: true},
		{name: "end first", s: Constant(1000), end: 400 * ms, n: 500},
		{name: "schedule first", s: Steps(Step{1000, ms * 300}), n: 500},
		{name: "across a pause", s: Steps(Step{10, time.Second}, Step{0, time.Second}, Step{10, time.Second}), n: 15, want: 2500 * ms, wantLimits: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := requestsEnd(tt.s, tt.warm, tt.n, tt.end)
			if ok != tt.wantLimits || (ok && (got-tt.want).Abs() > time.Microsecond) {
				t.Errorf("got %v, %v; want %v, %v", got, ok, tt.want, tt.wantLimits)
			}
		})
	}
}

// BenchmarkPacer measures the cost of one due time; with shards, of one
// due time emitted (which walks all n of the whole schedule's) and, as
// ns/step, of each due time walked.
func BenchmarkPacer(b *testing.B) {
	long := 1000 * time.Hour
	for _, bc := range []struct {
		name   string
		s      Schedule
		shards int
	}{
		{name: "constant", s: Constant(20000)},
		{name: "steps", s: Steps(Step{5000, time.Millisecond}, Step{0, time.Millisecond}, Step{20000, long})},
		{name: "ramp", s: Ramp(100, 1e6, long)},
		{name: "constant/16 shards", s: Constant(20000), shards: 16},
		{name: "ramp/16 shards", s: Ramp(100, 1e6, long), shards: 16},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := bc.s
			if bc.shards > 0 {
				s = s.Shard(Shard{bc.shards / 2, bc.shards})
			}
			pc := newPacer(s)
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := pc.next(); !ok {
					b.Fatal("the schedule ended")
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(max(bc.shards, 1)), "ns/step")
		})
	}
}
