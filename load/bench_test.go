package load

import (
	"bufio"
	"context"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cvrswarm/cvrswarm/msnp/msnptest"
)

const benchLine = "CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 8.5.1302 BC01 example@hotmail.com\r\n"

// bareLoop is the baseline: conns connections, each run by one goroutine
// that writes all its outstanding requests (up to depth), then reads
// replies and flushes the requests they free only when the reader holds
// no more replies, until n requests are done; nothing is parsed or
// recorded. It returns requests per second.
func bareLoop(tb testing.TB, addr string, conns, depth int, n int64) float64 {
	cs := make([]net.Conn, conns)
	for i := range cs {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			tb.Fatal(err)
		}
		defer c.Close()
		cs[i] = c
	}
	var left sync.WaitGroup
	per := n / int64(conns)
	start := time.Now()
	for _, c := range cs {
		left.Go(func() {
			rd := bufio.NewReader(c)
			var out []byte
			sent, done := int64(0), int64(0)
			for done < per {
				for sent < per && sent-done < int64(depth) {
					out = append(out, benchLine...)
					sent++
				}
				if len(out) > 0 && rd.Buffered() == 0 {
					if _, err := c.Write(out); err != nil {
						return
					}
					out = out[:0]
				}
				if _, err := rd.ReadSlice('\n'); err != nil {
					return
				}
				done++
			}
		})
	}
	left.Wait()
	return float64(per*int64(conns)) / time.Since(start).Seconds()
}

// engineLoop runs n requests through Run at an unbounded rate.
func engineLoop(tb testing.TB, addr string, conns, depth int, n int64) float64 {
	r, err := Run(context.Background(), Config{Target: addr, Schedule: Unbounded(), Requests: n, Conns: conns, Depth: depth})
	if err != nil {
		tb.Fatal(err)
	}
	if r.Outcomes[OutcomeOK] != n {
		tb.Fatalf("got outcomes %v, want %d ok", r.Outcomes, n)
	}
	return r.Rate.Achieved
}

// BenchmarkVsBareLoop compares the engine at -rate inf with a bare loop
// against the same canned server in the same run: "ratio" is the engine's
// requests per second over the loop's (the goal: >= 0.90 at depth 1,
// >= 0.80 at depth 16). Each iteration is one request of each.
func BenchmarkVsBareLoop(b *testing.B) {
	for _, bc := range []struct {
		name         string
		conns, depth int
	}{{"conns64", 64, 1}, {"conns64-depth16", 64, 16}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			srv, err := msnptest.NewCanned()
			if err != nil {
				b.Fatal(err)
			}
			defer srv.Close()
			// alternate the two in short rounds, so that noise from a shared
			// machine falls on both alike; compare the total times
			const rounds = 10
			per := max(int64(b.N)/rounds, 64*int64(bc.depth)*4)
			var bareTime, engineTime float64 // seconds for per requests, summed
			for range rounds {
				bareTime += float64(per) / bareLoop(b, srv.Addr(), bc.conns, bc.depth, per)
				engineTime += float64(per) / engineLoop(b, srv.Addr(), bc.conns, bc.depth, per)
			}
			bare, engine := float64(rounds*per)/bareTime, float64(rounds*per)/engineTime
			b.ReportMetric(bare, "bare-req/s")
			b.ReportMetric(engine, "engine-req/s")
			b.ReportMetric(engine/bare, "ratio")
		})
	}
}

// BenchmarkClassifyReply is the judging of one reply on the hot path.
func BenchmarkClassifyReply(b *testing.B) {
	line := []byte("CVR 2 8.5.1302 8.5.1302 8.1.0178 http://example.com/setup.exe http://example.com")
	b.ReportAllocs()
	for b.Loop() {
		if oc := classifyReply(line, 2, true); oc != OutcomeOK {
			b.Fatal(oc)
		}
	}
}

// BenchmarkClassifyIO is the naming of a failed read or write: a request
// that times out, finds the connection closed, or reset.
func BenchmarkClassifyIO(b *testing.B) {
	errs := []error{
		&net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded},
		io.EOF,
		&net.OpError{Op: "write", Net: "tcp", Err: os.NewSyscallError("write", syscall.ECONNRESET)},
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if oc := classifyIO(errs[i%len(errs)], false); oc == OutcomeIOError {
			b.Fatal(oc)
		}
	}
}
