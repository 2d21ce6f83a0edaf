package load

import (
	"context"
	"math"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
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
	tickets chan ticket // pacer -> workers; nil for an unbounded schedule
	start   time.Time   // when the schedule starts (the warm-up's start)
	measure time.Time   // when measuring starts
	begin   chan struct{}

	claimed atomic.Int64 // unbounded schedule: requests taken
	stopped atomic.Bool  // unbounded schedule: no more claims

	workers   sync.WaitGroup
	nworkers  atomic.Int64
	nextID    atomic.Int64
	dialSlots chan struct{}

	open, maxOpen, opened, failed, dropped atomic.Int64
	failures                               sync.Map // outcome -> *atomic.Int64
	late                                   atomic.Int64
	causes                                 causes
}

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
		begin: make(chan struct{}), dialSlots: make(chan struct{}, 128)}
	if !p.sched.Unbounded() {
		e.tickets = make(chan ticket)
	}
	if cfg.Monitor != nil {
		cfg.Monitor.attach(e)
	}

	// open the first connections, then wait for the start time
	var ready sync.WaitGroup
	for range p.conns {
		ready.Add(1)
		e.spawn(&ready)
	}
	ready.Wait()
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
		if e.tickets != nil {
			close(e.tickets)
		}
		close(e.begin)
	} else {
		close(e.begin)
		if e.tickets != nil {
			partial = e.pace()
		} else {
			partial = e.waitUnbounded()
		}
	}
	e.workers.Wait()
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

// waitUnbounded waits for the end of an unbounded run: its duration, its
// request count (the workers stop by themselves) or ctx.
func (e *engine) waitUnbounded() (interrupted bool) {
	var timeout <-chan time.Time
	if e.end > 0 {
		t := time.NewTimer(time.Until(e.start.Add(e.end)))
		defer t.Stop()
		timeout = t.C
	}
	done := make(chan struct{})
	go func() { e.workers.Wait(); close(done) }()
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
	if e.stopped.Load() || e.ctx.Err() != nil {
		return ticket{}, false
	}
	now := time.Now()
	off := now.Sub(e.start)
	if e.end > 0 && off >= e.end {
		e.stopped.Store(true)
		return ticket{}, false
	}
	warm := off < e.cfg.WarmUp
	if !warm && e.limit > 0 && e.claimed.Add(1) > e.limit {
		e.stopped.Store(true)
		return ticket{}, false
	}
	return ticket{due: now, warm: warm}, true
}

// spawn starts a worker (a connection) if the cap allows; ready, when
// not nil, is told once its first connection is open (or failed).
func (e *engine) spawn(ready *sync.WaitGroup) bool {
	if e.nworkers.Add(1) > int64(e.maxConns) {
		e.nworkers.Add(-1)
		if ready != nil {
			ready.Done()
		}
		return false
	}
	id := e.nextID.Add(1) - 1
	w := newWorker(e, id)
	e.workers.Go(func() { w.run(ready) })
	return true
}

// pace hands out each request at its due time until the schedule ends,
// then closes the tickets channel. It reports whether ctx stopped it.
func (e *engine) pace() (interrupted bool) {
	defer close(e.tickets)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var endC <-chan time.Time
	if e.end > 0 {
		t := time.NewTimer(time.Until(e.start.Add(e.end)))
		defer t.Stop()
		endC = t.C
	}
	pc := newPacer(e.sched)
	var measured int64
	for {
		off, ok := pc.next()
		if !ok || (e.end > 0 && off >= e.end) || (e.limit > 0 && measured >= e.limit) {
			return false
		}
		t := ticket{due: e.start.Add(off), warm: off < e.cfg.WarmUp}
		if wait := time.Until(t.due); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-e.ctx.Done():
				e.unsent(pc, off, time.Now(), measured)
				return true
			}
		}
		if !t.warm {
			measured++
			e.shardFor(0).offered(t.due, 1)
		}
		select {
		case e.tickets <- t:
			continue
		default:
		}
		if !e.spawn(nil) && !t.warm {
			e.late.Add(1)
		}
		select {
		case e.tickets <- t:
		case <-endC:
			e.unsentTicket(t)
			e.unsentAfter(pc, e.start.Add(e.end), measured)
			return false
		case <-e.ctx.Done():
			e.unsentTicket(t)
			e.unsentAfter(pc, time.Now(), measured)
			return true
		}
	}
}

func (e *engine) unsentTicket(t ticket) {
	if !t.warm {
		e.shardFor(0).done(kindValid, OutcomeUnsent, t.due, time.Time{}, time.Now())
	}
}

// unsentAfter counts the pacer's requests from its next one on that were
// due before until but never handed out.
func (e *engine) unsentAfter(pc *pacer, until time.Time, measured int64) {
	if off, ok := pc.next(); ok {
		e.unsent(pc, off, until, measured)
	}
}

// unsent counts the requests from the one due at off on (then the
// pacer's next ones) that were due before until but never handed out.
func (e *engine) unsent(pc *pacer, off time.Duration, until time.Time, measured int64) {
	sh := e.shardFor(0)
	for ok := true; ; off, ok = pc.next() {
		due := e.start.Add(off)
		if !ok || !due.Before(until) || (e.end > 0 && off >= e.end) || (e.limit > 0 && measured >= e.limit) {
			return
		}
		if off < e.cfg.WarmUp {
			continue
		}
		measured++
		sh.offered(due, 1)
		sh.done(kindValid, OutcomeUnsent, due, time.Time{}, until)
	}
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

// dial connects to the target within the timeout. The connect runs on a
// goroutine of its own: its deep call stack then goes away with it, and
// the worker's stack stays small (ten thousand of them add up).
func (e *engine) dial() (net.Conn, Outcome) {
	type dialed struct {
		conn net.Conn
		err  error
	}
	ch := make(chan dialed, 1)
	go func() {
		dial := e.cfg.Dial
		if dial == nil {
			dial = (&net.Dialer{}).DialContext
		}
		ctx, cancel := context.WithTimeout(e.ctx, e.timeout)
		defer cancel()
		conn, err := dial(ctx, "tcp", e.cfg.Target)
		ch <- dialed{conn, err}
	}()
	r := <-ch
	if r.err != nil {
		return nil, e.causes.noteErr(classifyDial(r.err), "", r.err)
	}
	return r.conn, OutcomeOK
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
	lat, svc, conn, hs := e.rec.merged()
	r := &Result{
		Version: ResultVersion, Target: e.cfg.Target, Partial: partial, Shard: e.cfg.Shard.String(),
		Start: measure, DurationS: window.Seconds(), End: end, Requests: requests,
		Late: e.late.Load(), Latency: Summarize(lat), Service: Summarize(svc), Connect: Summarize(conn),
		Handshake: Summarize(hs), Outcomes: outcomeMap(&all), FirstErrors: e.causes.texts(&all),
		ByKind:   OutcomesByKind{Valid: outcomeMap(&byKind[kindValid]), Mutated: outcomeMap(&byKind[kindMutated])},
		Settings: e.settings(),
		Connections: Connections{Opened: e.opened.Load(), MaxOpen: e.maxOpen.Load(), Failed: e.failed.Load(),
			Dropped: e.dropped.Load(), Failures: Counts{}},
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
	r.Histograms.Latency, _ = EncodeHistogram(lat)
	r.Histograms.Service, _ = EncodeHistogram(svc)
	r.Histograms.Connect, _ = EncodeHistogram(conn)
	r.Histograms.Handshake, _ = EncodeHistogram(hs)
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
