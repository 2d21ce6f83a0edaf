package load

import (
	"bytes"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/cvrswarm/cvrswarm/msnp"
)

// TestLanePacersSplitTheShard checks that the lanes of a shard emit its
// requests between them, each once, at the shard's times.
func TestLanePacersSplitTheShard(t *testing.T) {
	for _, tc := range []struct {
		s     Schedule
		shard Shard
		lanes int
	}{
		{s: Constant(20000), shard: Shard{1, 1}, lanes: 2},
		{s: Ramp(100, 5000, 2*time.Second), shard: Shard{2, 3}, lanes: 2},
		{s: Steps(Step{300, time.Second}, Step{0, 250 * time.Millisecond}, Step{1200, time.Second}), shard: Shard{1, 2}, lanes: 3},
	} {
		t.Run(fmt.Sprintf("%s/shard %s/%d lanes", tc.s, tc.shard, tc.lanes), func(t *testing.T) {
			shard, _ := dueTimes(tc.s.Shard(tc.shard), 20000)
			total := 0
			for j := range tc.lanes {
				pc := newLanePacer(tc.s.Shard(tc.shard), j, tc.lanes)
				for k := 0; ; k++ {
					off, ok := pc.next()
					if !ok || k*tc.lanes+j >= len(shard) {
						break
					}
					if want := shard[k*tc.lanes+j]; off != want {
						t.Fatalf("lane %d: got request %d at %v, want the shard's request %d at %v", j, k, off, k*tc.lanes+j, want)
					}
					total++
				}
			}
			if total != len(shard) {
				t.Errorf("got %d requests from %d lanes, want the shard's %d", total, tc.lanes, len(shard))
			}
		})
	}
}

// TestWaker checks that a sleep never ends before its time, and that a
// poke ends a sleep with no time, whether it comes before or during it.
func TestWaker(t *testing.T) {
	w := newWaker()
	defer w.close()
	at := time.Now().Add(20 * time.Millisecond)
	w.sleepUntil(at)
	if now := time.Now(); now.Before(at) {
		t.Errorf("woke %v before the time", at.Sub(now))
	}
	w.poke() // before: the next sleep returns at once
	w.sleepUntil(time.Time{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.sleepUntil(time.Time{})
	}()
	time.Sleep(10 * time.Millisecond) // let it sleep, most likely
	w.poke()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a poke did not end the sleep")
	}
}

// writeCounter is a connection that keeps each write apart.
type writeCounter struct {
	net.Conn
	mu     sync.Mutex
	writes [][]byte
}

func (c *writeCounter) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes = append(c.writes, bytes.Clone(b))
	return len(b), nil
}

func (c *writeCounter) SetReadDeadline(time.Time) error  { return nil }
func (c *writeCounter) SetWriteDeadline(time.Time) error { return nil }
func (c *writeCounter) SetDeadline(time.Time) error      { return nil }
func (c *writeCounter) Close() error                     { return nil }

// queueOf returns a lane queue holding n requests due now.
func queueOf(n int) *lane {
	l := &lane{}
	for range n {
		l.queue.push(ticket{due: time.Now()})
	}
	return l
}

// TestSendWritesOnce checks that the requests due together on one
// connection go out in one write, up to its room in flight.
func TestSendWritesOnce(t *testing.T) {
	p, err := newPlan(Config{Target: "127.0.0.1:1", Schedule: Constant(100), Depth: 4})
	if err != nil {
		t.Fatal(err)
	}
	e := &engine{plan: p, ctx: t.Context(), rec: newRecorder(1)}
	wc := &writeCounter{}
	c := &conn{e: e, sh: e.rec.shards[0], nc: wc, trids: trids{next: 1, step: 1},
		lines: p.book[msnp.Dialects()[0]], flight: make([]inflight, 4)}
	l := queueOf(6)
	var s sender
	if n := c.send(l, &s); n != 4 {
		t.Errorf("got %d sent, want the 4 of the depth", n)
	}
	if len(wc.writes) != 1 || bytes.Count(wc.writes[0], []byte("\r\n")) != 4 {
		t.Fatalf("got writes %q, want one of 4 lines", wc.writes)
	}
	if n := c.send(l, &s); n != 0 || l.queue.len() != 2 {
		t.Errorf("got %d more sent with no room, %d left; want none sent, 2 left", n, l.queue.len())
	}
	for i := range 4 {
		line := wc.writes[0][:bytes.IndexByte(wc.writes[0], '\n')+1]
		wc.writes[0] = wc.writes[0][len(line):]
		trid, _ := msnp.PeekTrID(line)
		if want := uint32(i + 1); trid != want {
			t.Errorf("line %d: got TrID %d, want %d", i, trid, want)
		}
	}
}

