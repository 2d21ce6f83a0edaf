package load

import (
	"context"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cvrswarm/cvrswarm/msnp"
)

// ticket is one due request.
type ticket struct {
	due  time.Time
	warm bool // due in the warm-up: sent but not recorded
}

// engine is one run in progress.
type engine struct {
	*plan
	ctx     context.Context // the caller's: cancelled means interrupted
	rec     *recorder
	start   time.Time // when the schedule starts (the warm-up's start)
	measure time.Time // when measuring starts
	begin   chan struct{}
	// target is the Target, its name looked up (nil with a custom Dial);
	// lookupErr is why it could not be, and what every dial then fails with
	target    *msnp.ResolvedTCP
	lookupErr error

	claimed atomic.Int64 // unbounded schedule: requests taken
	stopped atomic.Bool  // unbounded schedule: no more claims

	// the goroutines of the run: an unbounded run's connection loops, the
	// ones opening a connection (or serving a churned request), and the
	// readers of the lanes' connections
	floods, dialers, readers sync.WaitGroup
	nextID                   atomic.Int64 // connections opened or being opened
	dialSlots                chan struct{}

	open, maxOpen, opened, failed, dropped atomic.Int64
	failures                               sync.Map // Outcome -> *atomic.Int64
	late                                   atomic.Int64
	setup                                  time.Duration // opening the connections before the start took this long
	setupOpened                            int64         // and opened these
	causes                                 causes
}

// maxDialing bounds the connections being opened at once before the
// start, so that a listen backlog is not flooded.
const maxDialing = 128

// Run drives the load Config describes and returns what it measured.
// Per-request failures are outcomes in the Result, never errors; Run
// fails only for a bad Config. When ctx is cancelled, the run stops,
// requests in flight are counted as interrupted and the Result is marked
// Partial.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	p, err := newPlan(cfg)
	if err != nil {
		return nil, err
	}
	e := &engine{plan: p, ctx: ctx, rec: newRecorder(max(4, 2*runtime.GOMAXPROCS(0))),
		begin: make(chan struct{}), dialSlots: make(chan struct{}, maxDialing)}
	if cfg.Monitor != nil {
		cfg.Monitor.attach(e)
	}

	// open the first connections, then wait for the start time
	e.resolveTarget()
	var lanes []*lane
	setup := time.Now()
	if p.sched.Unbounded() {
		var ready sync.WaitGroup
		ready.Add(p.conns)
		for range p.conns {
			e.floods.Go(func() { e.flood(&ready) })
		}
		ready.Wait()
	} else {
		lanes = e.newLanes()
		if !cfg.Churn {
			e.openFirst(lanes)
		}
	}
	e.setup = time.Since(setup)
	e.setupOpened = e.opened.Load()
	partial := false
	if !cfg.StartAt.IsZero() {
		t := time.NewTimer(time.Until(cfg.StartAt))
		select {
		case <-t.C:
		case <-ctx.Done():
			partial = true
		}
		t.Stop()
	}
	e.start = time.Now()
	if !cfg.StartAt.IsZero() {
		// The schedule counts from the shared start, not from this
		// process's wake-up: the shards' requests interleave as the whole
		// run's would and their spans coincide; a late wake-up is latency.
		// (Added to a monotonic reading, so that a clock step later on
		// does not move the due times.) A run interrupted before it
		// starts there too, and lasts nothing.
		e.start = e.start.Add(cfg.StartAt.Sub(e.start))
	}
	e.measure = e.start.Add(cfg.WarmUp)
	if planned := e.span(e.measure, time.Time{}, false); planned > 0 && !p.sched.Unbounded() {
		e.rec.setWindowEnd(e.measure.Add(planned))
	}
	stopHarvest := e.harvestEverySecond()
	neverStarted := partial // interrupted while waiting for StartAt
	if partial {
		e.stopped.Store(true)
	}
	close(e.begin)
	switch {
	case lanes != nil && !partial:
		partial = e.runLanes(lanes)
	case lanes == nil && !partial:
		partial = e.waitUnbounded()
	}
	for _, l := range lanes {
		l.shutdown()
	}
	e.floods.Wait()
	e.dialers.Wait()
	e.readers.Wait()
	for _, l := range lanes {
		l.wake.close()
	}
	stopHarvest()
	end := time.Now()
	if neverStarted { // nothing was offered: no span, and no rate
		end = e.start
	}
	e.rec.harvest(math.MaxInt64)
	r := e.result(end, partial || ctx.Err() != nil)
	if cfg.Monitor != nil {
		cfg.Monitor.detach(r)
	}
	return r, nil
}

