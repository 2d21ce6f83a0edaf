package load

import (
	"bufio"
	"context"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/cvrswarm/cvrswarm/msnp"
	"github.com/cvrswarm/cvrswarm/msnp/msnptest"
)

func TestMain(m *testing.M) {
	if kind := os.Getenv(envBenchServer); kind != "" {
		os.Exit(serveForParent(kind))
	}
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

// pipeDial serves each connection of a run with handler over net.Pipe:
// a run inside a synctest bubble then goes by the bubble's clock alone.
func pipeDial(handler func(net.Conn)) func(context.Context, string, string) (net.Conn, error) {
	return func(context.Context, string, string) (net.Conn, error) {
		client, server := net.Pipe()
		go func() {
			defer server.Close()
			handler(server)
		}()
		return client, nil
	}
}

func run(t *testing.T, cfg Config) *Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := sumOutcomes(r.Outcomes); got != r.Requests {
		t.Errorf("got outcomes adding up to %d (%v), want the %d requests", got, r.Outcomes, r.Requests)
	}
	if got := sumOutcomes(r.ByKind.Valid) + sumOutcomes(r.ByKind.Mutated); got != r.Requests {
		t.Errorf("got outcomes by kind adding up to %d, want %d", got, r.Requests)
	}
	return r
}

func sumOutcomes(m Counts) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// scripted answers VER like the canned server, then hands every later
// line to reply, which writes what the test wants.
func scripted(reply func(c net.Conn, trid string, line string)) func(net.Conn) {
	return func(c net.Conn) {
		rd := msnp.NewReader(c, 0)
		for {
			line, err := rd.ReadLine()
			if err != nil {
				return
			}
			f := strings.Fields(string(line))
			if len(f) < 2 {
				continue
			}
			if f[0] == "VER" {
				c.Write([]byte("VER " + f[1] + " MSNP15\r\n"))
				continue
			}
			reply(c, f[1], string(line))
		}
	}
}

func TestRunConstantRate(t *testing.T) {
	t.Parallel()
	addr := startServer(t, msnptest.Canned)
	var mon Monitor
	r := run(t, Config{Target: addr, Schedule: Constant(2000), Requests: 200, Conns: 4, Monitor: &mon})
	if r.Requests != 200 || r.Outcomes[OutcomeOK] != 200 || r.ByKind.Valid[OutcomeOK] != 200 {
		t.Errorf("got %d requests, outcomes %v; want 200 ok", r.Requests, r.Outcomes)
	}
	if r.Rate.Requested < 1999 || r.Rate.Requested > 2001 {
		t.Errorf("got requested rate %v, want 2000", r.Rate.Requested)
	}
	if r.Latency.Count != 200 || r.Service.Count != 200 || r.Connect.Count < 4 || r.Handshake.Count < 4 {
		t.Errorf("got counts latency %d service %d connect %d handshake %d, want 200, 200, >= 4, >= 4",
			r.Latency.Count, r.Service.Count, r.Connect.Count, r.Handshake.Count)
	}
	if r.Latency.Max < r.Service.Max {
		t.Errorf("got response max %d below service max %d: response time starts earlier", r.Latency.Max, r.Service.Max)
	}
	if r.Connections.Opened < 4 || r.Connections.MaxOpen < 4 || r.Partial {
		t.Errorf("got connections %+v partial %v, want at least 4 opened, not partial", r.Connections, r.Partial)
	}
	if r.Version != ResultVersion || r.Settings.Rate != "2000/s" || r.Settings.Mode != "persistent" || len(r.Settings.Dialects) != 23 {
		t.Errorf("got version %d settings %+v", r.Version, r.Settings)
	}
	var series int64
	for _, s := range r.Series {
		series += s.Achieved
		if _, err := DecodeHistogram(s.Hist); err != nil {
			t.Errorf("second %d: %v", s.Unix, err)
		}
	}
	if series != 200 {
		t.Errorf("got %d requests in the series, want 200", series)
	}
	// The final rate is the report's, not the cut-short last second's.
	if p := mon.Progress(); p.Running || p.Sent != 200 || p.Rate != r.Rate.Achieved || p.Rate <= 0 {
		t.Errorf("got progress %+v after the run, want not running, 200 sent at the achieved %v/s", p, r.Rate.Achieved)
	}
}

