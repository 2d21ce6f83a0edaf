package load

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// mergeStart is the wall-clock start of the runs these tests build.
var mergeStart = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// sample is one recorded request of a test run: when it completed
// (seconds after the start) and its latency in microseconds.
type sample struct {
	sec int64
	us  int64
}

// testResult builds the result a shard would write had it recorded the
// samples, all answered "ok", over durationS seconds.
func testResult(t *testing.T, shard string, shards int, samples []sample, durationS float64) *Result {
	t.Helper()
	lat, svc, conn, hs := NewHistogram(), NewHistogram(), NewHistogram(), NewHistogram()
	perSec := map[int64][]int64{}
	for _, s := range samples {
		for _, h := range []struct {
			h *hdrhistogram.Histogram
			v int64
		}{{lat, s.us}, {svc, s.us/2 + 1}, {conn, s.us/3 + 1}, {hs, s.us/4 + 1}} {
			if err := h.h.RecordValue(h.v); err != nil {
				t.Fatal(err)
			}
		}
		perSec[s.sec] = append(perSec[s.sec], s.us)
	}
	n := int64(len(samples))
	r := &Result{
		Version: ResultVersion, Target: "127.0.0.1:1863", Shard: shard,
		Start: mergeStart, DurationS: durationS, Requests: n,
		Rate:    Rate{Requested: float64(n) / durationS, Achieved: float64(n) / durationS},
		Latency: Summarize(lat), Service: Summarize(svc), Connect: Summarize(conn), Handshake: Summarize(hs),
		Outcomes:    Counts{OutcomeOK: n},
		ByKind:      OutcomesByKind{Valid: Counts{OutcomeOK: n}, Mutated: Counts{}},
		Connections: Connections{Opened: 2, MaxOpen: 2, Failures: Counts{}},
		Histograms: Histograms{Latency: mustEncode(t, lat), Service: mustEncode(t, svc), Connect: mustEncode(t, conn),
			Handshake: mustEncode(t, hs)},
		Settings: Settings{Rate: "300/s", Duration: "3s", Dialects: []string{"MSNP8", "CVR0"}, Mode: "persistent",
			Depth: 1, Conns: 4, MaxConns: 64, Timeout: "5s", Seed: 1, Shards: shards},
	}
	for sec := int64(0); sec < int64(durationS); sec++ {
		h := NewHistogram()
		for _, v := range perSec[sec] {
			if err := h.RecordValue(v); err != nil {
				t.Fatal(err)
			}
		}
		c := int64(len(perSec[sec]))
		r.Series = append(r.Series, Second{
			Unix: mergeStart.Unix() + sec, Offered: c, Achieved: c,
			Outcomes: Counts{OutcomeOK: c}, Latency: Summarize(h), Hist: mustEncode(t, h),
		})
	}
	return r
}

// randomSamples returns n samples over seconds [0, secs) with latencies
// spread over six decades, as a long-tailed server produces them.
func randomSamples(rng *rand.Rand, n int, secs int64) []sample {
	out := make([]sample, n)
	for i := range out {
		us := int64(1 + rng.ExpFloat64()*800)
		if rng.IntN(100) == 0 {
			us = 1 + rng.Int64N(int64(30*time.Second/time.Microsecond))
		}
		out[i] = sample{sec: rng.Int64N(secs), us: us}
	}
	return out
}