// openFirst opens the connections there are before the start, a few at
// a time, and hands them to the lanes in turn.
func (e *engine) openFirst(lanes []*lane) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(e.conns, maxDialing) {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(e.conns); i = next.Add(1) - 1 {
				l := lanes[i%int64(len(lanes))]
				c, oc := e.openConn(e.nextID.Add(1)-1, l)
				if c == nil {
					e.connFailed(oc)
					continue
				}
				e.readers.Go(c.readReplies)
				l.handOver(c, OutcomeOK)
			}
		})
	}
	wg.Wait()
}

// runLanes runs the lanes until they are done; it reports whether ctx
// stopped them.
func (e *engine) runLanes(lanes []*lane) (interrupted bool) {
	var wg sync.WaitGroup
	var stopped atomic.Bool
	for _, l := range lanes {
		wg.Go(func() {
			if l.run() {
				stopped.Store(true)
			}
		})
	}
	wg.Wait()
	return stopped.Load()
}

// waitUnbounded waits for the end of an unbounded run: its duration, its
// request count (the loops stop by themselves) or ctx.
func (e *engine) waitUnbounded() (interrupted bool) {
	var timeout <-chan time.Time
	if e.end > 0 {
		t := time.NewTimer(time.Until(e.start.Add(e.end)))
		defer t.Stop()
		timeout = t.C
	}
	done := make(chan struct{})
	go func() { e.floods.Wait(); close(done) }()
	select {
	case <-done:
	case <-timeout:
	case <-e.ctx.Done():
		interrupted = true
	}
	e.stopped.Store(true)
	<-done
	return interrupted
}

// claim takes the next request of an unbounded schedule: due now.
func (e *engine) claim() (ticket, bool) {
	now := time.Now()
	n, warm := e.claimN(now, 1)
	return ticket{due: now, warm: warm}, n == 1
}

// claimN takes up to n requests of an unbounded schedule, due at now, and
// returns how many it took: fewer when the run's request count runs out,
// none once the run is over.
func (e *engine) claimN(now time.Time, n int64) (taken int64, warm bool) {
	if e.stopped.Load() || e.ctx.Err() != nil {
		return 0, false
	}
	off := now.Sub(e.start)
	if e.end > 0 && off >= e.end {
		e.stopped.Store(true)
		return 0, false
	}
	warm = off < e.cfg.WarmUp
	if warm || e.limit == 0 {
		return n, warm
	}
	total := e.claimed.Add(n)
	if total >= e.limit {
		e.stopped.Store(true)
	}
	return max(min(n, e.limit-(total-n)), 0), false
}

// claims hands out an unbounded schedule's requests to one connection's
// loop. It takes them from the run in chunks of a connection's depth, all
// due at now, so that the loops do not contend for the run's count on
// every request; what a chunk leaves over (a mutated request ends a write
// early) goes out first the next time.
type claims struct {
	e   *engine
	now time.Time // when the next chunk is due
	t   ticket    // the chunk's requests
	n   int64     // how many of them are left
}