// TestDeadlineFollowsTheOldestRequest checks that a reply is awaited for
// the timeout from its own request's send, not from an older one's: the
// read deadline set for the first request passes while the second, sent
// later, still has time.
func TestDeadlineFollowsTheOldestRequest(t *testing.T) {
	t.Parallel()
	addr := startServer(t, scripted(func(c net.Conn, trid, _ string) {
		time.Sleep(500 * time.Millisecond)
		c.Write([]byte("CVR " + trid + " 1 1 1\r\n"))
	}))
	// sent at 0, 500ms, 1s; answered 500ms later each, 400ms inside its own
	// deadline, so a busy machine does not time them out; the deadline of
	// the first (900ms) passes while the second waits for its reply (1s)
	r := run(t, Config{Target: addr, Schedule: Constant(2), Requests: 3, Conns: 1, MaxConns: 1, Timeout: 900 * time.Millisecond})
	if r.Outcomes[OutcomeOK] != 3 {
		t.Errorf("got outcomes %v, want 3 ok", r.Outcomes)
	}
}

// TestSendLag checks that every request sent has its send lag, from its
// due time to its send: long when it waited in the queue for the only
// connection, and in the result's histogram.
func TestSendLag(t *testing.T) {
	t.Parallel()
	addr := startServer(t, scripted(func(c net.Conn, trid, _ string) {
		time.Sleep(20 * time.Millisecond)
		c.Write([]byte("CVR " + trid + " 1 1 1\r\n"))
	}))
	r := run(t, Config{Target: addr, Schedule: Constant(200), Requests: 20, Conns: 1, MaxConns: 1})
	if r.SendLag.Count != 20 || r.SendLag.Max < 50_000 {
		t.Errorf("got send lag %+v, want 20 requests, the last waiting 50ms or more (20ms a reply, one due every 5ms)", r.SendLag)
	}
	h, err := DecodeHistogram(r.Histograms.SendLag)
	if err != nil || h.TotalCount() != 20 {
		t.Errorf("got send lag histogram of %d (%v), want 20", h.TotalCount(), err)
	}
}

// TestBatchWindow checks that the requests due within the batch window
// of a wake-up wait for the next one: at 1,000/s with a 40ms window the
// sender wakes every 40ms or so, and a request waits half of that on
// average (the window is in the send lag and the settings); with the
// default window each request gets a wake-up of its own.
func TestBatchWindow(t *testing.T) {
	t.Parallel()
	addr := startServer(t, scripted(func(c net.Conn, trid, _ string) {
		c.Write([]byte("CVR " + trid + " 1 1 1\r\n"))
	}))
	batched := run(t, Config{Target: addr, Schedule: Constant(1000), Requests: 400, BatchWindow: 40 * time.Millisecond})
	if batched.Outcomes[OutcomeOK] != 400 {
		t.Fatalf("got outcomes %v, want 400 ok", batched.Outcomes)
	}
	if lag := batched.SendLag; lag.P50 < 10_000 || lag.Max < 30_000 {
		t.Errorf("got send lag %+v µs with a 40ms window, want a p50 of 10ms or more and a max of 30ms or more", lag)
	}
	if got := batched.Settings.BatchWindow; got != "40ms" {
		t.Errorf("got settings.batch_window %q, want 40ms", got)
	}
	single := run(t, Config{Target: addr, Schedule: Constant(1000), Requests: 400})
	if lag := single.SendLag; lag.P50 >= 10_000 {
		t.Errorf("got send lag %+v µs with the default window, want a p50 under 10ms", lag)
	}
	if got := single.Settings.BatchWindow; got != DefaultBatchWindow.String() {
		t.Errorf("got settings.batch_window %q, want %s", got, DefaultBatchWindow)
	}
}