func TestMergeAddsUp(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	a := testResult(t, "1/3", 3, randomSamples(rng, 900, 3), 3)
	b := testResult(t, "2/3", 3, randomSamples(rng, 600, 3), 3)
	c := testResult(t, "3/3", 3, randomSamples(rng, 300, 3), 3)
	b.Start = b.Start.Add(500 * time.Millisecond)
	b.Outcomes[CodeOutcome(420)] = 7
	b.Requests += 7
	b.ByKind.Mutated[CodeOutcome(420)] = 7
	b.Late = 5
	c.Partial = true
	c.Connections = Connections{Opened: 10, MaxOpen: 3, Failed: 4, Dropped: 6, Failures: Counts{OutcomeRefused: 3, OutcomeDialTimeout: 1},
		SetupS: 0.5, SetupOpened: 3}
	a.Connections.SetupS, a.Connections.SetupOpened = 0.25, 2
	a.Connections.Failed, a.Connections.Dropped, a.Connections.Failures = 2, 1, Counts{OutcomeRefused: 2}
	c.Series[1].Offered += 4
	b.FirstErrors = map[Outcome]string{CodeOutcome(420): `CVR reply "420 9"`}
	a.FirstErrors = map[Outcome]string{CodeOutcome(420): `CVR reply "420 3"`}
	c.FirstErrors = map[Outcome]string{OutcomeRefused: "dial tcp 127.0.0.1:9: connect: connection refused"}

	m, err := Merge(c, a, b)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		got, want any
	}{
		{"requests", m.Requests, int64(1807)},
		{"late", m.Late, int64(5)},
		{"outcomes", m.Outcomes, Counts{OutcomeOK: 1800, CodeOutcome(420): 7}},
		{"first errors", m.FirstErrors, map[Outcome]string{CodeOutcome(420): `CVR reply "420 3"`, OutcomeRefused: c.FirstErrors[OutcomeRefused]}},
		{"by kind valid", m.ByKind.Valid, Counts{OutcomeOK: 1800}},
		{"by kind mutated", m.ByKind.Mutated, Counts{CodeOutcome(420): 7}},
		{"connections", m.Connections, Connections{Opened: 14, MaxOpen: 7, Failed: 6, Dropped: 7,
			Failures: Counts{OutcomeRefused: 5, OutcomeDialTimeout: 1}, SetupS: 0.5, SetupOpened: 5}},
		{"partial", m.Partial, true},
		{"start", m.Start, mergeStart},
		{"duration", m.DurationS, 3.5},
		{"requested", m.Rate.Requested, 600.0},
		{"achieved", m.Rate.Achieved, 1800 / 3.5},
		{"latency count", m.Latency.Count, int64(1800)},
		{"shard", m.Shard, ""},
		{"shards merged", shardsOf(m.Merged), []string{"1/3", "2/3", "3/3"}},
		{"partial run", m.Merged[2].Partial, true},
		{"settings", m.Settings, a.Settings},
		{"missing", m.MissingShards(), []string(nil)},
		{"seconds", len(m.Series), 3},
		{"offered in second 1", m.Series[1].Offered, a.Series[1].Offered + b.Series[1].Offered + c.Series[1].Offered},
		{"achieved in second 2", m.Series[2].Achieved, a.Series[2].Achieved + b.Series[2].Achieved + c.Series[2].Achieved},
		{"slo", m.SLO, []SLOVerdict(nil)},
	} {
		if !reflect.DeepEqual(tc.got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, tc.got, tc.want)
		}
	}
}

func shardsOf(runs []MergedRun) []string {
	var s []string
	for _, r := range runs {
		s = append(s, r.Shard)
	}
	return s
}

func TestMergeSeriesAlignsSeconds(t *testing.T) {
	t.Parallel()
	a := testResult(t, "1/2", 2, []sample{{0, 100}, {1, 200}, {1, 300}}, 2)
	b := testResult(t, "2/2", 2, []sample{{0, 1000}, {1, 2000}}, 2)
	// b started one second later: its seconds are 1 and 2 of a's clock.
	b.Start = b.Start.Add(time.Second)
	for i := range b.Series {
		b.Series[i].Unix++
	}
	m, err := Merge(a, b)
	if err != nil {
		t.Fatal(err)
	}
	t0 := mergeStart.Unix()
	want := []struct {
		unix      int64
		count     int64
		max, p50  int64
		outcomeOK int64
	}{
		{t0, 1, 100, 100, 1},
		{t0 + 1, 3, 1000, 300, 3},
		{t0 + 2, 1, 2000, 2000, 1},
	}
	if len(m.Series) != len(want) {
		t.Fatalf("got %d seconds, want %d", len(m.Series), len(want))
	}
	for i, w := range want {
		s := m.Series[i]
		h, err := DecodeHistogram(s.Hist)
		if err != nil {
			t.Fatal(err)
		}
		if s.Unix != w.unix || s.Offered != w.count || s.Achieved != w.count || s.Outcomes[OutcomeOK] != w.outcomeOK ||
			s.Latency.Count != w.count || h.TotalCount() != w.count ||
			!h.ValuesAreEquivalent(s.Latency.Max, w.max) || !h.ValuesAreEquivalent(s.Latency.P50, w.p50) {
			t.Errorf("second %d: got %+v, want %+v", i, s, w)
		}
	}
	if got, want := m.DurationS, 3.0; got != want {
		t.Errorf("duration: got %v, want %v", got, want)
	}
	// 5 requests over the union [0s, 3s).
	if got, want := m.Rate.Achieved, 5/3.0; got != want {
		t.Errorf("achieved: got %v, want %v", got, want)
	}
}