func TestRunModes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		cfg        Config
		wantOpened func(int64) bool
	}{
		{name: "unbounded", cfg: Config{Schedule: Unbounded(), Requests: 3000, Conns: 8},
			wantOpened: func(n int64) bool { return n == 8 }},
		{name: "pipelined", cfg: Config{Schedule: Unbounded(), Requests: 3000, Conns: 4, Depth: 16},
			wantOpened: func(n int64) bool { return n == 4 }},
		{name: "pipelined paced", cfg: Config{Schedule: Constant(5000), Requests: 500, Conns: 2, Depth: 8},
			wantOpened: func(n int64) bool { return n >= 2 }},
		{name: "churn", cfg: Config{Schedule: Constant(3000), Requests: 300, Churn: true},
			wantOpened: func(n int64) bool { return n == 300 }},
		{name: "cvr0 only", cfg: Config{Schedule: Unbounded(), Requests: 100, Conns: 2, Dialects: []msnp.Dialect{msnp.CVR0}},
			wantOpened: func(n int64) bool { return n == 2 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var lines []string
			tt.cfg.Target = startServer(t, func(c net.Conn) {
				msnptest.Canned(&recordingConn{Conn: c, mu: &mu, lines: &lines})
			})
			r := run(t, tt.cfg)
			if r.Requests != tt.cfg.Requests || r.Outcomes[OutcomeOK] != r.Requests {
				t.Errorf("got %d requests, outcomes %v; want %d ok", r.Requests, r.Outcomes, tt.cfg.Requests)
			}
			if !tt.wantOpened(r.Connections.Opened) {
				t.Errorf("got %d connections opened", r.Connections.Opened)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, l := range lines {
				if strings.HasPrefix(l, "VER") {
					continue
				}
				want := "CVR "
				if tt.cfg.Dialects != nil {
					want = "CVQ "
				}
				if !strings.HasPrefix(l, want) {
					t.Fatalf("server got %q, want a line starting %q", l, want)
				}
				if _, err := msnp.ParseRequest([]byte(strings.TrimSuffix(l, "\r\n"))); err != nil {
					t.Fatalf("server got a request that does not parse: %v", err)
				}
			}
		})
	}
}

// recordingConn keeps every line the server reads.
type recordingConn struct {
	net.Conn
	mu    *sync.Mutex
	lines *[]string
	part  string
}

func (c *recordingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.mu.Lock()
	c.part += string(b[:n])
	for {
		i := strings.Index(c.part, "\n")
		if i < 0 {
			break
		}
		*c.lines = append(*c.lines, c.part[:i+1])
		c.part = c.part[i+1:]
	}
	c.mu.Unlock()
	return n, err
}

