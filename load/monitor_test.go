package load

import (
	"net"
	"sync"
	"testing"
	"time"
)

// TestMeasurementsAddUpRuns watches two runs with one Monitor and reads
// its Measurements in the middle of each (from the server, while it
// answers) and after each: the counts and histograms of the runs that
// ended stay in, the running one's state shows only while it runs.
func TestMeasurementsAddUpRuns(t *testing.T) {
	t.Parallel()
	var mon Monitor
	if m := mon.Measurements(); len(m.ByKind.Valid) != 0 || m.Response.TotalCount() != 0 || m.Open != 0 || m.Requested != 0 {
		t.Errorf("before any run: got %+v, want nothing", m)
	}
	var (
		mu      sync.Mutex
		cvrs    int
		midway  []Measurements // taken at the 20th CVR of each run
		release = 20
	)
	addr := startServer(t, scripted(func(c net.Conn, trid, _ string) {
		mu.Lock()
		if cvrs++; cvrs == release {
			midway = append(midway, mon.Measurements())
		}
		mu.Unlock()
		c.Write([]byte("CVR " + trid + " 1 1 1\r\n"))
	}))

	first := run(t, Config{Target: addr, Schedule: Constant(2000), Requests: 100, Conns: 4, MaxConns: 4, Monitor: &mon})
	after := mon.Measurements()
	if after.ByKind.Valid[OutcomeOK] != 100 || after.Response.TotalCount() != 100 || after.Service.TotalCount() != 100 {
		t.Errorf("after the first run: got ok %d, response %d, service %d; want 100 of each",
			after.ByKind.Valid[OutcomeOK], after.Response.TotalCount(), after.Service.TotalCount())
	}
	if got := Summarize(after.Response); got != first.Latency {
		t.Errorf("after the first run: got response times %+v, want the result's %+v", got, first.Latency)
	}
	if got := Summarize(after.SendLag); got != first.SendLag || after.SendLag.TotalCount() != 100 {
		t.Errorf("after the first run: got send lags %+v of %d, want the result's %+v of 100", got, after.SendLag.TotalCount(), first.SendLag)
	}
	if after.Open != 0 || after.Requested != 0 || after.Achieved != 0 || after.Late != first.Late {
		t.Errorf("after the first run: got %+v, want nothing open, no rate, %d late", after, first.Late)
	}

	mu.Lock()
	cvrs, release = 0, 10
	mu.Unlock()
	// one connection for replies taking a while: most requests are late
	slow := startServer(t, scripted(func(c net.Conn, trid, _ string) {
		mu.Lock()
		if cvrs++; cvrs == release {
			midway = append(midway, mon.Measurements())
		}
		mu.Unlock()
		time.Sleep(5 * time.Millisecond)
		c.Write([]byte("CVR " + trid + " 1 1 1\r\n"))
	}))
	second := run(t, Config{Target: slow, Schedule: Constant(1000), Requests: 20, Conns: 1, MaxConns: 1, Monitor: &mon})
	after = mon.Measurements()
	if after.ByKind.Valid[OutcomeOK] != 120 || after.Response.TotalCount() != 120 || after.SendLag.TotalCount() != 120 || after.Late != first.Late+second.Late || second.Late == 0 {
		t.Errorf("after the second run: got ok %d, response %d, late %d; want 120, 120, %d+%d (not 0)",
			after.ByKind.Valid[OutcomeOK], after.Response.TotalCount(), after.Late, first.Late, second.Late)
	}

	if len(midway) != 2 {
		t.Fatalf("got %d measurements midway, want 2", len(midway))
	}
	for i, want := range []struct {
		open             int64
		rate             float64
		minDone, maxDone int64
	}{{4, 2000, 0, 19}, {1, 1000, 100, 109}} {
		m := midway[i]
		if done := m.ByKind.Valid[OutcomeOK]; m.Open != want.open || m.Requested != want.rate || done < want.minDone || done > want.maxDone {
			t.Errorf("run %d midway: got %d open, requested %v, %d done; want %d, %v, %d to %d",
				i+1, m.Open, m.Requested, done, want.open, want.rate, want.minDone, want.maxDone)
		}
	}
}
