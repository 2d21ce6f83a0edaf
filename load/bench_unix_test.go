//go:build unix

package load

import (
	"bufio"
	"context"
	"fmt"
	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// cpuTime returns the CPU time this process has used, user and system.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkCPUPerRequest measures what the generator costs the machine:
// a paced run of 50,000 requests a second on 64 connections, 16 in flight
// on each, against a canned server in another process, with the default
// batch window and with a 1ms one. "cpu-µs/req" is this process's user
// and system time per request (the goal: <= 8); "allocs/req" counts the
// allocations per request between a quarter and three quarters of the
// run, in the steady state; send-lag-p50-µs and send-lag-p99-µs are what
// the window costs in response time. Beside it, in the same run, a bare
// paced loop with the same window and connections, which parses and
// records nothing (bare-cpu-µs/req), and the engine's CPU over the
// loop's (ratio). Each iteration is one request of each; give -benchtime
// 250000x for runs of five seconds.
func BenchmarkCPUPerRequest(b *testing.B) {
	addr := childServer(b, "canned")
	for _, window := range []time.Duration{DefaultBatchWindow, time.Millisecond} {
		b.Run("window="+window.String(), func(b *testing.B) {
			n := int64(max(b.N, 10000))
			var mon Monitor
			cfg := Config{Target: addr, Schedule: Constant(50000), Requests: n, Conns: 64, MaxConns: 64, Depth: 16,
				BatchWindow: window, Monitor: &mon}
			steady := make(chan float64, 1)
			stop := make(chan struct{})
			go func() { steady <- steadyAllocs(&mon, n, stop) }()
			b.ResetTimer()
			cpu0 := cpuTime(b)
			r, err := Run(context.Background(), cfg)
			cpu := cpuTime(b) - cpu0
			close(stop)
			if err != nil {
				b.Fatal(err)
			}
			if r.Outcomes[OutcomeOK] != n {
				b.Fatalf("got outcomes %v, want %d ok", r.Outcomes, n)
			}
			bare := barePaced(b, addr, 50000, 64, 16, window, n)
			b.StopTimer()
			perReq := float64(cpu.Nanoseconds()) / 1e3 / float64(n)
			b.ReportMetric(perReq, "cpu-µs/req")
			b.ReportMetric(<-steady, "allocs/req")
			b.ReportMetric(r.Rate.Achieved, "req/s")
			b.ReportMetric(float64(r.Late), "late")
			b.ReportMetric(float64(r.SendLag.P50), "send-lag-p50-µs")
			b.ReportMetric(float64(r.SendLag.P99), "send-lag-p99-µs")
			b.ReportMetric(bare, "bare-cpu-µs/req")
			b.ReportMetric(perReq/bare, "ratio")
		})
	}
}

// barePaced is the anchor for the generator's CPU: n requests at rate on
// conns connections of depth in flight, sent by one goroutine that sleeps
// on a lane's waker between due times, at least window apart, and writes
// every request due on the next connection with room, in one write; a
// goroutine per connection counts the replies, parsing and recording
// nothing. It returns the CPU time per request, in microseconds.
func barePaced(tb testing.TB, addr string, rate float64, conns, depth int, window time.Duration, n int64) float64 {
	cs := make([]net.Conn, conns)
	for i := range cs {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			for _, c := range cs[:i] {
				c.Close()
			}
			tb.Fatal(err)
		}
		cs[i] = c
	}
	room := make([]atomic.Int64, conns)
	var done atomic.Int64
	var readers sync.WaitGroup
	defer func() {
		for _, c := range cs {
			c.Close()
		}
		readers.Wait()
	}()
	wake := newWaker()
	defer wake.close()
	cpu0 := cpuTime(tb)
	for i, c := range cs {
		room[i].Store(int64(depth))
		readers.Go(func() {
			rd := bufio.NewReader(c)
			for {
				if _, err := rd.ReadSlice('\n'); err != nil {
					return
				}
				room[i].Add(1)
				if done.Add(1) == n {
					wake.poke()
				}
			}
		})
	}
	var out []byte
	start := time.Now()
	deadline := start.Add(time.Duration(float64(n)/rate*float64(time.Second)) + 10*time.Second)
	sent, next := int64(0), 0
	for done.Load() < n {
		now := time.Now()
		if now.After(deadline) {
			tb.Fatalf("bare loop: %d of %d replies after %s", done.Load(), n, now.Sub(start))
		}
		due := min(int64(now.Sub(start).Seconds()*rate)+1, n)
		// the connections in turn, until all are due or a whole round of
		// them in a row has no room
		for full := 0; sent < due && full < conns; {
			i := next
			next = (next + 1) % conns
			k := min(room[i].Load(), due-sent)
			if k <= 0 {
				full++
				continue
			}
			full = 0
			out = out[:0]
			for range k {
				out = append(out, benchLine...)
			}
			room[i].Add(-k)
			if _, err := cs[i].Write(out); err != nil {
				tb.Fatal(err)
			}
			sent += k
		}
		at := now.Add(window)
		if sent == n {
			at = now.Add(time.Millisecond) // only replies are awaited: a poke ends it
		} else if dueAt := start.Add(time.Duration(float64(sent) / rate * float64(time.Second))); dueAt.After(at) {
			at = dueAt
		}
		wake.sleepUntil(at)
	}
	cpu := cpuTime(tb) - cpu0
	return float64(cpu.Nanoseconds()) / 1e3 / float64(n)
}

