package load

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/cvrswarm/cvrswarm/corpus"
	"github.com/cvrswarm/cvrswarm/msnp"
)

// Defaults for the fields of [Config] left at zero, and for the flags of
// "cvrswarm load" (DefaultRate is the flag's alone: a Config's Schedule
// must be given).
const (
	DefaultRate     = "1000/s"
	DefaultDuration = 10 * time.Second
	DefaultConns    = 16
	DefaultMaxConns = 1024
	DefaultDepth    = 1
	DefaultTimeout  = 5 * time.Second
	// DefaultBatchWindow is the BatchWindow of a zero Config: up to 5,000
	// requests a second, each gets a wake-up of its own.
	DefaultBatchWindow = 200 * time.Microsecond
	// MaxBatchWindow bounds BatchWindow.
	MaxBatchWindow = 100 * time.Millisecond
)

// Config describes a load run. Target and Schedule must be given; the
// zero value of every other field is usable, and each says what zero
// means. [Config.Validate] names the fields that cannot make a run.
type Config struct {
	// Target is the server's "host:port". A host name is looked up once,
	// before the first connection; each connection tries its addresses in
	// order, from the one that last took a connection.
	Target string
	// Dial, when set, opens the connections to Target in place of a
	// net.Dialer (through a proxy, or to a test's in-memory server); the
	// context it is given ends after Timeout.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
	// SourceAddrs are the local addresses connections are opened from, in
	// turn; nil lets the system choose. Each address has its own ephemeral
	// ports towards the target (about 28,000 by default on Linux), so a
	// run past that many connections spreads them over several, as
	// 127.0.0.1 to 127.0.0.8 on loopback. See [ParseSourceAddrs].
	SourceAddrs []netip.Addr
	// Schedule says when each request is due; the zero Schedule offers
	// none, which Validate refuses, and [Unbounded] is the schedule with
	// no limit. It is the whole run's schedule: with a Shard, this process
	// offers its share.
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
	// BatchWindow is the least time between two wake-ups of the sender:
	// a request due closer than that to the last one's wake-up goes out
	// with the requests due by the next one, up to BatchWindow late. A
	// request due later than that gets a wake-up of its own and goes out
	// within microseconds of its due time. Each wake-up costs the machine
	// far more than a write, so at high rates a longer window saves CPU
	// (on two cores at 50,000/s: about 6µs per request at 1ms, against
	// 13µs at 200µs) and adds up to its length to the send lag, which is
	// part of every response time. Each wake-up sends rate × BatchWindow
	// requests at once, which need as much room in flight (Conns × Depth),
	// or they are late. 0 means DefaultBatchWindow.
	BatchWindow time.Duration
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
	// batchWindow is the least time between a lane's wake-ups
	batchWindow time.Duration
	dialects    []msnp.Dialect
	book        lineBook
	shardSeed   uint64
	mutators    *sync.Pool // of Mutators, when Config.NewMutator is set
	// localAddrs are the SourceAddrs, ready for a net.Dialer
	localAddrs []*net.TCPAddr
	// readBuffer is where a connection's reply buffer starts: small for
	// one reply at a time (memory with many connections: a CVR reply with
	// its URLs is under 256 bytes; the buffer grows for a longer one), a
	// page when pipelined replies arrive in bursts.
	readBuffer int
}

// A FieldError says what is wrong with one field of a [Config], named as
// in Go ("Conns"); [Config.Validate] joins one per field at fault with
// [errors.Join]. The parsers of this package ([ParseRate], [ParseSLO],
// [ParseShard], ...) report a bad value as a FieldError of the field it
// would fill.
type FieldError struct {
	Field   string
	Problem string
}

// Error returns "Field: problem".
func (e *FieldError) Error() string { return e.Field + ": " + e.Problem }

func fieldErr(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Problem: fmt.Sprintf(format, args...)}
}

// Validate reports every field of c that cannot make a run, each as a
// [*FieldError], joined; nil when [Run] would start.
func (c Config) Validate() error {
	_, err := newPlan(c)
	return err
}

