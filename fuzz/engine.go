package fuzz

import (
	"context"
	"fmt"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/cvrswarm/cvrswarm/msnp"
)

// Progress is a snapshot of a running fuzzer.
type Progress struct {
	Cases    int64
	Findings int          // confirmed findings, distinct
	Hits     int          // cases that showed a confirmed finding's signature
	ByKind   map[Kind]int // confirmed findings by kind
	Corpus   int
	Restarts int // of an [Exec] target
	Elapsed  time.Duration

	HitsByKind map[Kind]int // Hits split by the kind of the finding
}

// Fuzzer is one fuzzing run. Create it with [New], run it once with
// [Fuzzer.Run]; [Fuzzer.Progress] may be called meanwhile from any
// goroutine.
type Fuzzer struct {
	cfg    Config
	oracle *Oracle
	x      *exchanger
	fb     *feedback

	// gate is held shared by cases, confirmations and shrinking of
	// findings other than crashes, and alone while a crash is pinned on
	// a case or shrunk, which restarts the target.
	gate    sync.RWMutex
	limiter *rate.Limiter
	start   time.Time
	cancel  context.CancelFunc

	nextBlock atomic.Uint64
	done      atomic.Int64
	noMore    atomic.Bool // no new block of cases is started

	parked    sync.WaitGroup // the goroutines of parked cases
	parkSlots chan struct{}  // a token for each parked case
	blockMu   sync.Mutex
	open      map[uint64]uint64 // per block: its cases not yet settled, and one while its worker runs it

	mu          sync.Mutex
	findings    map[string]*Finding
	order       []string
	confirming  map[string]int // signatures being confirmed, and their hits meanwhile
	hits        int
	unconfirmed int
	fatal       error
	workers     []*worker
	shrink      shrinkQueue
}

// New checks cfg ([Config.Validate]) and returns a Fuzzer.
func New(cfg Config) (*Fuzzer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	seeds, _ := cfg.bases()
	if cfg.Conns == 0 {
		cfg.Conns = DefaultConns
	}
	if cfg.MinimizeTime == 0 {
		cfg.MinimizeTime = DefaultMinimizeTime
	}
	if cfg.RecoverWait == 0 {
		cfg.RecoverWait = DefaultRecoverWait
	}
	if cfg.ReplayCommand == "" {
		cfg.ReplayCommand = "cvrswarm replay"
	}
	if cfg.MinimizeShare == 0 {
		cfg.MinimizeShare = DefaultMinimizeShare
	}
	f := &Fuzzer{cfg: cfg, findings: map[string]*Finding{}, confirming: map[string]int{}, open: map[uint64]uint64{},
		parkSlots: make(chan struct{}, maxParked*cfg.Conns)}
	f.oracle = &f.cfg.Oracle
	f.x = f.oracle.exchanger()
	f.x.timer = &replyTimer{}
	f.fb = newFeedback(seeds, cfg.NoFeedback)
	lim := rate.Inf
	if cfg.Rate > 0 {
		lim = rate.Limit(cfg.Rate)
	}
	f.limiter = rate.NewLimiter(lim, cfg.Conns)
	return f, nil
}

// Run fuzzes until the case limit, the duration, an unrecoverable target
// or the end of ctx, and returns what it found. Findings are saved as
// they are found; on an interrupt the partial result is returned with
// ctx's error.
func Run(ctx context.Context, cfg Config) (Result, error) {
	f, err := New(cfg)
	if err != nil {
		return Result{}, err
	}
	return f.Run(ctx)
}

// lookupNetIP resolves a target's host name; tests replace it.
var lookupNetIP msnp.LookupFunc = net.DefaultResolver.LookupNetIP

// Run runs the fuzzer; see the package function [Run].
func (f *Fuzzer) Run(parent context.Context) (Result, error) {
	// a name is looked up once: a lookup for every case would load the
	// resolver, and one that failed would pass for a crash
	if t, ok := f.oracle.Target.(msnp.TCPTarget); ok {
		resolved, err := msnp.ResolveTCP(parent, string(t), "ip", lookupNetIP)
		if err != nil {
			return Result{}, fmt.Errorf("target %s: %w", t, err)
		}
		f.oracle.Target, f.x.target = resolved, resolved
	}
	if err := f.oracle.Check(parent); err != nil {
		return Result{}, err
	}
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	f.cancel = cancel
	stopped := "interrupted"
	var timedOut atomic.Bool
	if f.cfg.Duration > 0 {
		t := time.AfterFunc(f.cfg.Duration, func() { timedOut.Store(true); cancel() })
		defer t.Stop()
	}
	f.start = time.Now()
	seriesDone := f.keepSeries(ctx)
	var workers sync.WaitGroup
	for i := range f.cfg.Conns {
		w := &worker{f: f, id: i}
		w.gen = f.cfg.generator()
		f.workers = append(f.workers, w)
	}
	for _, w := range f.workers {
		workers.Go(func() { w.loop(ctx) })
	}
	workers.Wait()
	f.parked.Wait()
	allDone := f.cfg.Cases > 0 && f.done.Load() >= f.cfg.Cases
	cancel()
	series := seriesDone()
	f.fb.close()

	elapsed := time.Since(f.start)
	switch {
	case f.fatalErr() != nil:
		stopped = "error: " + f.fatalErr().Error()
	case allDone:
		stopped = "cases"
	case timedOut.Load():
		stopped = "duration"
	}
	res := f.result(elapsed, stopped)
	res.Series = append(series, Point{T: time.Now().Unix(), Cases: res.Cases, Findings: len(res.Findings), Hits: res.Hits})
	if err := f.saveAll(); err != nil {
		res.Stopped = "error: " + err.Error()
		return res, err
	}
	if err := f.fatalErr(); err != nil {
		return res, err
	}
	if !allDone && !timedOut.Load() && parent.Err() != nil {
		return res, parent.Err()
	}
	return res, nil
}