// TestMergePercentilesExact is the property merging exists for: values
// recorded by k processes and merged give exactly the percentiles of one
// process recording them all.
func TestMergePercentilesExact(t *testing.T) {
	t.Parallel()
	for trial := range 5 {
		rng := rand.New(rand.NewPCG(uint64(trial), 7))
		whole := randomSamples(rng, 200+rng.IntN(3000), 2)
		k := 1 + rng.IntN(6)
		parts := make([][]sample, k)
		for _, s := range whole {
			i := rng.IntN(k)
			parts[i] = append(parts[i], s)
		}
		results := make([]*Result, k)
		for i, p := range parts {
			results[i] = testResult(t, fmt.Sprintf("%d/%d", i+1, k), k, p, 2)
		}
		rng.Shuffle(k, func(i, j int) { results[i], results[j] = results[j], results[i] })

		got, err := Merge(results...)
		if err != nil {
			t.Fatalf("trial %d: %v", trial, err)
		}
		want := testResult(t, "", 0, whole, 2)
		for _, c := range []struct {
			name      string
			got, want Summary
		}{
			{"latency", got.Latency, want.Latency},
			{"service", got.Service, want.Service},
			{"connect", got.Connect, want.Connect},
			{"handshake", got.Handshake, want.Handshake},
		} {
			if c.got.Count != c.want.Count || c.got.P50 != c.want.P50 || c.got.P90 != c.want.P90 ||
				c.got.P99 != c.want.P99 || c.got.P999 != c.want.P999 || c.got.Max != c.want.Max ||
				!closeEnough(c.got.Mean, c.want.Mean) {
				t.Errorf("trial %d, %d shards, %s: got %+v, want %+v", trial, k, c.name, c.got, c.want)
			}
		}
		gh, _ := DecodeHistogram(got.Histograms.Latency)
		wh, _ := DecodeHistogram(want.Histograms.Latency)
		if !gh.Equals(wh) {
			t.Errorf("trial %d: merged latency histogram differs from the whole's", trial)
		}
		for i := range want.Series {
			g, w := got.Series[i].Latency, want.Series[i].Latency
			if g.Count != w.Count || g.P50 != w.P50 || g.P99 != w.P99 || g.Max != w.Max {
				t.Errorf("trial %d, second %d: got %+v, want %+v", trial, i, g, w)
			}
		}
	}
}

// closeEnough compares means, which the histogram computes in floating
// point in an order that depends on its buckets, not on the recording.
func closeEnough(a, b float64) bool {
	d := a - b
	return d < 1e-9*max(a, b, 1) && -d < 1e-9*max(a, b, 1)
}

func TestMergeOfMergedResults(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	var shards []*Result
	for i := range 4 {
		shards = append(shards, testResult(t, fmt.Sprintf("%d/4", i+1), 4, randomSamples(rng, 500, 3), 3))
	}
	ab, err := Merge(shards[0], shards[1])
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ab.MissingShards(), []string{"3/4", "4/4"}; !reflect.DeepEqual(got, want) {
		t.Errorf("missing: got %v, want %v", got, want)
	}
	stepwise, err := Merge(shards[3], ab, shards[2])
	if err != nil {
		t.Fatal(err)
	}
	atOnce, err := Merge(shards...)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(stepwise, atOnce) {
		t.Errorf("merging in steps gives %+v, at once %+v", stepwise, atOnce)
	}
	if _, err := Merge(ab, shards[1]); err == nil || !strings.Contains(err.Error(), "both hold shard 2/4") {
		t.Errorf("merging a shard again: got %v, want a duplicate-shard error", err)
	}
}

