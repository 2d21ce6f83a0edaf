package report

import (
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/cvrswarm/cvrswarm/fuzz"
	"github.com/cvrswarm/cvrswarm/load"
	"github.com/cvrswarm/cvrswarm/load/capacity"
)

var update = flag.Bool("update", false, "rewrite testdata fixtures and golden files")

// The fixtures are built here, deterministically, and kept in testdata so
// that the tests read them as "cvrswarm report" would; -update rewrites them.
const (
	loadFixture     = "testdata/load.json"
	capacityFixture = "testdata/capacity.json"
	fuzzFixture     = "testdata/fuzz.json"
)

// latencyAt is a made-up but plausible latency distribution in µs: 0.5 to
// 2 ms for most requests, a tail to 40 ms, slower during seconds 6 and 7.
func latencyAt(sec, i, n int) int64 {
	u := (float64(i) + 0.5) / float64(n)
	us := 500 + 1500*u + 40_000*math.Pow(u, 60)
	if sec == 6 || sec == 7 {
		us *= 3
	}
	return int64(us)
}

func buildLoadFixture() *load.Result {
	start := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	r := &load.Result{
		Version: load.ResultVersion, Target: "127.0.0.1:1863", Embedded: true, Start: start, DurationS: 10,
		Rate: load.Rate{Requested: 1000}, Outcomes: load.Counts{},
		ByKind:      load.OutcomesByKind{Valid: load.Counts{}, Mutated: load.Counts{}},
		Connections: load.Connections{Opened: 64, MaxOpen: 64, SetupS: 0.016, SetupOpened: 64},
		Settings: load.Settings{Rate: "1000/s", Duration: "10s", Dialects: []string{"MSNP8", "MSNP15"},
			Mode: "persistent", Depth: 1, Conns: 64, MaxConns: 1024, Mutate: 0.02, Timeout: "5s", Seed: 1},
		SLO: []load.SLOVerdict{{Objective: "p99<20ms", Value: 12.5, Met: true}, {Objective: "errors<1%", Value: 2.1, Met: false}},
	}
	lat, svc, lag, conn, hs := load.NewHistogram(), load.NewHistogram(), load.NewHistogram(), load.NewHistogram(), load.NewHistogram()
	for c := range 64 {
		conn.RecordValue(int64(150 + 3*c))
		hs.RecordValue(int64(300 + 5*c))
	}
	for sec := range 10 {
		offered, achieved := int64(1000), int64(1000)
		if sec == 6 {
			achieved = 820
		}
		if sec == 7 {
			achieved = 1180
		}
		h := load.NewHistogram()
		out := load.Counts{}
		for i := range int(achieved) {
			name, kind := load.OutcomeOK, r.ByKind.Valid
			switch {
			case i%50 == 7:
				name, kind = load.CodeOutcome(420), r.ByKind.Mutated
			case i%400 == 9:
				name, kind = load.CodeOutcome(731), r.ByKind.Mutated
			case sec == 6 && i%100 == 3:
				name = load.OutcomeSilent
			}
			out[name]++
			kind[name]++
			r.Outcomes[name]++
			lag.RecordValue(int64(20 + i%40))
			if name == load.OutcomeSilent { // no response time
				continue
			}
			v := latencyAt(sec, i, int(achieved))
			h.RecordValue(v)
			lat.RecordValue(v)
			svc.RecordValue(v * 4 / 5)
		}
		achieved -= out[load.OutcomeSilent]
		enc, err := load.EncodeHistogram(h)
		must(err)
		r.Series = append(r.Series, load.Second{Unix: start.Unix() + int64(sec), Offered: offered, Achieved: achieved,
			Outcomes: out, Latency: load.Summarize(h), Hist: enc})
		r.Requests += achieved + out[load.OutcomeSilent]
	}
	r.Rate.Achieved = float64(r.Requests-r.Outcomes[load.OutcomeSilent]) / r.DurationS
	r.FirstErrors = map[load.Outcome]string{load.CodeOutcome(420): `CVR reply "420 8"`, load.CodeOutcome(731): `CVR reply "731 1093"`,
		load.OutcomeSilent: "read CVR reply: read tcp 127.0.0.1:50124->127.0.0.1:1863: i/o timeout"}
	r.Latency, r.Service, r.SendLag = load.Summarize(lat), load.Summarize(svc), load.Summarize(lag)
	r.Connect, r.Handshake = load.Summarize(conn), load.Summarize(hs)
	for _, e := range []struct {
		h   *hdrhistogram.Histogram
		dst *string
	}{{lat, &r.Histograms.Latency}, {svc, &r.Histograms.Service}, {lag, &r.Histograms.SendLag},
		{conn, &r.Histograms.Connect}, {hs, &r.Histograms.Handshake}} {
		s, err := load.EncodeHistogram(e.h)
		must(err)
		*e.dst = s
	}
	return r
}