// TestSameAsLast checks the shortcut that judges a reply like the last
// well-formed one: whenever it applies, ScanReply says the same.
func TestSameAsLast(t *testing.T) {
	var c conn
	base := []byte("CVR 2 8.5.1302 8.5.1302 8.1.0178 http://example.com/setup.exe http://example.com")
	h := msnp.ScanReply(base)
	c.remember(base, &h)
	for _, tt := range []struct {
		line string
		fast bool
	}{
		{"CVR 77 8.5.1302 8.5.1302 8.1.0178 http://example.com/setup.exe http://example.com", true},
		{"CVR 4294967295 8.5.1302 8.5.1302 8.1.0178 http://example.com/setup.exe http://example.com", true},
		{"CVR 4294967296 8.5.1302 8.5.1302 8.1.0178 http://example.com/setup.exe http://example.com", false},
		{"CVR  7 8.5.1302 8.5.1302 8.1.0178 http://example.com/setup.exe http://example.com", false},
		{"CVR x 8.5.1302 8.5.1302 8.1.0178 http://example.com/setup.exe http://example.com", false},
		{"CVQ 7 8.5.1302 8.5.1302 8.1.0178 http://example.com/setup.exe http://example.com", false},
		{"CVR 7 8.5.1302 8.5.1302 8.1.0178 http://example.com/setup.exe http://example.co", false},
		{"CVR 7 8.5.1302 8.5.1302 8.1.0178 http://example.com/setup.exe http://example.com ", false},
		{"CVR 7", false},
		{"420 7", false},
	} {
		trid, fast := c.sameAsLast([]byte(tt.line))
		if fast != tt.fast {
			t.Errorf("%q: got shortcut %v, want %v", tt.line, fast, tt.fast)
		}
		if h := msnp.ScanReply([]byte(tt.line)); fast && (h.Class(msnp.ReplyCVR, trid) != msnp.ClassOK || h.TrID != trid) {
			t.Errorf("%q: got TrID %d, a well-formed reply; ScanReply says %+v", tt.line, trid, h)
		}
	}
}

// TestLaneNeverWakesEarly checks that a lane aiming its timer early for a
// due time still returns no sooner than the due time.
func TestLaneNeverWakesEarly(t *testing.T) {
	l := &lane{wake: newWaker(), early: maxEarly}
	defer l.wake.close()
	for range 20 {
		at := time.Now().Add(time.Millisecond)
		l.sleepUntil(at, true)
		if now := time.Now(); now.Before(at) {
			t.Fatalf("returned %v before the due time", at.Sub(now))
		}
	}
	if l.early < 0 || l.early > maxEarly {
		t.Errorf("got an aim %v early, want 0 to %v", l.early, maxEarly)
	}
}

// TestGrowthIsMeasured checks when a lane opens one more connection for
// its waiting requests: while those being opened lack room for them, up
// to its cap, and a quarter as many again as are open at a time.
func TestGrowthIsMeasured(t *testing.T) {
	for _, tt := range []struct {
		name                          string
		open, dialing, waiting, depth int
		maxConns                      int
		want                          bool
	}{
		{name: "none waiting", open: 4, waiting: 0, depth: 1, maxConns: 100},
		{name: "one waiting", open: 4, waiting: 1, depth: 1, maxConns: 100, want: true},
		{name: "one being opened for it", open: 4, dialing: 1, waiting: 1, depth: 1, maxConns: 100},
		{name: "room for 16 coming", open: 4, dialing: 1, waiting: 16, depth: 16, maxConns: 100},
		{name: "room for 16 coming, 17 waiting", open: 4, dialing: 1, waiting: 17, depth: 16, maxConns: 100, want: true},
		{name: "at the cap", open: 99, dialing: 1, waiting: 50, depth: 1, maxConns: 100},
		{name: "two at a time when few are open", open: 4, dialing: 2, waiting: 50, depth: 1, maxConns: 100},
		{name: "a quarter of 40 at a time", open: 40, dialing: 9, waiting: 50, depth: 1, maxConns: 100, want: true},
		{name: "a quarter of 40 being opened", open: 40, dialing: 10, waiting: 50, depth: 1, maxConns: 100},
	} {
		l := &lane{open: make([]*conn, tt.open), dialing: tt.dialing, maxConns: tt.maxConns}
		for range tt.waiting {
			l.queue.push(ticket{})
		}
		if got := l.mayDial(tt.depth); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}