// steadyAllocs returns the allocations per completed request between the
// run's first quarter and its third, watching mon until stop; -1 when the
// run ended before both were seen.
func steadyAllocs(mon *Monitor, n int64, stop <-chan struct{}) float64 {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	var ms runtime.MemStats
	var from, fromAllocs int64 = -1, 0
	for {
		select {
		case <-stop:
			return -1
		case <-tick.C:
		}
		done := mon.Progress().Done
		switch {
		case from < 0 && done >= n/4:
			runtime.ReadMemStats(&ms)
			from, fromAllocs = done, int64(ms.Mallocs)
		case from >= 0 && done >= 3*n/4:
			runtime.ReadMemStats(&ms)
			return float64(int64(ms.Mallocs)-fromAllocs) / float64(done-from)
		}
	}
}

// BenchmarkSendLag measures the generator's own share of the response
// time, at 500/s and 5,000/s on 16 connections against a canned server in
// another process: how late each request is sent after its due time
// (send-lag-p50-µs, send-lag-p99-µs; the goal: <= 50 and <= 200 on an
// idle machine) and, as a check, the response p50 less the service p50
// (own-p50-µs). Each iteration is one request; each run lasts at least
// two seconds. The connections take 16 requests in flight each, so that
// a stall of the server, which shares the machine, does not leave a
// request without room: such a request waits for the server, not for the
// generator, and counts as late (late, which should be 0).
//
// Beside it, in the same run, the floor no generator on this machine can
// go under (floor-p50-µs, floor-p99-µs): a thread that spins on the clock
// for the same due times, and how late it still sees each, as a hiccup
// meter does. On a virtual machine whose processor the host takes away
// now and then, that floor's p99 is not the generator's.
func BenchmarkSendLag(b *testing.B) {
	addr := childServer(b, "canned")
	for _, rate := range []float64{500, 5000} {
		b.Run(fmt.Sprintf("rate%g", rate), func(b *testing.B) {
			n := max(int64(b.N), int64(2*rate))
			r, err := Run(context.Background(), Config{Target: addr, Schedule: Constant(rate), Requests: n, Depth: 16})
			if err != nil {
				b.Fatal(err)
			}
			if r.Outcomes[OutcomeOK] != n {
				b.Fatalf("got outcomes %v, want %d ok", r.Outcomes, n)
			}
			b.ReportMetric(float64(r.SendLag.P50), "send-lag-p50-µs")
			b.ReportMetric(float64(r.SendLag.P99), "send-lag-p99-µs")
			b.ReportMetric(float64(r.Latency.P50-r.Service.P50), "own-p50-µs")
			b.ReportMetric(float64(r.Late), "late")
			floor := spinLateness(rate, n)
			b.ReportMetric(float64(floor.ValueAtQuantile(50)), "floor-p50-µs")
			b.ReportMetric(float64(floor.ValueAtQuantile(99)), "floor-p99-µs")
			wake := wakeLateness(rate, n)
			b.ReportMetric(float64(wake.ValueAtQuantile(50)), "wake-p50-µs")
			b.ReportMetric(float64(wake.ValueAtQuantile(99)), "wake-p99-µs")
		})
	}
}