// newPlan checks cfg and reduces it to this shard's share; its error
// joins a [*FieldError] per field at fault.
func newPlan(cfg Config) (*plan, error) {
	p := &plan{cfg: cfg, whole: cfg.Schedule}
	var errs []error
	bad := func(field, format string, args ...any) { errs = append(errs, fieldErr(field, format, args...)) }
	if cfg.Target == "" {
		bad("Target", "no server address given")
	}
	if p.whole.offersNone() {
		bad("Schedule", "%s offers no request (Unbounded() is the schedule without a limit)", p.whole)
	}
	sh := cfg.Shard
	if sh.Count == 0 && sh.Index == 0 {
		sh = Shard{Index: 1, Count: 1}
	}
	if sh.Count < 1 || sh.Index < 1 || sh.Index > sh.Count {
		bad("Shard", "%d/%d: want i/n with 1 <= i <= n", sh.Index, sh.Count)
		sh = Shard{Index: 1, Count: 1}
	}
	p.cfg.Shard = sh
	p.sched = p.whole.Shard(sh)
	for _, f := range []struct {
		name string
		neg  bool
	}{{"Requests", cfg.Requests < 0}, {"Duration", cfg.Duration < 0}, {"WarmUp", cfg.WarmUp < 0},
		{"Timeout", cfg.Timeout < 0}, {"Conns", cfg.Conns < 0}, {"MaxConns", cfg.MaxConns < 0},
		{"Depth", cfg.Depth < 0}, {"MaxLineLength", cfg.MaxLineLength < 0}, {"BatchWindow", cfg.BatchWindow < 0}} {
		if f.neg {
			bad(f.name, "must not be negative")
		}
	}
	p.limit = sh.Share64(cfg.Requests)
	if cfg.Requests > 0 && p.limit == 0 {
		bad("Requests", "%d leave none to shard %s", cfg.Requests, sh)
	}
	dur := cfg.Duration
	if l := p.whole.Length(); l > 0 {
		if dur == 0 || l-cfg.WarmUp < dur {
			dur = l - cfg.WarmUp
		}
		if dur <= 0 {
			bad("WarmUp", "%s is as long as the schedule (%s)", cfg.WarmUp, l)
		}
	}
	if dur == 0 && cfg.Requests == 0 {
		dur = DefaultDuration
	}
	if dur > 0 {
		p.end = cfg.WarmUp + dur
	}
	p.cfg.Duration = dur
	p.depth = cmp0(cfg.Depth, DefaultDepth)
	if cfg.Churn && p.depth > 1 {
		bad("Depth", "%d with churn: a connection per request cannot pipeline", p.depth)
	}
	p.conns = sh.Share(cmp0(cfg.Conns, DefaultConns), 1)
	p.maxConns = max(sh.Share(cmp0(cfg.MaxConns, DefaultMaxConns), 1), p.conns)
	p.timeout = cmp0(cfg.Timeout, DefaultTimeout)
	p.batchWindow = cmp0(cfg.BatchWindow, DefaultBatchWindow)
	if p.batchWindow > MaxBatchWindow {
		bad("BatchWindow", "%s: want at most %s", p.batchWindow, MaxBatchWindow)
	}
	if cfg.Mutate < 0 || cfg.Mutate > 1 || math.IsNaN(cfg.Mutate) {
		bad("Mutate", "share %v: want 0 to 1", cfg.Mutate)
	} else if cfg.Mutate > 0 && cfg.Mutator == nil && cfg.NewMutator == nil {
		bad("Mutator", "a Mutate share needs a Mutator or NewMutator")
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
		errs = append(errs, err)
	}
	if !cfg.StartAt.IsZero() && !cfg.StartAt.After(time.Now()) {
		bad("StartAt", "%s is in the past", cfg.StartAt.Format(time.RFC3339))
	}
	for _, a := range cfg.SourceAddrs {
		if !a.IsValid() {
			bad("SourceAddrs", "the zero address is not a local address")
			break
		}
		p.localAddrs = append(p.localAddrs, &net.TCPAddr{IP: a.AsSlice(), Zone: a.Zone()})
	}
	if cfg.SourceAddrs != nil && cfg.Dial != nil {
		bad("SourceAddrs", "cannot be combined with Dial, which chooses its own")
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if cfg.Requests > 0 && !p.whole.Unbounded() {
		p.limitEnd, p.limitEnds = requestsEnd(p.whole, cfg.WarmUp, cfg.Requests, p.end)
	}
	p.shardSeed = uint64(sh.Index)
	p.readBuffer = 256
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
		SLO: p.cfg.SLO, BatchWindow: p.batchWindow.String(),
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
