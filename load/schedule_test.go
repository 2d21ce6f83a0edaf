package load

import (
	"math"
	"testing"
	"time"
)

func TestParseRate(t *testing.T) {
	tests := []struct {
		in      string
		want    float64 // per second; +Inf for unbounded
		wantErr bool
	}{
		{in: "500/s", want: 500},
		{in: "500", want: 500},
		{in: "30000/1m", want: 500},
		{in: "3/1.5s", want: 2},
		{in: "100/100ms", want: 1000},
		{in: "inf", want: math.Inf(1)},
		{in: "0.5/s", want: 0.5},
		{in: "abc", wantErr: true},
		{in: "-5/s", wantErr: true},
		{in: "0/s", wantErr: true}, // not a silent "inf"
		{in: "0", wantErr: true},
		{in: "5/0s", wantErr: true},
		{in: "5/fortnight", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			s, err := ParseRate(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("got error %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if got := s.Rate(0); got != tt.want {
				t.Errorf("got rate %v, want %v", got, tt.want)
			}
			if got := s.String(); got != tt.in {
				t.Errorf("got String %q, want %q", got, tt.in)
			}
		})
	}
}

func TestScheduleDue(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name  string
		s     Schedule
		n     int64
		want  time.Duration
		ended bool
	}{
		{name: "constant first", s: Constant(1000), n: 0, want: 0},
		{name: "constant", s: Constant(1000), n: 1500, want: 1500 * ms},
		{name: "unbounded", s: Unbounded(), n: 99, want: 0},
		{name: "ramp from 0", s: Ramp(0, 100, 10*time.Second), n: 50, want: 3162277660}, // 5t² = 50,
		// from 100/s to 300/s over 1 s: 200 requests; 100 is due at t where 100t+100t² = 100
		{name: "ramp middle", s: Ramp(100, 300, time.Second), n: 100, want: time.Duration((math.Sqrt(5) - 1) / 2 * float64(time.Second))},
		{name: "ramp end", s: Ramp(100, 300, time.Second), n: 200, ended: true},
		{name: "steps first", s: Steps(Step{1000, time.Second}, Step{2000, time.Second}), n: 999, want: 999 * ms},
		{name: "steps second", s: Steps(Step{1000, time.Second}, Step{2000, time.Second}), n: 1000, want: time.Second},
		{name: "steps later", s: Steps(Step{1000, time.Second}, Step{2000, time.Second}), n: 2000, want: 1500 * ms},
		{name: "steps pause", s: Steps(Step{10, time.Second}, Step{0, time.Second}, Step{10, time.Second}), n: 10, want: 2 * time.Second},
		{name: "steps end", s: Steps(Step{1000, time.Second}, Step{2000, time.Second}), n: 3000, ended: true},
		{name: "shard 2 of 4", s: Constant(1000).Shard(Shard{2, 4}), n: 10, want: 41 * ms},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.s.Due(tt.n)
			if ok == tt.ended {
				t.Fatalf("got ok %v, want %v", ok, !tt.ended)
			}
			if ok && (got-tt.want > time.Microsecond || tt.want-got > time.Microsecond) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// TestScheduleCountInvertsDue checks that Count(t) counts exactly the
// requests Due places before t, for every kind of schedule.
func TestScheduleCountInvertsDue(t *testing.T) {
	for _, s := range []Schedule{
		Constant(700), Ramp(50, 2000, 3*time.Second), Ramp(2000, 10, 3*time.Second),
		Steps(Step{300, time.Second}, Step{0, time.Second}, Step{1200, 2 * time.Second}),
		Constant(700).Shard(Shard{3, 7}),
	} {
		t.Run(s.String(), func(t *testing.T) {
			for n := int64(0); n < 3000; n++ {
				d, ok := s.Due(n)
				if !ok {
					return
				}
				if got := s.Count(d); got > n {
					t.Fatalf("Count(Due(%d) = %v) = %d, want at most %d", n, d, got, n)
				}
				if got := s.Count(d + time.Microsecond); got < n+1 {
					t.Fatalf("Count(Due(%d) + 1µs) = %d, want at least %d", n, got, n+1)
				}
			}
		})
	}
}

// TestShardsPartitionTheSchedule checks that n shards together are due at
// exactly the whole schedule's times.
func TestShardsPartitionTheSchedule(t *testing.T) {
	whole := Ramp(100, 900, 2*time.Second)
	const n = 3
	seen := map[time.Duration]int{}
	total := 0
	for i := 1; i <= n; i++ {
		s := whole.Shard(Shard{i, n})
		for k := int64(0); ; k++ {
			d, ok := s.Due(k)
			if !ok {
				break
			}
			seen[d]++
			total++
		}
	}
	for k := int64(0); ; k++ {
		d, ok := whole.Due(k)
		if !ok {
			if int(k) != total {
				t.Errorf("got %d requests from the shards, want %d", total, k)
			}
			break
		}
		if seen[d] == 0 {
			t.Fatalf("request %d due at %v is in no shard", k, d)
		}
		seen[d]--
	}
}

func TestParseRampAndSteps(t *testing.T) {
	tests := []struct {
		name      string
		parse     func() (Schedule, error)
		wantCount int64 // requests over the whole schedule
		wantErr   bool
	}{
		{name: "ramp", parse: func() (Schedule, error) { return ParseRamp("100/s:300/s", 2*time.Second) }, wantCount: 400},
		{name: "ramp down", parse: func() (Schedule, error) { return ParseRamp("300/s:100/s", 2*time.Second) }, wantCount: 400},
		{name: "ramp without duration", parse: func() (Schedule, error) { return ParseRamp("1/s:2/s", 0) }, wantErr: true},
		{name: "ramp to inf", parse: func() (Schedule, error) { return ParseRamp("1/s:inf", time.Second) }, wantErr: true},
		{name: "ramp one end", parse: func() (Schedule, error) { return ParseRamp("100/s", time.Second) }, wantErr: true},
		{name: "steps", parse: func() (Schedule, error) { return ParseSteps("1000/s:10s,2000/s:10s") }, wantCount: 30000},
		{name: "steps per minute", parse: func() (Schedule, error) { return ParseSteps("60/1m:2s") }, wantCount: 2},
		{name: "steps without duration", parse: func() (Schedule, error) { return ParseSteps("1000/s") }, wantErr: true},
		{name: "steps all pauses", parse: func() (Schedule, error) { return ParseSteps("0/s:1s") }, wantErr: true},
		{name: "steps bad duration", parse: func() (Schedule, error) { return ParseSteps("10/s:-1s") }, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := tt.parse()
			if (err != nil) != tt.wantErr {
				t.Fatalf("got error %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if got := s.Count(s.Length()); got != tt.wantCount {
				t.Errorf("got %d requests, want %d", got, tt.wantCount)
			}
		})
	}
}

func TestSchedulePeak(t *testing.T) {
	tests := []struct {
		name string
		s    Schedule
		want float64
	}{
		{name: "constant", s: Constant(500), want: 500},
		{name: "ramp down", s: Ramp(3000, 100, time.Minute), want: 3000},
		{name: "ramp up", s: Ramp(100, 3000, time.Minute), want: 3000},
		{name: "steps", s: Steps(Step{1000, time.Second}, Step{4000, time.Second}, Step{2000, time.Second}), want: 4000},
		{name: "a quarter of a ramp", s: Ramp(100, 3000, time.Minute).Shard(Shard{2, 4}), want: 750},
		{name: "unbounded", s: Unbounded(), want: math.Inf(1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.s.Peak(); got != tt.want {
				t.Errorf("got peak %v, want %v", got, tt.want)
			}
		})
	}
}
