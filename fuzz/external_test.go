package fuzz

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cvrswarm/cvrswarm/msnp"
)

// TestExternalTargetThatDies fuzzes a server cvrswarm did not start and
// that stops accepting on a CVR holding '%': the crash is recorded, not
// shrunk (the target cannot be restarted), and the run stops when the
// target does not come back.
func TestExternalTargetThatDies(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
		once  sync.Once
	)
	die := func() {
		once.Do(func() {
			ln.Close()
			mu.Lock()
			for _, c := range conns {
				c.Close()
			}
			mu.Unlock()
		})
	}
	defer func() { die(); wg.Wait() }()
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
			wg.Go(func() {
				defer conn.Close()
				rd := msnp.NewReader(conn, 0)
				for {
					line, err := rd.ReadLine()
					if err != nil {
						return
					}
					trid, _ := msnp.PeekTrID(line)
					switch {
					case msnp.Verb(line) == "VER":
						fmt.Fprintf(conn, "VER %d MSNP8\r\n", trid)
					case strings.Contains(string(line), "%"):
						die()
						return
					default:
						fmt.Fprintf(conn, "CVR %d 1.0 1.0 1.0 http://example.com/a http://example.com\r\n", trid)
					}
				}
			})
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := Run(ctx, Config{Oracle: Oracle{Target: msnp.TCPTarget(ln.Addr().String()), Timeout: 200 * time.Millisecond},
		Seed: 2, RecoverWait: 300 * time.Millisecond})
	if err == nil || errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "did not come back") {
		t.Fatalf("Run error %v, want the target not coming back", err)
	}
	f := findingOf(res, KindCrash)
	if f == nil || f.Signature != "crash: the target stops accepting" || f.Reproduced || f.MinimizeRuns != 0 {
		t.Fatalf("findings %+v: want one unreproduced, unshrunk crash", res.Findings)
	}
	if !strings.Contains(res.Stopped, "did not come back") {
		t.Errorf("stopped %q, want the reason", res.Stopped)
	}
}
