package load

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cvrswarm/cvrswarm/corpus"
	"github.com/cvrswarm/cvrswarm/msnp"
)

// Defaults for the fields of [Config] left at zero, and for the flags of
// "cvrswarm load".
const (
	DefaultRate     = "1000/s"
	DefaultDuration = 10 * time.Second
	DefaultConns    = 16
	DefaultMaxConns = 1024
	DefaultDepth    = 1
	DefaultTimeout  = 5 * time.Second
)

// Config describes a load run. The zero value of every field but Target
// is usable; each field says what zero means.
type Config struct {
	// Target is the server's "host:port".
	Target string
	// Schedule says when each request is due; the zero Schedule means
	// DefaultRate. It is the whole run's schedule: with a Shard, this
	// process offers its share.
	Schedule Schedule
	// Duration bounds how long load is offered, warm-up not included.
	// Zero means the schedule's own length, or DefaultDuration when
	// neither the schedule nor Requests ends the run.
	Duration time.Duration
	// Requests bounds the number of requests of the whole run (all shards,
	// warm-up not included); 0 means no bound.
	Requests int64
	// WarmUp offers load by the schedule for this long before measuring:
	// nothing due in it is recorded. The schedule starts with the warm-up.
	WarmUp time.Duration
	// Conns is the number of connections opened before the first request
	// is due (whole run); 0 means DefaultConns. With an unbounded schedule
	// it is the number of connections, each sending as fast as replies come.
	Conns int
	// MaxConns caps the connections open at once (whole run): when every
	// connection is busy at a request's due time, a new one is opened up
	// to this cap; past it the request waits and is counted late. 0 means
	// DefaultMaxConns, and it is never below Conns.
	MaxConns int
	// Depth is how many CVRs each connection keeps in flight (pipelined,
	// replies matched by TrID); 0 means DefaultDepth (1).
	Depth int
	// Churn opens a new connection for every request: connect, VER, CVR,
	// close. Depth must then be 1.
	Churn bool
	// Dialects is the VER list, newest first; nil means msnp.Dialects().
	Dialects []msnp.Dialect
	// Cases holds the requests to draw CVR lines from; nil means
	// corpus.Valid(). CorpusDir names where they came from, for Settings.
	Cases     []corpus.Case
	CorpusDir string
	// Mutate is the share of requests, from 0 to 1, sent mutated. A
	// connection is closed after each mutated request.
	Mutate float64
	// Mutator mutates requests; it must be safe for concurrent use.
	Mutator Mutator
	// NewMutator, when set, makes mutators that are not safe for
	// concurrent use (such as fuzz.Havoc): each is used by one goroutine
	// at a time. It takes precedence over Mutator.
	NewMutator func() Mutator
	// Timeout bounds a connect, a VER exchange and a wait for a reply;
	// 0 means DefaultTimeout.
	Timeout time.Duration
	// MaxLineLength bounds a reply line; 0 means msnp.DefaultMaxLineLength.
	MaxLineLength int
	// Seed makes the choice of lines and mutations reproducible (each
	// connection draws from its own generator seeded with it).
	Seed int64
	// Shard makes this process one of several that share the run; the
	// zero Shard is the whole run.
	Shard Shard
	// StartAt delays the first request until then; it must not be in the
	// past. Connections are opened before it, and the schedule counts from
	// it (not from when the wait ended), so that shards given the same
	// StartAt offer the whole schedule's requests at the whole schedule's
	// times. Zero starts at once.
	StartAt time.Time
	// Monitor, when set, reports the run's progress while it runs.
	Monitor *Monitor
	// SLO is recorded in Settings as given; see [ParseSLO].
	SLO string
}

