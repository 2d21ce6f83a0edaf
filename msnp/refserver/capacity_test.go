package refserver_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cvrswarm/cvrswarm/msnp/refserver"
)

// TestServiceTimeCapacity checks that a server with ServiceTime and
// Workers serves Workers/ServiceTime requests per second: the time to
// answer every request of several connections is the number of requests
// divided by the workers, times the service time, on a fake clock.
func TestServiceTimeCapacity(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		serviceTime time.Duration
		workers     int
		conns, reqs int // connections, pipelined CVRs on each
		want        time.Duration
	}{
		{name: "one worker serialises", serviceTime: 2 * time.Millisecond, workers: 1, conns: 4, reqs: 5, want: 40 * time.Millisecond},
		{name: "workers 0 means 1", serviceTime: 2 * time.Millisecond, workers: 0, conns: 2, reqs: 5, want: 20 * time.Millisecond},
		{name: "8 workers, 4000/s", serviceTime: 2 * time.Millisecond, workers: 8, conns: 16, reqs: 10, want: 40 * time.Millisecond},
		{name: "idle workers do not speed up one connection", serviceTime: 2 * time.Millisecond, workers: 8, conns: 1, reqs: 10, want: 20 * time.Millisecond},
		{name: "more workers than connections", serviceTime: 10 * time.Millisecond, workers: 8, conns: 4, reqs: 3, want: 30 * time.Millisecond},
		{name: "no service time", serviceTime: 0, workers: 8, conns: 4, reqs: 3, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				srv := refserver.New(refserver.Config{ServiceTime: tt.serviceTime, Workers: tt.workers})
				defer srv.Close()
				start := time.Now()
				var wg sync.WaitGroup
				for i := range tt.conns {
					wg.Go(func() {
						if err := pipelined(srv, tt.reqs); err != nil {
							t.Errorf("connection %d: %v", i, err)
						}
					})
				}
				wg.Wait()
				if got := time.Since(start); got != tt.want {
					t.Errorf("%d requests on %d connections took %v, want %v", tt.conns*tt.reqs, tt.conns, got, tt.want)
				}
			})
		})
	}
}

// pipelined serves one connection that sends VER and n CVRs at once, and
// reads every reply.
func pipelined(srv *refserver.Server, n int) error {
	cli, sc := net.Pipe()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cli.Close()
	wg.Go(func() { srv.ServeConn(context.Background(), sc) })
	send, want := pipelinedCVRs(n)
	wg.Go(func() { cli.Write([]byte(send)) })
	got := make([]byte, len(want))
	if _, err := io.ReadFull(cli, got); err != nil {
		return err
	}
	if string(got) != want {
		return fmt.Errorf("replies %q, want %q", got, want)
	}
	return nil
}

// TestServiceTimeStopsAtClose checks that a request waiting for a worker
// does not hold up Close.
func TestServiceTimeStopsAtClose(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		srv := refserver.New(refserver.Config{ServiceTime: time.Hour, Workers: 1})
		start := time.Now()
		var wg sync.WaitGroup
		for range 3 {
			wg.Go(func() { pipelined(srv, 1) })
		}
		synctest.Wait() // one holds the worker for an hour, two queue
		srv.Close()
		wg.Wait()
		if got := time.Since(start); got != 0 {
			t.Errorf("Close took %v of fake time, want 0", got)
		}
	})
}