// TestHostileServers checks that each kind of misbehaving server becomes
// an outcome: no panic, no unbounded buffering, every request counted.
func TestHostileServers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		handler func(net.Conn)
		depth   int
		want    Outcome
	}{
		{name: "numeric error", want: CodeOutcome(420), handler: scripted(func(c net.Conn, trid, _ string) { c.Write([]byte("420 " + trid + "\r\n")) })},
		{name: "wrong TrID", want: OutcomeTrIDMismatch, handler: scripted(func(c net.Conn, _, _ string) { c.Write([]byte("CVR 99999 1 1 1\r\n")) })},
		{name: "bare LF", want: OutcomeBareLF, handler: scripted(func(c net.Conn, trid, _ string) { c.Write([]byte("CVR " + trid + " 1 1 1\n")) })},
		{name: "silent", want: OutcomeSilent, handler: scripted(func(net.Conn, string, string) {})},
		{name: "closes", want: OutcomeClosed, handler: scripted(func(c net.Conn, _, _ string) { c.Close() })},
		{name: "resets mid-line", want: OutcomeReset, handler: scripted(func(c net.Conn, trid, _ string) {
			c.Write([]byte("CVR " + trid + " 1."))
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
		})},
		{name: "endless line", want: OutcomeLineTooLong, handler: scripted(func(c net.Conn, _, _ string) {
			chunk := []byte(strings.Repeat("A", 4096))
			for range 64 { // 256 KiB without a line end
				if _, err := c.Write(chunk); err != nil {
					return
				}
			}
		})},
		{name: "huge reply", want: OutcomeLineTooLong, handler: scripted(func(c net.Conn, trid, _ string) {
			c.Write([]byte("CVR " + trid + " " + strings.Repeat("9", 100000) + " 1 1\r\n"))
		})},
		{name: "drips", want: OutcomePartial, handler: scripted(func(c net.Conn, trid, _ string) {
			for _, b := range []byte("CVR " + trid + " 1 1 1\r\n") {
				if _, err := c.Write([]byte{b}); err != nil {
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
		})},
		{name: "binary garbage", want: OutcomeMalformed, handler: scripted(func(c net.Conn, _, _ string) {
			c.Write([]byte("\x00\xff\x13\x37 \x01garbage\r\n"))
		})},
		{name: "answers VER to a CVR", want: OutcomeUnexpected, handler: scripted(func(c net.Conn, trid, _ string) { c.Write([]byte("VER " + trid + " MSNP8\r\n")) })},
		{name: "refuses every dialect", want: OutcomeVER0, handler: func(c net.Conn) {
			rd := bufio.NewReader(c)
			line, _ := rd.ReadString('\n')
			if f := strings.Fields(line); len(f) > 1 {
				c.Write([]byte("VER " + f[1] + " 0\r\n"))
			}
		}},
		{name: "never reads", want: OutcomeSilent, handler: func(c net.Conn) {
			c.Write([]byte("VER 1 MSNP15\r\n")) // a blind answer to the VER it never reads
			var b [1]byte
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			c.(*net.TCPConn).SetReadBuffer(1)
			for {
				time.Sleep(10 * time.Millisecond)
				if _, err := c.Write(nil); err != nil {
					return
				}
				_ = b
			}
		}},
		{name: "pipelined numeric error", depth: 4, want: CodeOutcome(731), handler: scripted(func(c net.Conn, trid, _ string) { c.Write([]byte("731 " + trid + "\r\n")) })},
		{name: "pipelined silent", depth: 4, want: OutcomeSilent, handler: scripted(func(net.Conn, string, string) {})},
		{name: "pipelined garbage", depth: 4, want: OutcomeMalformed, handler: scripted(func(c net.Conn, _, _ string) { c.Write([]byte("\x00\x01\x02\r\n")) })},
		{name: "pipelined endless line", depth: 4, want: OutcomeLineTooLong, handler: scripted(func(c net.Conn, _, _ string) {
			c.Write([]byte(strings.Repeat("B", 10000)))
		})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			addr := startServer(t, tt.handler)
			r := run(t, Config{Target: addr, Schedule: Constant(200), Requests: 4, Conns: 1, MaxConns: 2,
				Depth: tt.depth, Timeout: 300 * time.Millisecond})
			if r.Requests != 4 {
				t.Errorf("got %d requests, want 4", r.Requests)
			}
			if r.Outcomes[tt.want] == 0 {
				t.Errorf("got outcomes %v, want some %s", r.Outcomes, tt.want)
			}
			if r.Outcomes[OutcomeOK] != 0 {
				t.Errorf("got outcomes %v, want no ok", r.Outcomes)
			}
		})
	}
}

func TestRefusedAndUnreachable(t *testing.T) {
	t.Parallel()
	addr := msnptest.ClosedAddr(t)
	r := run(t, Config{Target: addr, Schedule: Constant(1000), Requests: 5, Conns: 2})
	if r.Outcomes[OutcomeRefused] != 5 || r.Rate.Achieved != 0 {
		t.Errorf("got outcomes %v achieved %v/s, want 5 refused and none achieved", r.Outcomes, r.Rate.Achieved)
	}
	if r.Connections.Failed != 7 || r.Connections.Failures[OutcomeRefused] != 7 {
		t.Errorf("got connections %+v, want 7 refused (2 at the start, 5 for requests)", r.Connections)
	}
}

// flipper mutates by flipping the first letter of the line to lower case.
type flipper struct{}

func (flipper) Mutate(dst, src []byte, rng *rand.Rand) []byte {
	dst = append(dst, src...)
	dst[0] |= 0x20
	return dst
}

// oneUser is a mutator that must not be used by two goroutines at once:
// it notices when it is.
type oneUser struct {
	busy sync.Mutex
}

func (m *oneUser) Mutate(dst, src []byte, rng *rand.Rand) []byte {
	if !m.busy.TryLock() {
		panic("a mutator made by NewMutator was used by two goroutines at once")
	}
	defer m.busy.Unlock()
	return flipper{}.Mutate(dst, src, rng)
}