func (c *claims) next() (ticket, bool) {
	if c.n == 0 {
		var warm bool
		if c.n, warm = c.e.claimN(c.now, int64(c.e.depth)); c.n == 0 {
			return ticket{}, false
		}
		c.t = ticket{due: c.now, warm: warm}
	}
	c.n--
	return c.t, true
}

// flood runs one connection of an unbounded run as a bare loop would: it
// writes every request it may have in flight at once, whenever no reply
// is waiting to be read, and opens the connection again when it closes,
// until the claims run out. ready is told once the first connection is
// open (or failed to).
func (e *engine) flood(ready *sync.WaitGroup) {
	var s sender
	var c *conn
	if !e.cfg.Churn {
		e.dialSlots <- struct{}{}
		var oc Outcome
		if c, oc = e.openConn(e.nextID.Add(1)-1, nil); c == nil {
			e.connFailed(oc)
		}
		<-e.dialSlots
	}
	ready.Done()
	<-e.begin
	if e.cfg.Churn {
		for t, ok := e.claim(); ok; t, ok = e.claim() {
			e.churn(t, e.nextID.Add(1)-1, &s)
		}
		return
	}
	src := &claims{e: e}
	for {
		if c == nil {
			id := e.nextID.Add(1) - 1
			var oc Outcome
			if c, oc = e.openConn(id, nil); c == nil {
				e.connFailed(oc)
				src.now = time.Now()
				t, ok := src.next()
				if !ok {
					return
				}
				e.record(e.shardFor(id), t, kindValid, oc, src.now, src.now)
				continue
			}
		}
		// while replies wait to be read, the room they free adds up, and the
		// requests to fill it go out in one write
		if c.rd.Buffered() == 0 {
			src.now = time.Now()
			if c.send(src, &s) == 0 && c.idle() { // the claims ran out
				c.finish()
				c.release()
				return
			}
		}
		if !c.readReply() {
			c.release()
			c = nil
		}
	}
}

// churn serves one request on a connection of its own: connect, VER, CVR,
// close. Its service time covers the connect and the VER exchange.
func (e *engine) churn(t ticket, id int64, s *sender) {
	start := time.Now()
	c, oc := e.openConn(id, nil)
	if c == nil {
		e.connFailed(oc)
		e.record(e.shardFor(id), t, kindValid, oc, start, time.Now())
		return
	}
	c.since = start
	c.send(&oneTicket{t: t}, s)
	c.finish()
	for c.readReply() {
	}
	c.release()
}

// oneTicket hands out one request.
type oneTicket struct {
	t     ticket
	taken bool
}

func (o *oneTicket) next() (ticket, bool) {
	if o.taken {
		return ticket{}, false
	}
	o.taken = true
	return o.t, true
}

// record files one request's Outcome into sh, unless it was due in the
// warm-up.
func (e *engine) record(sh *recShard, t ticket, kind int, oc Outcome, sent, end time.Time) {
	if t.warm {
		return
	}
	if oc != OutcomeInterrupted && e.ctx.Err() != nil && oc != OutcomeOK && !oc.isCode() {
		oc = OutcomeInterrupted // the failure was our own interruption
	}
	sh.done(kind, oc, t.due, sent, end)
}

func (e *engine) shardFor(id int64) *recShard {
	return e.rec.shards[id%int64(len(e.rec.shards))]
}