// buildCapacityFixture is the search of a server whose knee is at 4000/s.
func buildCapacityFixture() *capacity.Result {
	c := &capacity.Result{
		Version: capacity.Version, Target: "127.0.0.1:1863", Start: time.Date(2024, 5, 1, 13, 0, 0, 0, time.UTC),
		DurationS: 42.3, CapacityRPS: 3875, Converged: true, Bracket: capacity.Bracket{Low: 3875, High: 4000}, Stopped: "converged",
		Settings: capacity.Settings{Start: 500, Max: 1e6, Growth: 2, Precision: 0.05, Tolerance: 0.03,
			Warmup: "1s", Dwell: "3s", MaxSteps: 25, Retries: 2, SLO: "p99<10ms,errors<0.1%"},
		Reruns: []capacity.Rerun{{Rate: 4000, Steps: []int{4, 5}, Failed: 2, Why: "confirming a failure"}},
	}
	add := func(phase string, offered, achieved float64, p50, p99, p999 int64) {
		pass := achieved >= offered*0.97 && p99 < 10_000
		s := capacity.Step{Index: len(c.Steps) + 1, Phase: phase, Offered: offered, Achieved: achieved,
			Requests: int64(achieved * 3), Latency: load.Summary{Count: int64(achieved * 3), P50: p50, P99: p99, P999: p999, Max: p999 * 2},
			Pass: pass, Outcomes: load.Counts{load.OutcomeOK: int64(achieved * 3)},
			SLO: []load.SLOVerdict{{Objective: "p99<10ms", Value: float64(p99) / 1000, Met: p99 < 10_000}, {Objective: "errors<0.1%", Met: true}}}
		if !pass {
			s.Reason = "p99<10ms breached"
		}
		c.Steps = append(c.Steps, s)
	}
	add(capacity.PhaseGrow, 500, 500, 2100, 2400, 2900)
	add(capacity.PhaseGrow, 1000, 1000, 2100, 2500, 3100)
	add(capacity.PhaseGrow, 2000, 1999.7, 2150, 2700, 3600)
	add(capacity.PhaseGrow, 4000, 3921, 2900, 48_000, 61_000)
	add(capacity.PhaseRetry, 4000, 3930, 3000, 52_000, 66_000)
	add(capacity.PhaseBisect, 3000, 3000, 2200, 3400, 4700)
	add(capacity.PhaseBisect, 3500, 3499, 2300, 4800, 6900)
	add(capacity.PhaseBisect, 3750, 3748, 2500, 7300, 9800)
	add(capacity.PhaseBisect, 3875, 3870, 2700, 9100, 14_000)
	return c
}

func buildFuzzFixture() *fuzz.Result {
	var s []fuzz.Point
	var cases int64
	var found int
	for i := range 30 {
		if i == 2 || i == 5 || i == 11 || i == 23 {
			found++
		}
		cases += 5000 + int64(300*math.Sin(float64(i)/3))
		s = append(s, fuzz.Point{T: 1714568400 + int64(i), Cases: cases, Findings: found})
	}
	// the end of the run, in the same second as the last tick
	s = append(s, fuzz.Point{T: 1714568429, Cases: cases + 1200, Findings: found})
	return &fuzz.Result{Version: fuzz.ResultVersion, Target: "127.0.0.1:1863", Seed: 1, Cases: cases + 1200, DurationS: 30.2,
		CasesPerS: float64(cases+1200) / 30.2, Findings: []fuzz.Finding{}, ByKind: map[fuzz.Kind]int{}, Stopped: "duration", Series: s}
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// writeFixtures rewrites the fixtures under -update.
func writeFixtures() {
	must(load.WriteResult(loadFixture, buildLoadFixture()))
	for path, v := range map[string]any{capacityFixture: buildCapacityFixture(), fuzzFixture: buildFuzzFixture()} {
		b, err := json.MarshalIndent(v, "", "  ")
		must(err)
		must(os.WriteFile(path, append(b, '\n'), 0o644))
	}
}

func readLoadFixture(t *testing.T) *load.Result {
	t.Helper()
	r, err := load.ReadResult(loadFixture)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func readJSON[T any](t *testing.T, path string) T {
	t.Helper()
	var v T
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return v
}

func readCapacityFixture(t *testing.T) *capacity.Result {
	c := readJSON[capacity.Result](t, capacityFixture)
	return &c
}

func readFuzzFixture(t *testing.T) *fuzz.Result {
	r, err := fuzz.ReadResult(fuzzFixture)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it); got:\n%s", name, got)
	}
}

func TestMain(m *testing.M) {
	flag.Parse()
	if *update {
		writeFixtures()
	}
	os.Exit(m.Run())
}

func TestFixturesUpToDate(t *testing.T) {
	want, err := json.MarshalIndent(buildLoadFixture(), "", "  ")
	must(err)
	got, err := os.ReadFile(loadFixture)
	must(err)
	if string(got) != string(want)+"\n" {
		t.Errorf("%s is not what buildLoadFixture builds: run go test -update", loadFixture)
	}
}