func TestMutate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		depth int
		cfg   Config
	}{
		{depth: 1, cfg: Config{Mutator: flipper{}}},
		{depth: 8, cfg: Config{Mutator: flipper{}}},
		{depth: 1, cfg: Config{NewMutator: func() Mutator { return &oneUser{} }}},
	} {
		depth := tc.depth
		addr := startServer(t, scripted(func(c net.Conn, trid, line string) {
			if strings.HasPrefix(line, "cVR") {
				c.Write([]byte("731 " + trid + "\r\n"))
				return
			}
			c.Write([]byte("CVR " + trid + " 1 1 1\r\n"))
		}))
		cfg := tc.cfg
		cfg.Target, cfg.Schedule, cfg.Requests, cfg.Conns, cfg.Depth, cfg.Mutate, cfg.Seed = addr, Unbounded(), 1000, 2, depth, 0.2, 7
		r := run(t, cfg)
		mutated, valid := sumOutcomes(r.ByKind.Mutated), sumOutcomes(r.ByKind.Valid)
		if mutated < 120 || mutated > 280 {
			t.Errorf("depth %d: got %d mutated of 1000, want about 200", depth, mutated)
		}
		if r.ByKind.Mutated[CodeOutcome(731)] != mutated || r.ByKind.Valid[OutcomeOK] != valid {
			t.Errorf("depth %d: got by kind %+v, want mutated all 731 and valid all ok", depth, r.ByKind)
		}
		if r.Connections.Dropped < mutated {
			t.Errorf("depth %d: got %d connections dropped, want one per mutated request (%d)", depth, r.Connections.Dropped, mutated)
		}
	}
}

func TestLateWhenEveryConnectionIsBusy(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		dial := pipeDial(scripted(func(c net.Conn, trid, _ string) {
			time.Sleep(20 * time.Millisecond)
			c.Write([]byte("CVR " + trid + " 1 1 1\r\n"))
		}))
		r := run(t, Config{Target: "pipe", Dial: dial, Schedule: Constant(200), Requests: 20, Conns: 1, MaxConns: 1})
		// one connection, 20ms per reply, a request due every 5ms: each but
		// perhaps the first finds the connection busy
		if r.Late < 19 {
			t.Errorf("got %d late, want 19 or 20 of 20", r.Late)
		}
		// coordinated omission: the queueing behind the busy connection is
		// in the response time; the 20th, due at 95ms, is answered at 400ms
		if r.Latency.Max < 300_000 || r.Latency.Max > 310_000 || r.Service.P50 < 20_000 || r.Service.P50 > 20_100 {
			t.Errorf("got response max %dµs and service p50 %dµs, want response 305ms and service 20ms", r.Latency.Max, r.Service.P50)
		}
		if r.Outcomes[OutcomeOK] != 20 || r.Connections.MaxOpen != 1 {
			t.Errorf("got outcomes %v, max open %d", r.Outcomes, r.Connections.MaxOpen)
		}
	})
}

func TestUnsentWhenTheRunEnds(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		dial := pipeDial(scripted(func(c net.Conn, trid, _ string) {
			time.Sleep(150 * time.Millisecond)
			c.Write([]byte("CVR " + trid + " 1 1 1\r\n"))
		}))
		r := run(t, Config{Target: "pipe", Dial: dial, Schedule: Constant(100), Duration: 300 * time.Millisecond, Conns: 1, MaxConns: 1})
		if r.Requests != 30 {
			t.Errorf("got %d requests, want the 30 due in 300ms", r.Requests)
		}
		// one connection, 150ms a reply: the requests due at 0 and 10ms
		// are answered, at 150 and 300ms, and the rest are never sent
		if r.Outcomes[OutcomeOK] != 2 || r.Outcomes[OutcomeUnsent] != 28 {
			t.Errorf("got outcomes %v, want 2 ok and 28 unsent", r.Outcomes)
		}
		if r.Rate.Requested != 100 || r.Rate.Achieved > 10 {
			t.Errorf("got rate %+v, want 100 requested and far less achieved", r.Rate)
		}
	})
}

