package fuzz

import (
	"context"
	"testing"

	"github.com/cvrswarm/cvrswarm/msnp"
	"github.com/cvrswarm/cvrswarm/msnp/refserver"
)

// BenchmarkFuzzReference fuzzes the reference server on loopback, b.N
// cases, and reports cases per second (the goal is 5,000 or more).
func BenchmarkFuzzReference(b *testing.B) {
	srv, err := refserver.Listen("127.0.0.1:0", refserver.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	b.ReportAllocs()
	res, err := Run(context.Background(), Config{Oracle: Oracle{Target: msnp.TCPTarget(srv.Addr())}, Seed: 1, Cases: int64(b.N), SequenceShare: DefaultSequenceShare, MinimizeRuns: DefaultMinimizeRuns})
	if err != nil {
		b.Fatal(err)
	}
	if len(res.Findings) > 0 {
		b.Fatalf("findings against the reference server: %+v", res.Findings)
	}
	b.ReportMetric(res.CasesPerS, "cases/s")
}