// wakeLateness sleeps on a lane's waker until each of n due times rate
// apart, and returns how late, in microseconds, it woke for each: what a
// sleeping thread is woken with, before the lane's early aim and spin.
func wakeLateness(rate float64, n int64) *hdrhistogram.Histogram {
	w := newWaker()
	defer w.close()
	h := NewHistogram()
	every := time.Duration(float64(time.Second) / rate)
	due := time.Now().Add(every)
	for range n {
		w.sleepUntil(due)
		h.RecordValue(time.Since(due).Microseconds())
		due = due.Add(every)
	}
	return h
}

// spinLateness spins on the clock until each of n due times rate apart
// and returns how late, in microseconds, it saw each: the machine's own
// stalls, with no timer, scheduler or network in the way.
func spinLateness(rate float64, n int64) *hdrhistogram.Histogram {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	h := NewHistogram()
	every := time.Duration(float64(time.Second) / rate)
	due := time.Now().Add(every)
	for range n {
		now := time.Now()
		for now.Before(due) {
			now = time.Now()
		}
		h.RecordValue(now.Sub(due).Microseconds())
		due = due.Add(every) // after a stall longer than the gap, the next is late too, as a pacer's would be
	}
	return h
}

// BenchmarkOpenConnections opens b.N connections (connect and VER) from
// 127.0.0.1 to 127.0.0.8 in turn, to a server in another process (the
// canned one, and the reference server as "cvrswarm serve" runs it), then
// runs one second at 100/s on them. It reports how fast they opened
// (conns/s; the goal: >= 20,000), how fast a bare loop opens as many
// against the same server (bare-conns/s: connect, VER, read the reply,
// nothing else) and the ratio of the two, and what each costs this process while
// open: resident memory (rss-KB/conn; the goal: <= 6), and of it the heap
// and the goroutine stacks; and what each costs the server process
// (server-rss-KB/conn). Give -benchtime 10000x for ten thousand; the
// open-file limit bounds it (ulimit -n).
func BenchmarkOpenConnections(b *testing.B) {
	for _, kind := range []string{"canned", "reference"} {
		b.Run(kind, func(b *testing.B) { benchOpenConnections(b, kind) })
	}
}

func benchOpenConnections(b *testing.B, kind string) {
	addr, pid := childServerProcess(b, kind)
	n := b.N
	var mon Monitor
	type sample struct {
		rss, serverRSS int64
		heap, stack    uint64
		opened         time.Duration
	}
	got := make(chan sample, 1)
	stop := make(chan struct{})
	runtime.GC()
	rss0, serverRSS0 := residentBytes(b, "self"), residentBytes(b, strconv.Itoa(pid))
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	heap0, stack0 := ms.HeapInuse, ms.StackInuse
	start := time.Now()
	go func() {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		var s sample
		for {
			select {
			case <-stop:
				got <- s
				return
			case <-tick.C:
			}
			if p := mon.Progress(); p.Running && s.opened == 0 {
				s.opened = time.Since(start)
			} else if s.opened > 0 && time.Since(start) > s.opened+500*time.Millisecond && s.rss == 0 {
				runtime.GC()
				s.rss, s.serverRSS = residentBytes(b, "self"), residentBytes(b, strconv.Itoa(pid))
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				s.heap, s.stack = ms.HeapInuse, ms.StackInuse
			}
		}
	}()
	sources, err := ParseSourceAddrs("127.0.0.1-127.0.0.8")
	if err != nil {
		b.Fatal(err)
	}
	r, err := Run(context.Background(), Config{Target: addr, Schedule: Constant(100), Duration: time.Second,
		Conns: n, MaxConns: n, Timeout: 30 * time.Second, Monitor: &mon, SourceAddrs: sources})
	close(stop)
	s := <-got
	if err != nil {
		b.Fatal(err)
	}
	if r.Connections.Opened != int64(n) || r.Outcomes[OutcomeOK]+r.Outcomes[OutcomeUnsent] != r.Requests {
		b.Fatalf("got %d connections opened, outcomes %v; want %d, each request ok or (on a busy machine) unsent", r.Connections.Opened, r.Outcomes, n)
	}
	if s.rss == 0 {
		b.Fatal("the run ended before its memory was read")
	}
	b.ReportMetric(float64(n)/s.opened.Seconds(), "conns/s")
	bare := bareOpen(b, addr, sources, n)
	b.ReportMetric(bare, "bare-conns/s")
	b.ReportMetric(float64(n)/s.opened.Seconds()/bare, "ratio")
	b.ReportMetric(float64(s.rss-rss0)/1024/float64(n), "rss-KB/conn")
	b.ReportMetric(float64(int64(s.heap)-int64(heap0))/1024/float64(n), "heap-KB/conn")
	b.ReportMetric(float64(int64(s.stack)-int64(stack0))/1024/float64(n), "stack-KB/conn")
	b.ReportMetric(float64(s.serverRSS-serverRSS0)/1024/float64(n), "server-rss-KB/conn")
}