// openBlock notes that a worker starts the n cases of a block.
func (f *Fuzzer) openBlock(block, n uint64) {
	f.blockMu.Lock()
	f.open[block] = n + 1
	f.blockMu.Unlock()
}

// caseFinished notes that a case of the block is settled.
func (f *Fuzzer) caseFinished(block uint64) {
	f.done.Add(1)
	f.release(block)
}

// release takes one from what the block waits for: a case to settle, or
// its worker to have run all its cases. When nothing is left the
// feedback takes the block in.
func (f *Fuzzer) release(block uint64) {
	f.blockMu.Lock()
	f.open[block]--
	n := f.open[block]
	if n == 0 {
		delete(f.open, block)
	}
	f.blockMu.Unlock()
	if n == 0 {
		f.fb.blockDone(block)
	}
}

// keepSeries records a Point every second until ctx ends; done waits for
// that and returns the points.
func (f *Fuzzer) keepSeries(ctx context.Context) (done func() []Point) {
	var series []Point
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-tick.C:
				p := f.Progress()
				series = append(series, Point{T: now.Unix(), Cases: p.Cases, Findings: p.Findings, Hits: p.Hits})
			}
		}
	})
	return func() []Point {
		wg.Wait()
		return series
	}
}

func targetName(t any) string {
	if s, ok := t.(fmt.Stringer); ok {
		if x, ok := t.(*Exec); ok {
			return x.Addr() + " (" + s.String() + ")"
		}
		return s.String()
	}
	return fmt.Sprint(t)
}

func (f *Fuzzer) fatalErr() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fatal
}

func (f *Fuzzer) setFatal(err error) {
	f.mu.Lock()
	if f.fatal == nil {
		f.fatal = err
	}
	f.mu.Unlock()
	f.cancel()
}

// Progress returns a snapshot of the run.
func (f *Fuzzer) Progress() Progress {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := Progress{Cases: f.done.Load(), Findings: len(f.findings), Hits: f.hits, ByKind: map[Kind]int{}, Corpus: f.fb.size()}
	if x := f.oracle.exec(); x != nil {
		p.Restarts = x.Restarts()
	}
	p.HitsByKind = map[Kind]int{}
	for _, fd := range f.findings {
		p.ByKind[fd.Kind]++
		p.HitsByKind[fd.Kind] += fd.Hits
	}
	if !f.start.IsZero() {
		p.Elapsed = time.Since(f.start)
	}
	return p
}

func (f *Fuzzer) result(elapsed time.Duration, stopped string) Result {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := Result{Version: ResultVersion, Target: targetName(f.oracle.Target), Seed: f.cfg.Seed, Cases: f.done.Load(),
		DurationS: elapsed.Seconds(), ByKind: map[Kind]int{}, Hits: f.hits, Corpus: f.fb.size(),
		NewInputs: f.fb.size() - len(f.fb.seeds), Unconfirmed: f.unconfirmed, Strict: f.oracle.Strict, Stopped: stopped,
		Findings: []Finding{}}
	if elapsed > 0 {
		r.CasesPerS = float64(r.Cases) / elapsed.Seconds()
	}
	if x := f.oracle.exec(); x != nil {
		r.Restarts = x.Restarts()
	}
	for _, sig := range f.order {
		fd := f.findings[sig]
		r.Findings = append(r.Findings, *fd)
		r.ByKind[fd.Kind]++
	}
	sort.SliceStable(r.Findings, func(i, j int) bool {
		return r.Findings[i].Kind.severity() > r.Findings[j].Kind.severity()
	})
	return r
}

// saveAll rewrites every record with its final hit count.
func (f *Fuzzer) saveAll() error {
	if f.cfg.FindingsDir == "" {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, sig := range f.order {
		if fd := f.findings[sig]; fd.Record != "" {
			if err := fd.writeRecord(); err != nil {
				return err
			}
		}
	}
	return nil
}

// replayPrefix is the replay command without the record: the configured
// command and a -timeout when it is not the default.
func (f *Fuzzer) replayPrefix() string {
	s := f.cfg.ReplayCommand
	if f.oracle.Timeout > 0 && f.oracle.Timeout != DefaultTimeout {
		s += " -timeout " + f.oracle.Timeout.String()
	}
	if factor, floor := f.oracle.amplify(); factor != DefaultAmplifyFactor || floor != DefaultAmplifyFloor {
		s += fmt.Sprintf(" -amplify-factor %g -amplify-floor %d", factor, floor)
	}
	return s
}
