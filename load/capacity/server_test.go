package capacity_test

import (
	"context"
	"net"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cvrswarm/cvrswarm/load"
	"github.com/cvrswarm/cvrswarm/load/capacity"
	"github.com/cvrswarm/cvrswarm/msnp/refserver"
)

// TestCapacityFindsServiceTimeKnee runs a real search, each step a load
// run, against a reference server of known capacity, 10 workers holding
// each CVR for 50 ms: 200 CVRs a second. The runs reach the server over
// net.Pipe inside a synctest bubble, so the clock they go by is the
// bubble's and a busy machine cannot move the knee. The search must land
// within 5% of it; the tolerance covers the achieved rate's bias on a
// short dwell (the measured window runs on to the last reply, about one
// service time).
func TestCapacityFindsServiceTimeKnee(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := refserver.New(refserver.Config{ServiceTime: 50 * time.Millisecond, Workers: 10})
		defer srv.Close()
		dial := func(context.Context, string, string) (net.Conn, error) {
			client, server := net.Pipe()
			go srv.ServeConn(context.Background(), server)
			return client, nil
		}
		const knee = 200.0
		run := capacity.StepRunnerFunc(func(ctx context.Context, s capacity.StepSpec) (*load.Result, error) {
			return load.Run(ctx, load.Config{Target: "refserver", Dial: dial, Schedule: load.Constant(s.Rate),
				Duration: s.Dwell, WarmUp: s.Warmup, Conns: 16, MaxConns: 64, Timeout: 2 * time.Second})
		})
		slo, err := load.ParseSLO("p99<150ms")
		if err != nil {
			t.Fatal(err)
		}
		res, err := capacity.Search(context.Background(), run, capacity.Config{
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
		if res.CapacityRPS < knee*0.95 || res.CapacityRPS > knee*1.05 {
			t.Errorf("got capacity %v/s, want within 5%% of %v/s", res.CapacityRPS, knee)
		}
	})
}