// plan is a Config checked and reduced to this shard's share.
type plan struct {
	cfg   Config
	sched Schedule // this shard's
	whole Schedule
	limit int64         // this shard's request bound, 0 for none
	end   time.Duration // offset where the schedule stops, 0 for none
	// limitEnd is where the whole run's request bound ends the schedule:
	// the offset its next request would be due at (limitEnds false when
	// the schedule or its end comes first).
	limitEnd  time.Duration
	limitEnds bool
	conns     int // this shard's
	maxConns  int
	depth     int
	timeout   time.Duration
	dialects  []msnp.Dialect
	book      lineBook
	shardSeed uint64
	mutators  *sync.Pool // of Mutators, when Config.NewMutator is set
	// readBuffer is where a connection's reply buffer starts: small for
	// one reply at a time (memory with many connections), a page when
	// pipelined replies arrive in bursts.
	readBuffer int
}

func newPlan(cfg Config) (*plan, error) {
	p := &plan{cfg: cfg}
	if cfg.Target == "" {
		return nil, errors.New("load: no target")
	}
	p.whole = cfg.Schedule
	if p.whole.text == "" && p.whole.segs == nil {
		var err error
		if p.whole, err = ParseRate(DefaultRate); err != nil {
			return nil, err
		}
	}
	sh := cfg.Shard
	if sh.Count == 0 {
		sh = Shard{Index: 1, Count: 1}
	}
	if sh.Index < 1 || sh.Index > sh.Count {
		return nil, fmt.Errorf("load: shard %d/%d: want 1 <= i <= n", sh.Index, sh.Count)
	}
	p.cfg.Shard = sh
	p.sched = p.whole.Shard(sh)
	if cfg.Requests < 0 || cfg.Duration < 0 || cfg.WarmUp < 0 || cfg.Timeout < 0 {
		return nil, errors.New("load: negative requests, duration, warm-up or timeout")
	}
	p.limit = sh.Share64(cfg.Requests)
	if cfg.Requests > 0 && p.limit == 0 {
		return nil, fmt.Errorf("load: %d requests leave none to shard %s", cfg.Requests, sh)
	}
	dur := cfg.Duration
	if l := p.whole.Length(); l > 0 {
		if dur == 0 || l-cfg.WarmUp < dur {
			dur = l - cfg.WarmUp
		}
		if dur <= 0 {
			return nil, fmt.Errorf("load: the warm-up (%s) is as long as the schedule (%s)", cfg.WarmUp, l)
		}
	}
	if dur == 0 && cfg.Requests == 0 {
		dur = DefaultDuration
	}
	if dur > 0 {
		p.end = cfg.WarmUp + dur
	}
	if cfg.Requests > 0 && !p.whole.Unbounded() {
		p.limitEnd, p.limitEnds = requestsEnd(p.whole, cfg.WarmUp, cfg.Requests, p.end)
	}
	p.cfg.Duration = dur
	p.depth = cmp0(cfg.Depth, DefaultDepth)
	if cfg.Churn && p.depth > 1 {
		return nil, errors.New("load: churn opens a connection per request: it cannot pipeline (depth > 1)")
	}
	p.conns = sh.Share(cmp0(cfg.Conns, DefaultConns), 1)
	p.maxConns = max(sh.Share(cmp0(cfg.MaxConns, DefaultMaxConns), 1), p.conns)
	p.timeout = cmp0(cfg.Timeout, DefaultTimeout)
	if cfg.Mutate < 0 || cfg.Mutate > 1 || math.IsNaN(cfg.Mutate) {
		return nil, fmt.Errorf("load: mutate share %v: want 0 to 1", cfg.Mutate)
	}
	if cfg.Mutate > 0 && cfg.Mutator == nil && cfg.NewMutator == nil {
		return nil, errors.New("load: a mutate share needs a Mutator")
	}
	if cfg.NewMutator != nil {
		p.mutators = &sync.Pool{New: func() any { return cfg.NewMutator() }}
	}
	p.dialects = cfg.Dialects
	if p.dialects == nil {
		p.dialects = msnp.Dialects()
	}
	cases := cfg.Cases
	if cases == nil {
		cases = corpus.Valid()
	}
	var err error
	if p.book, err = newLineBook(cases, p.dialects); err != nil {
		return nil, err
	}
	if !cfg.StartAt.IsZero() && !cfg.StartAt.After(time.Now()) {
		return nil, fmt.Errorf("load: start time %s is in the past", cfg.StartAt.Format(time.RFC3339))
	}
	p.shardSeed = uint64(sh.Index)
	p.readBuffer = 512
	if p.depth > 1 {
		p.readBuffer = 4096
	}
	return p, nil
}

