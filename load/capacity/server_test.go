package capacity_test

import (
	"context"
	"testing"
	"time"

	"github.com/cvrswarm/cvrswarm/load"
	"github.com/cvrswarm/cvrswarm/load/capacity"
	"github.com/cvrswarm/cvrswarm/msnp/refserver"
)

// TestCapacityFindsServiceTimeKnee runs a real search against a reference
// server of known capacity, 10 workers holding each CVR for 50 ms: 200
// CVRs a second. The search must land within 10% of it. The service time
// is long so that timer overshoot on a busy machine stays small beside
// it, the capacity low so that the steps are cheap, and the steps short;
// the tolerance covers the achieved rate's bias on a short dwell (the
// measured window runs on to the last reply, about one service time).
func TestCapacityFindsServiceTimeKnee(t *testing.T) {
	srv, err := refserver.Listen("127.0.0.1:0", refserver.Config{ServiceTime: 50 * time.Millisecond, Workers: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	const knee = 200.0
	run := capacity.StepRunnerFunc(func(ctx context.Context, s capacity.StepSpec) (*load.Result, error) {
		return load.Run(ctx, load.Config{Target: srv.Addr(), Schedule: load.Constant(s.Rate),
			Duration: s.Dwell, WarmUp: s.Warmup, Conns: 16, MaxConns: 64, Timeout: 2 * time.Second})
	})
	slo, err := load.ParseSLO("p99<150ms")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := capacity.Search(ctx, run, capacity.Config{
		Start: 150, Growth: 1.5, Precision: 0.05, Tolerance: 0.08, Warmup: 250 * time.Millisecond, Dwell: time.Second, MaxSteps: 12,
		SLO: func(r *load.Result) []load.SLOVerdict { return load.EvaluateSLO(slo, r) },
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range res.Steps {
		t.Logf("step %d %s offered %v achieved %.1f p99 %dµs pass %v %s", s.Index, s.Phase, s.Offered, s.Achieved, s.Latency.P99, s.Pass, s.Reason)
	}
	if !res.Converged {
		t.Fatalf("did not converge: %s", res.Stopped)
	}
	if res.CapacityRPS < knee*0.9 || res.CapacityRPS > knee*1.1 {
		t.Errorf("got capacity %v/s, want within 10%% of %v/s", res.CapacityRPS, knee)
	}
}