func TestMergeRefuses(t *testing.T) {
	t.Parallel()
	good := func(shard string) *Result { return testResult(t, shard, 2, []sample{{0, 10}, {1, 20}}, 2) }
	for _, tc := range []struct {
		name   string
		second func(r *Result)
		force  bool // Force lets it through
		index  int  // the MergeError's Index and With
		with   int
		want   string
	}{
		{"another target", func(r *Result) { r.Target = "10.0.0.1:1863" }, true, 1, 0,
			`target is "10.0.0.1:1863", not "127.0.0.1:1863"`},
		{"another rate", func(r *Result) { r.Settings.Rate = "600/s" }, true, 1, 0, `settings.rate is "600/s", not "300/s"`},
		{"other dialects and seed", func(r *Result) { r.Settings.Dialects = []string{"MSNP15"}; r.Settings.Seed = 9 }, true, 1, 0,
			`settings.dialects is ["MSNP15"], not ["MSNP8","CVR0"]; settings.seed is 9, not 1`},
		{"another batch window", func(r *Result) { r.Settings.BatchWindow = "1ms" }, true, 1, 0, `settings.batch_window is "1ms", not ""`},
		{"embedded and not", func(r *Result) { r.Embedded = true }, true, 1, 0, "embedded is true, not false"},
		{"the same shard", func(r *Result) { r.Shard = "1/2" }, false, 1, 0, "both hold shard 1/2"},
		{"a shard beyond the count", func(r *Result) { r.Shard = "3/2" }, false, 1, -1, `shard "3/2": want i/n with 1 <= i <= n`},
		{"a shard of another count", func(r *Result) { r.Shard = "2/3" }, false, 1, -1, "shard 2/3, but settings.shards is 2"},
		{"no shard in a sharded run", func(r *Result) { r.Shard = "" }, false, 1, -1, "a run without a shard label in a run of 2 shards"},
		{"another version", func(r *Result) { r.Version = 2 }, false, 1, -1, "result format version 2, want 1"},
		{"an unreadable histogram", func(r *Result) { r.Histograms.Service = "not base64!" }, false, 1, -1, "service histogram: decode histogram"},
		{"a histogram short of its summary", func(r *Result) { r.Connect.Count++ }, false, 1, -1,
			"connect histogram: holds 2 values but its summary counts 3"},
		{"a histogram of another geometry", func(r *Result) {
			h := hdrhistogram.New(HistogramLowest, HistogramHighest, 2)
			for range r.Latency.Count {
				_ = h.RecordValue(5)
			}
			r.Histograms.Latency = mustEncode(t, h)
		}, false, 1, -1, "latency histogram: geometry 1..3600000000, 2 digits"},
		{"a second's histogram short of its summary", func(r *Result) { r.Series[1].Latency.Count = 5 }, false, 1, -1,
			"latency histogram of second"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := good("2/2")
			tc.second(b)
			for _, force := range []bool{false, true} {
				_, err := MergeOptions{Force: force}.Merge(good("1/2"), b)
				if force && tc.force {
					if err != nil {
						t.Errorf("with Force: got %v, want a merge", err)
					}
					continue
				}
				var me *MergeError
				if !errors.As(err, &me) {
					t.Fatalf("force %t: got %v, want a *MergeError", force, err)
				}
				if me.Index != tc.index || me.With != tc.with || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("force %t: got %v (index %d, with %d), want %q (index %d, with %d)",
						force, err, me.Index, me.With, tc.want, tc.index, tc.with)
				}
				if got := errors.Is(err, ErrMismatch); got != tc.force {
					t.Errorf("force %t: errors.Is(err, ErrMismatch) = %t, want %t", force, got, tc.force)
				}
			}
		})
	}
	if _, err := Merge(); err == nil {
		t.Error("merging nothing: got no error")
	}
	if _, err := Merge(good("1/2"), nil); err == nil {
		t.Error("merging nil: got no error")
	}
}

