package load

import (
	"context"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/cvrswarm/cvrswarm/msnp/msnptest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// startServer runs handler on a loopback server closed at the test's end.
func startServer(t testing.TB, handler func(net.Conn)) string {
	t.Helper()
	srv, err := msnptest.NewServer(handler)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv.Addr()
}

func sumOutcomes(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

func TestRunConstantRateAgainstCanned(t *testing.T) {
	addr := startServer(t, msnptest.Canned)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := Run(ctx, Config{Target: addr, Schedule: Constant(2000), Requests: 200, Conns: 4})
	if err != nil {
		t.Fatal(err)
	}
	if r.Requests != 200 || r.Outcomes[OutcomeOK] != 200 {
		t.Errorf("got %d requests, outcomes %v; want 200 ok", r.Requests, r.Outcomes)
	}
	if got := sumOutcomes(r.Outcomes); got != r.Requests {
		t.Errorf("got outcomes adding up to %d, want %d", got, r.Requests)
	}
	t.Logf("%+v", r.Rate)
	t.Logf("lat %+v svc %+v conn %+v hs %+v conns %+v", r.Latency, r.Service, r.Connect, r.Handshake, r.Connections)
}
