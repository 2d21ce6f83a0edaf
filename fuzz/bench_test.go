package fuzz

import (
	"context"
	"testing"
	"time"

	"github.com/cvrswarm/cvrswarm/msnp"
	"github.com/cvrswarm/cvrswarm/msnp/refserver"
)

// defaults is the config `cvrswarm fuzz` runs with when given no flag
// but the target and a duration.
func defaults(target msnp.Target, d time.Duration) Config {
	return Config{Oracle: Oracle{Target: target}, Seed: 1, Duration: d, SequenceShare: DefaultSequenceShare,
		MinimizeRuns: DefaultMinimizeRuns}
}

// BenchmarkFuzzReference fuzzes the reference server on loopback, b.N
// cases, and reports cases per second.
func BenchmarkFuzzReference(b *testing.B) {
	srv, err := refserver.Listen("127.0.0.1:0", refserver.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	b.ReportAllocs()
	cfg := defaults(msnp.TCPTarget(srv.Addr()), 0)
	cfg.Cases = int64(b.N)
	res, err := Run(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	if len(res.Findings) > 0 {
		b.Fatalf("findings against the reference server: %+v", res.Findings)
	}
	b.ReportMetric(res.CasesPerS, "cases/s")
}

// campaignLength is how long each run of the campaign benchmarks lasts: a
// run pays once for confirming and shrinking each new signature, as a
// campaign does.
const campaignLength = 3 * time.Second

// campaign runs the fuzzer with the command line's defaults for
// campaignLength, once per iteration, against the target start returns,
// and reports the cases and the target restarts per second of all runs.
func campaign(b *testing.B, start func() (target msnp.Target, stop func())) {
	var cases int64
	var restarts int
	var seconds float64
	for b.Loop() {
		target, stop := start()
		res, err := Run(context.Background(), defaults(target, campaignLength))
		stop()
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Findings) == 0 {
			b.Fatal("no finding")
		}
		cases, restarts, seconds = cases+res.Cases, restarts+res.Restarts, seconds+res.DurationS
	}
	b.ReportMetric(float64(cases)/seconds, "cases/s")
	b.ReportMetric(float64(restarts)/seconds, "restarts/s")
}

// BenchmarkFuzzShortLineWedge fuzzes a server that wedges on any line
// of 0 or 1 bytes, a common input (the goal: 1,000 cases/s or more).
func BenchmarkFuzzShortLineWedge(b *testing.B) {
	srv := shortLineWedge.start(b)
	campaign(b, func() (msnp.Target, func()) { return srv.Target(), func() {} })
}

// BenchmarkFuzzExecCrash fuzzes, under -exec, a Go server that panics on
// a common input, '%' in a CVR line (the goal: 10 restarts/s or more).
func BenchmarkFuzzExecCrash(b *testing.B) {
	bin := crashServer(b)
	campaign(b, func() (msnp.Target, func()) {
		x, err := StartExec(context.Background(), ExecConfig{Command: ShellQuote(bin) + " {addr}"})
		if err != nil {
			b.Fatal(err)
		}
		return x, func() { x.Close() }
	})
}