func mustEncode(t *testing.T, h *hdrhistogram.Histogram) string {
	t.Helper()
	s, err := EncodeHistogram(h)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestMergeJudgesSLO(t *testing.T) {
	t.Parallel()
	// Each shard alone meets "rate>250" with its 100/s share only if
	// judged on the whole: the merged result is what the objective is about.
	var shards []*Result
	for i := range 3 {
		r := testResult(t, fmt.Sprintf("%d/3", i+1), 3, randomSamples(rand.New(rand.NewPCG(uint64(i), 9)), 300, 3), 3)
		r.Settings.SLO = "rate>250,p50<1s"
		r.SLO = []SLOVerdict{{Objective: "rate>250", Value: 100, Met: false}}
		shards = append(shards, r)
	}
	m, err := Merge(shards...)
	if err != nil {
		t.Fatal(err)
	}
	want := []SLOVerdict{{Objective: "rate>250", Value: 300, Met: true}, {Objective: "p50<1s", Value: float64(m.Latency.P50) / 1e6, Met: true}}
	if !reflect.DeepEqual(m.SLO, want) {
		t.Errorf("got %+v, want %+v", m.SLO, want)
	}
	for _, r := range shards {
		r.Settings.SLO = "p99~"
	}
	if _, err := Merge(shards...); err == nil || !strings.Contains(err.Error(), "settings.slo") {
		t.Errorf("an unreadable SLO: got %v, want an error naming settings.slo", err)
	}
}

func TestMergeForcedTargets(t *testing.T) {
	t.Parallel()
	a := testResult(t, "1/2", 2, []sample{{0, 10}}, 1)
	b := testResult(t, "2/2", 2, []sample{{0, 10}}, 1)
	b.Target = "10.0.0.2:1863"
	b.Settings.Seed = 2
	m, err := MergeOptions{Force: true}.Merge(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := m.Target, "127.0.0.1:1863,10.0.0.2:1863"; got != want {
		t.Errorf("target: got %q, want %q", got, want)
	}
	if got, want := m.Settings.Seed, int64(1); got != want {
		t.Errorf("seed: got %d, want the first result's %d", got, want)
	}
}

func TestUnionSpan(t *testing.T) {
	t.Parallel()
	at := func(s float64) time.Time { return mergeStart.Add(time.Duration(s * float64(time.Second))) }
	for _, tc := range []struct {
		name  string
		spans []span
		start time.Time
		secs  float64
	}{
		{"none", nil, time.Time{}, 0},
		{"one", []span{spanOf(at(0), 3)}, at(0), 3},
		{"together", []span{spanOf(at(0), 3), spanOf(at(0), 3)}, at(0), 3},
		{"staggered", []span{spanOf(at(0.5), 3), spanOf(at(0), 3)}, at(0), 3.5},
		{"nested", []span{spanOf(at(0), 10), spanOf(at(2), 3)}, at(0), 10},
		{"touching", []span{spanOf(at(0), 2), spanOf(at(2), 2)}, at(0), 4},
		{"a gap counts for nothing", []span{spanOf(at(10), 2), spanOf(at(0), 2), spanOf(at(1), 2)}, at(0), 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start, secs := unionSpan(tc.spans)
			if !start.Equal(tc.start) || secs != tc.secs {
				t.Errorf("got %v %vs, want %v %vs", start, secs, tc.start, tc.secs)
			}
		})
	}
}

func TestMissingShards(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		r    Result
		want []string
	}{
		{"no shards", Result{}, nil},
		{"one of three", Result{Shard: "2/3", Settings: Settings{Shards: 3}}, []string{"1/3", "3/3"}},
		{"merged two of three", Result{Merged: []MergedRun{{Shard: "3/3"}, {Shard: "1/3"}}, Settings: Settings{Shards: 3}}, []string{"2/3"}},
		{"the only shard", Result{Shard: "1/1", Settings: Settings{Shards: 1}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.r.MissingShards(); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// BenchmarkMerge merges four shards of a 10-second run, the per-second
// histograms included: the cost of merge is in decoding and encoding them.
func BenchmarkMerge(b *testing.B) {
	t := &testing.T{}
	rng := rand.New(rand.NewPCG(5, 6))
	var shards []*Result
	for i := range 4 {
		shards = append(shards, testResult(t, fmt.Sprintf("%d/4", i+1), 4, randomSamples(rng, 5000, 10), 10))
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Merge(shards...); err != nil {
			b.Fatal(err)
		}
	}
}

func TestMergeWarnings(t *testing.T) {
	t.Parallel()
	a, b := testResult(t, "1/3", 3, []sample{{0, 10}}, 2), testResult(t, "2/3", 3, []sample{{0, 10}}, 2)
	m, err := Merge(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := MergeWarnings(m, []*Result{a, b}, []string{"a.json", "b.json"}),
		[]string{"1 of 3 shards missing (3/3): the figures cover only the shards given"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	b.Start = a.Start.Add(time.Hour)
	if m, err = Merge(a, b); err != nil {
		t.Fatal(err)
	}
	got := MergeWarnings(m, []*Result{a, b}, nil)
	if len(got) != 2 || !strings.HasPrefix(got[0], "result 1 (from ") || !strings.Contains(got[0], "and result 2 (from ") ||
		!strings.Contains(got[0], "did not run at the same time") {
		t.Errorf("got %q, want the runs apart, by number, then the missing shard", got)
	}
}