func TestInterrupt(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		dial := pipeDial(scripted(func(net.Conn, string, string) {})) // never answers a CVR
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(300*time.Millisecond, cancel)
		start := time.Now()
		r, err := Run(ctx, Config{Target: "pipe", Dial: dial, Schedule: Constant(100), Duration: time.Minute, Conns: 2, Timeout: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took != 300*time.Millisecond {
			t.Errorf("took %v to stop, want 300ms, when it was interrupted", took)
		}
		if !r.Partial || r.Outcomes[OutcomeInterrupted] == 0 || sumOutcomes(r.Outcomes) != r.Requests {
			t.Errorf("got partial %v outcomes %v requests %d, want partial with interrupted requests", r.Partial, r.Outcomes, r.Requests)
		}
		if r.DurationS != 0.3 {
			t.Errorf("got duration %vs, want 0.3", r.DurationS)
		}
	})
}

func TestStartAt(t *testing.T) {
	t.Parallel()
	addr := startServer(t, msnptest.Canned)
	if _, err := Run(context.Background(), Config{Target: addr, Schedule: Constant(10), StartAt: time.Now().Add(-time.Second)}); err == nil || !strings.Contains(err.Error(), "past") {
		t.Errorf("got error %v for a start in the past, want one saying so", err)
	}
	at := time.Now().Add(300 * time.Millisecond)
	r := run(t, Config{Target: addr, Schedule: Constant(1000), Requests: 10, StartAt: at})
	// The schedule, and so the measured window, counts from the start
	// time itself, however late the wait ended: shards' windows coincide.
	if !r.Start.Equal(at) {
		t.Errorf("got start %v, want exactly %v", r.Start, at)
	}

	// Interrupted while waiting: a partial result of nothing, not of a
	// request due in a sliver of a second (a rate that a merge would add).
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	at = time.Now().Add(time.Minute)
	r, err := Run(ctx, Config{Target: addr, Schedule: Constant(1000), Duration: time.Second, StartAt: at})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Partial || r.Requests != 0 || r.DurationS != 0 || r.Rate.Requested != 0 || r.Rate.Achieved != 0 || !r.Start.Equal(at) {
		t.Errorf("interrupted before the start: got partial %t, %d requests over %vs from %v, rate %+v; want partial, nothing, 0s from %v, no rate",
			r.Partial, r.Requests, r.DurationS, r.Start, r.Rate, at)
	}
}

func TestShardsShareTheRun(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var trids []uint32
	addr := startServer(t, scripted(func(c net.Conn, trid, line string) {
		id, _ := msnp.PeekTrID([]byte(line))
		mu.Lock()
		trids = append(trids, id)
		mu.Unlock()
		c.Write([]byte("CVR " + trid + " 1 1 1\r\n"))
	}))
	var total int64
	var requested float64
	for i := 1; i <= 3; i++ {
		mu.Lock()
		trids = nil
		mu.Unlock()
		r := run(t, Config{Target: addr, Schedule: Constant(3000), Requests: 100, Conns: 3, Shard: Shard{i, 3}})
		total += r.Requests
		if r.Shard != (Shard{i, 3}).String() || r.Settings.Shards != 3 || r.Settings.Conns != 3 || r.Settings.Requests != 100 {
			t.Errorf("shard %d: got shard %q settings %+v, want the whole run's settings", i, r.Shard, r.Settings)
		}
		requested += r.Rate.Requested
		mu.Lock()
		for _, id := range trids {
			if id%3 != uint32(i%3) {
				t.Errorf("shard %d sent TrID %d, outside its class %d mod 3", i, id, i%3)
				break
			}
		}
		mu.Unlock()
	}
	if total != 100 || requested < 2999 || requested > 3001 {
		t.Errorf("got %d requests at %v/s from the shards, want 100 at 3000/s", total, requested)
	}
}

func TestWarmUpIsNotMeasured(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		r := run(t, Config{Target: "pipe", Dial: pipeDial(msnptest.Canned), Schedule: Constant(500),
			WarmUp: 200 * time.Millisecond, Duration: 200 * time.Millisecond})
		if r.Requests != 100 || r.Outcomes[OutcomeOK] != 100 {
			t.Errorf("got %d requests %v, want the 100 due after the warm-up", r.Requests, r.Outcomes)
		}
		if r.DurationS != 0.2 || r.Settings.WarmUp != "200ms" {
			t.Errorf("got duration %v warm-up %q, want 0.2s measured after 200ms", r.DurationS, r.Settings.WarmUp)
		}
	})
}