// bareOpen is the baseline of BenchmarkOpenConnections: maxDialing
// goroutines that connect from the source addresses in turn, send a VER
// and read its reply line, n connections in all, and nothing else. It
// returns the connections opened a second, and closes them.
func bareOpen(b *testing.B, addr string, sources []netip.Addr, n int) float64 {
	conns := make([]net.Conn, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range maxDialing {
		wg.Go(func() {
			buf := make([]byte, 256)
			for i := next.Add(1) - 1; i < int64(n); i = next.Add(1) - 1 {
				d := net.Dialer{KeepAlive: -1, ControlContext: bindAddressNoPort,
					LocalAddr: &net.TCPAddr{IP: sources[i%int64(len(sources))].AsSlice()}}
				c, err := d.Dial("tcp", addr)
				if err != nil {
					b.Error(err)
					return
				}
				conns[i] = c
				if _, err := c.Write([]byte("VER 1 MSNP15 CVR0\r\n")); err != nil {
					b.Error(err)
					return
				}
				if _, err := c.Read(buf); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
	if b.Failed() {
		b.FailNow()
	}
	return float64(n) / elapsed.Seconds()
}

// residentBytes returns the resident memory of the process pid ("self"
// for this one).
func residentBytes(tb testing.TB, pid string) int64 {
	b, err := os.ReadFile("/proc/" + pid + "/statm")
	if err != nil {
		tb.Skip("no /proc/" + pid + "/statm: resident memory is measured on Linux")
	}
	var size, resident int64
	if _, err := fmt.Sscan(string(b), &size, &resident); err != nil {
		tb.Fatal(err)
	}
	return resident * int64(os.Getpagesize())
}

// BenchmarkReferenceServer runs 100,000 requests a second on 64
// connections and no more, 16 in flight on each, against the reference
// server in another process, as "cvrswarm serve" runs it: "on-rate" is the achieved
// rate over the requested (the goal: >= 0.99), "p99-µs" the response time
// p99 (the goal: <= 5000). Each iteration is one request; give -benchtime
// 500000x for five seconds, -cpuprofile and -server-cpuprofile for where
// the time goes in each process.
func BenchmarkReferenceServer(b *testing.B) {
	addr := childServer(b, "reference")
	n := int64(max(b.N, 100000))
	r, err := Run(context.Background(), Config{Target: addr, Schedule: Constant(100000), Requests: n,
		Conns: 64, MaxConns: 64, Depth: 16})
	if err != nil {
		b.Fatal(err)
	}
	if r.Outcomes[OutcomeOK] != n {
		b.Fatalf("got outcomes %v, want %d ok", r.Outcomes, n)
	}
	b.ReportMetric(r.Rate.Achieved/r.Rate.Requested, "on-rate")
	b.ReportMetric(float64(r.Latency.P99), "p99-µs")
	b.ReportMetric(float64(r.Latency.P50), "p50-µs")
	b.ReportMetric(float64(r.SendLag.P99), "send-lag-p99-µs")
	b.ReportMetric(float64(r.Late), "late")
}