// harvestEverySecond folds the per-second slots into the series shortly
// after each wall-clock second ends, until stop is called.
func (e *engine) harvestEverySecond() (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTimer(time.Hour)
		defer t.Stop()
		for {
			now := time.Now()
			next := now.Truncate(time.Second).Add(time.Second + 50*time.Millisecond)
			t.Reset(next.Sub(now))
			select {
			case <-done:
				return
			case <-t.C:
				e.rec.harvest(time.Now().Unix())
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// connOpened counts a new open connection.
func (e *engine) connOpened() {
	e.opened.Add(1)
	n := e.open.Add(1)
	for {
		m := e.maxOpen.Load()
		if n <= m || e.maxOpen.CompareAndSwap(m, n) {
			return
		}
	}
}

func (e *engine) connFailed(oc Outcome) {
	e.failed.Add(1)
	v, _ := e.failures.LoadOrStore(oc, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

func (e *engine) result(end time.Time, partial bool) *Result {
	byKind := e.rec.totals()
	var all counts
	for k := range byKind {
		for i, n := range byKind[k] {
			all[i] += n
		}
	}
	var requests, sent int64
	for i, n := range all {
		requests += n
		if Outcome(i).sent() {
			sent += n
		}
	}
	measure := e.measure
	if measure.After(end) {
		measure = end
	}
	span := e.span(measure, end, partial)
	window := span
	var requested float64
	if !e.sched.Unbounded() && span > 0 {
		first := e.sched.Count(e.cfg.WarmUp)
		due := e.sched.Count(e.cfg.WarmUp+span) - first
		if e.limit > 0 {
			due = min(due, e.limit)
		}
		requested = float64(due) / span.Seconds()
	}
	h := e.rec.merged()
	r := &Result{
		Version: ResultVersion, Target: e.cfg.Target, Partial: partial, Shard: e.cfg.Shard.String(),
		Start: measure, DurationS: window.Seconds(), End: end, Requests: requests,
		Late: e.late.Load(), Latency: Summarize(h.latency), Service: Summarize(h.service), SendLag: Summarize(h.sendLag),
		Connect: Summarize(h.connect), Handshake: Summarize(h.handshake), Outcomes: outcomeMap(&all),
		FirstErrors: e.causes.texts(&all),
		ByKind:      OutcomesByKind{Valid: outcomeMap(&byKind[kindValid]), Mutated: outcomeMap(&byKind[kindMutated])},
		Settings:    e.settings(),
		Connections: Connections{Opened: e.opened.Load(), MaxOpen: e.maxOpen.Load(), Failed: e.failed.Load(),
			Dropped: e.dropped.Load(), Failures: Counts{}},
	}
	if e.setupOpened > 0 {
		r.Connections.SetupS, r.Connections.SetupOpened = e.setup.Seconds(), e.setupOpened
	}
	r.Rate.Requested = requested
	if window > 0 {
		// throughput within the window: well-formed replies in it; failures,
		// malformed replies and requests still in flight at its end do not count
		r.Rate.Achieved = float64(min(e.rec.completedInWindow(), sent)) / window.Seconds()
	}
	e.failures.Range(func(k, v any) bool {
		r.Connections.Failures[k.(Outcome)] = v.(*atomic.Int64).Load()
		return true
	})
	r.Histograms.Latency, _ = EncodeHistogram(h.latency)
	r.Histograms.Service, _ = EncodeHistogram(h.service)
	r.Histograms.SendLag, _ = EncodeHistogram(h.sendLag)
	r.Histograms.Connect, _ = EncodeHistogram(h.connect)
	r.Histograms.Handshake, _ = EncodeHistogram(h.handshake)
	r.Series = e.rec.series.seconds(measure.Unix(), end.Unix())
	return r
}

// span returns the scheduled time measured: from the end of the warm-up
// to the end of the schedule, to the moment a request-bounded schedule
// would have offered its next request, or to the interruption.
func (e *engine) span(measure, end time.Time, partial bool) time.Duration {
	warm := e.cfg.WarmUp
	if partial || e.sched.Unbounded() {
		span := end.Sub(measure)
		if e.end > 0 {
			span = min(span, e.end-warm)
		}
		return max(span, 0)
	}
	if e.limit > 0 { // until the whole run's next request would be due, the same span for every shard
		if e.limitEnds {
			return e.limitEnd - warm
		}
	}
	if e.end > 0 {
		return e.end - warm
	}
	if end.IsZero() { // planning: the span is not known before the end
		return 0
	}
	return max(end.Sub(measure), 0)
}