// mutate appends a mutated copy of src to dst.
func (p *plan) mutate(dst, src []byte, rng *rand.Rand) []byte {
	if p.mutators == nil {
		return p.cfg.Mutator.Mutate(dst, src, rng)
	}
	m := p.mutators.Get().(Mutator)
	defer p.mutators.Put(m)
	return m.Mutate(dst, src, rng)
}

// requestsEnd returns the offset at which the whole schedule's request
// after the first n due from warm on is due, by the pacer every shard
// uses; false when the schedule, or end (0 for none), comes first.
func requestsEnd(whole Schedule, warm time.Duration, n int64, end time.Duration) (time.Duration, bool) {
	pc := newPacer(whole)
	for {
		off, ok := pc.next()
		if !ok || (end > 0 && off >= end) {
			return 0, false
		}
		if off < warm {
			continue
		}
		if n == 0 {
			return off, true
		}
		n--
	}
}

func cmp0[T int | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

func (p *plan) settings() Settings {
	ds := make([]string, len(p.dialects))
	for i, d := range p.dialects {
		ds[i] = string(d)
	}
	mode := "persistent"
	if p.cfg.Churn {
		mode = "churn"
	}
	s := Settings{
		Rate: p.whole.String(), Requests: p.cfg.Requests, Dialects: ds, Mode: mode, Depth: p.depth,
		Conns: cmp0(p.cfg.Conns, DefaultConns), MaxConns: max(cmp0(p.cfg.MaxConns, DefaultMaxConns), cmp0(p.cfg.Conns, DefaultConns)),
		Mutate: p.cfg.Mutate, Timeout: p.timeout.String(), Corpus: p.cfg.CorpusDir, Seed: p.cfg.Seed,
		SLO: p.cfg.SLO,
	}
	if p.cfg.Duration > 0 {
		s.Duration = p.cfg.Duration.String()
	}
	if p.cfg.WarmUp > 0 {
		s.WarmUp = p.cfg.WarmUp.String()
	}
	if p.cfg.Shard.Sharded() {
		s.Shards = p.cfg.Shard.Count
	}
	return s
}

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
		defer cfg.Monitor.detach()
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
	return e.result(end, partial || ctx.Err() != nil), nil
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
		d := net.Dialer{Timeout: e.timeout}
		conn, err := d.DialContext(e.ctx, "tcp", e.cfg.Target)
		ch <- dialed{conn, err}
	}()
	r := <-ch
	if r.err != nil {
		return nil, classifyDial(r.err)
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
		Start: measure, DurationS: window.Seconds(), Requests: requests,
		Late: e.late.Load(), Latency: Summarize(lat), Service: Summarize(svc), Connect: Summarize(conn),
		Handshake: Summarize(hs), Outcomes: outcomeMap(&all),
		ByKind:   OutcomesByKind{Valid: outcomeMap(&byKind[kindValid]), Mutated: outcomeMap(&byKind[kindMutated])},
		Settings: e.settings(),
		Connections: Connections{Opened: e.opened.Load(), MaxOpen: e.maxOpen.Load(), Failed: e.failed.Load(),
			Dropped: e.dropped.Load(), Failures: Counts{}},
	}
	r.Rate.Requested = requested
	if window > 0 {
		// throughput within the window: requests the server answered in it;
		// failures, and requests still in flight at its end, do not count
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
