package fuzz

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Progress is a snapshot of a running fuzzer.
type Progress struct {
	Cases    int64
	Findings int
	Hits     int
	ByKind   map[Kind]int
	Corpus   int
	Elapsed  time.Duration
}

// Fuzzer is one fuzzing run. Create it with [New], run it once with
// [Fuzzer.Run]; [Fuzzer.Progress] may be called meanwhile from any
// goroutine.
type Fuzzer struct {
	cfg    Config
	oracle *Oracle
	x      *exchanger
	fb     *feedback

	gate    sync.RWMutex // cases hold it shared; triage holds it alone
	limiter *rate.Limiter
	start   time.Time
	cancel  context.CancelFunc

	nextBlock atomic.Uint64
	done      atomic.Int64

	mu          sync.Mutex
	findings    map[string]*Finding
	order       []string
	hits        int
	unconfirmed int
	fatal       error
	workers     []*worker
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
	f := &Fuzzer{cfg: cfg, oracle: &cfg.Oracle, findings: map[string]*Finding{}}
	f.x = f.oracle.exchanger()
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

// Run runs the fuzzer; see the package function [Run].
func (f *Fuzzer) Run(parent context.Context) (Result, error) {
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
	var series []Point
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second)
	wg.Go(func() {
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-tick.C:
				p := f.Progress()
				f.mu.Lock()
				series = append(series, Point{T: now.Unix(), Cases: p.Cases, Findings: p.Findings, Hits: p.Hits})
				f.mu.Unlock()
			}
		}
	})
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
	allDone := f.cfg.Cases > 0 && f.done.Load() >= f.cfg.Cases
	cancel()
	wg.Wait()
	f.fb.close()

	elapsed := time.Since(f.start)
	switch {
	case f.fatalErr() != nil:
		stopped = f.fatalErr().Error()
	case allDone:
		stopped = "cases"
	case timedOut.Load():
		stopped = "duration"
	}
	res := f.result(elapsed, stopped)
	f.mu.Lock()
	res.Series = append(series, Point{T: time.Now().Unix(), Cases: res.Cases, Findings: len(res.Findings), Hits: res.Hits})
	f.mu.Unlock()
	if err := f.saveAll(); err != nil {
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
	for _, fd := range f.findings {
		p.ByKind[fd.Kind]++
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

// worker runs blocks of cases on a connection it keeps while the target
// answers.
type worker struct {
	f       *Fuzzer
	id      int
	gen     Generator
	cn      *conn
	verSeen phase  // the VER phase the connection opened with
	history []Case // the cases run on cn, oldest first
	last    atomic.Pointer[Case]
	// unsure is a case that closed without an answer, not yet known
	// harmless; other workers read it when the target dies.
	unsure atomic.Pointer[Case]
}

// check reports whether the target is alive, with a liveness check.
func (w *worker) check(ctx context.Context) bool {
	w.f.gate.RLock()
	defer w.f.gate.RUnlock()
	return w.f.oracle.alive(ctx) == alive || ctx.Err() != nil
}

// historyLen is how many earlier cases on a connection are candidates
// when a failure must be pinned on one.
const historyLen = 4

func (w *worker) loop(ctx context.Context) {
	defer w.drop()
	f := w.f
	for ctx.Err() == nil {
		block := f.nextBlock.Add(1) - 1
		first := block * BlockSize
		if f.cfg.Cases > 0 && int64(first) >= f.cfg.Cases {
			if u := w.unsure.Load(); u != nil && !w.check(ctx) {
				c := *u
				w.unsure.Store(nil)
				w.drop()
				w.triageWith(ctx, c, nil, Verdict{})
			}
			return
		}
		bases, err := f.fb.bases(ctx, block)
		if err != nil {
			return
		}
		n := uint64(BlockSize)
		if f.cfg.Cases > 0 {
			n = min(n, uint64(f.cfg.Cases)-first)
		}
		for i := first; i < first+n; i++ {
			if err := f.limiter.Wait(ctx); err != nil {
				return
			}
			c := w.gen.Generate(i, bases)
			if f.cfg.onCase != nil {
				f.cfg.onCase(c)
			}
			if !w.runCase(ctx, c) {
				return
			}
			f.done.Add(1)
		}
		if ctx.Err() == nil {
			f.fb.blockDone(block)
		}
	}
}

// drop closes the worker's connection.
func (w *worker) drop() {
	w.cn.close()
	w.cn = nil
	w.history = w.history[:0]
}

// runCase runs one case and handles what it shows; false means the run
// is over.
func (w *worker) runCase(ctx context.Context, c Case) bool {
	f := w.f
	w.last.Store(&c)
	f.gate.RLock()
	obs, reused := w.exchange(ctx, c)
	if reused && obs.CVR.Bytes == 0 && (obs.CVR.End == endEOF || obs.CVR.End == endReset) {
		// A kept connection the server dropped meanwhile: run it afresh.
		w.drop()
		obs, _ = w.exchange(ctx, c)
	}
	f.gate.RUnlock()
	if ctx.Err() != nil {
		return false
	}
	v, sus := f.oracle.judge(&obs)
	healthy := w.cn != nil && obs.end() == endOpen && obs.CVR.answered() && obs.CVR.Probe == probeNone &&
		endsLine(c.CVR) && v.Kind == "" && len(obs.CVR.Replies) > 0 && reusable(obs.CVR.Replies[len(obs.CVR.Replies)-1].Class)
	if healthy {
		w.history = append(w.history, c)
		if len(w.history) > historyLen {
			w.history = append(w.history[:0], w.history[1:]...)
		}
	}
	f.fb.observe(c, obs.key())
	if u := w.unsure.Load(); u != nil {
		// The last case closed its connection without an answer: this
		// one tells whether the target is still alive.
		// It stays visible to the other workers' triage until then.
		prev := *u
		if !obs.anyReply() && !w.check(ctx) {
			w.drop()
			w.triageWith(ctx, prev, []Case{c}, Verdict{})
			w.unsure.Store(nil)
			return ctx.Err() == nil
		}
		w.unsure.Store(nil)
	}
	if sus == suspectClosed {
		// Closing without a reply is legitimate unless the target died:
		// the next case, on a fresh connection, tells.
		w.unsure.Store(&c)
		sus = suspectNone
		if x := f.oracle.exec(); x != nil {
			if _, exited := x.Exited(); exited {
				w.unsure.Store(nil)
				w.triage(ctx, c, v)
				return ctx.Err() == nil
			}
		}
	}
	if sus == suspectNone && (v.Kind == "" || f.hit(v.Signature)) {
		if !healthy {
			w.drop()
		}
		return true
	}
	if ctx.Err() == nil {
		w.triage(ctx, c, v)
	}
	return ctx.Err() == nil
}

// reusable reports whether a connection stays usable after a reply of
// this class.
func reusable(class string) bool {
	return class == "CVR" || class == "CVQ" || class == "420" || class == "710"
}

// exchange runs c on the worker's connection when it opened with the
// same VER bytes and the target has not restarted since, else on a new
// one. It reports whether the connection was reused.
func (w *worker) exchange(ctx context.Context, c Case) (obs observation, reused bool) {
	f := w.f
	gen := f.oracle.generation()
	if w.cn != nil && (w.cn.gen != gen || len(c.VER) == 0 || !bytes.Equal(w.cn.ver, c.VER)) {
		w.retire(ctx)
	}
	if w.cn != nil {
		reused = true
		obs.VER = w.verSeen
		obs.Dialect = w.cn.dialect
	} else {
		w.cn = f.x.open(ctx, c.VER, gen, &obs)
		w.verSeen = obs.VER
		w.history = w.history[:0]
		if w.cn == nil {
			return obs, false
		}
		if len(c.VER) > 0 && obs.VER.End != endOpen {
			return obs, false
		}
	}
	f.x.runCVR(ctx, w.cn, c.CVR, &obs)
	return obs, reused
}

// retire closes the connection after checking, with a valid CVR, that
// the last case left it answering; a connection that no longer answers
// is a wedge to pin on one of its cases.
func (w *worker) retire(ctx context.Context) {
	if len(w.history) == 0 {
		w.drop()
		return
	}
	var p phase
	w.f.x.run(ctx, w.cn, probeLine(w.cn.dialect), nil, &p)
	if p.End != endTimeout || ctx.Err() != nil {
		w.drop()
		return
	}
	last := w.history[len(w.history)-1]
	hist := append([]Case(nil), w.history[:len(w.history)-1]...)
	w.drop()
	// retire runs under the shared gate: hand the triage over to after it.
	w.f.gate.RUnlock()
	w.triageWith(ctx, last, hist, Verdict{})
	w.f.gate.RLock()
}

// hit counts a case whose signature is known already.
func (f *Fuzzer) hit(sig string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	fd, ok := f.findings[sig]
	if ok {
		fd.Hits++
		f.hits++
	}
	return ok
}

func (w *worker) triage(ctx context.Context, c Case, seen Verdict) {
	hist := append([]Case(nil), w.history...)
	if len(hist) > 0 && hist[len(hist)-1].Index == c.Index {
		hist = hist[:len(hist)-1]
	}
	w.drop()
	w.triageWith(ctx, c, hist, seen)
}

// triageWith pins a suspicious case's failure on the case that caused
// it, with the target to itself: the case alone on a fresh connection,
// then the earlier cases of its connection, most recent first, then all
// of them in a row; for a crash, also the other workers' last cases.
func (w *worker) triageWith(ctx context.Context, c Case, hist []Case, seen Verdict) {
	f := w.f
	f.gate.Lock()
	defer f.gate.Unlock()
	if ctx.Err() != nil {
		return
	}
	o := f.oracle
	x := o.exec()
	state := o.alive(ctx)
	var crashExit *ExitInfo
	if state != alive {
		if x == nil {
			w.externalCrash(ctx, c, state)
			return
		}
		if info, ok := x.WaitExit(ctx, o.timeout()); ok {
			crashExit = &info
		}
	}
	candidates := []Case{c}
	var others []Case
	if state != alive {
		// Another connection's case may have killed it: the one before
		// the case its worker runs, if it closed unanswered (the likelier
		// culprit: try those first), or the one it runs.
		for _, other := range f.workers {
			if other == w {
				continue
			}
			if u := other.unsure.Load(); u != nil {
				candidates = append(candidates, *u)
			}
			if l := other.last.Load(); l != nil {
				others = append(others, *l)
			}
		}
	}
	for i := len(hist) - 1; i >= 0; i-- {
		candidates = append(candidates, hist[i])
	}
	candidates = append(candidates, others...)
	if len(hist) > 0 {
		candidates = append(candidates, sequence(append(hist, c)))
	}
	// When the target died, the case to blame is one that kills it
	// again; a lesser defect a candidate shows is recorded too.
	var lesser *Case
	var lesserV Verdict
	for _, cand := range candidates {
		v, err := o.examine(ctx, cand.Case, state != alive)
		if err != nil {
			if ctx.Err() == nil {
				f.setFatal(err)
			}
			return
		}
		if x != nil && v.Kind != KindCrash {
			if _, exited := x.Exited(); exited {
				// It died after the grace Examine gives it: still this
				// case's doing, as the next one restarts it.
				v = o.crashVerdict(ctx, &observation{}, refused)
			}
		}
		switch {
		case v.Kind == "":
		case state == alive || v.Kind == KindCrash:
			f.record(ctx, cand, v, true)
			w.recover(ctx)
			return
		case lesser == nil:
			lesser, lesserV = &cand, v
		}
	}
	if lesser != nil {
		f.record(ctx, *lesser, lesserV, true)
	}
	if crashExit != nil {
		// The process died, and no candidate kills it again on its own.
		v := Verdict{Kind: KindCrash, Exit: crashExit, Stderr: stderrExcerpt(crashExit.Stderr),
			Signature: "crash: " + crashExit.String(), Detail: "the target exited (" + crashExit.String() + "); no single case reproduces it"}
		if p, ok := ParsePanic(crashExit.Stderr); ok {
			v.Signature = "crash: " + p.Signature()
		}
		f.record(ctx, c, v, false)
	} else {
		f.mu.Lock()
		f.unconfirmed++
		f.mu.Unlock()
	}
	w.recover(ctx)
}

// recover leaves the target running after a triage.
func (w *worker) recover(ctx context.Context) {
	if err := w.f.oracle.ensureRunning(ctx); err != nil && ctx.Err() == nil {
		w.f.setFatal(err)
	}
}

// externalCrash records a crash of a target cvrswarm cannot restart and
// waits for it to come back.
func (w *worker) externalCrash(ctx context.Context, c Case, state liveness) {
	f := w.f
	var obs observation
	v := f.oracle.crashVerdict(ctx, &obs, state)
	v.Signature = "crash: the target stops accepting"
	if state == closedConn {
		v.Signature = "crash: the target closes new connections"
	}
	f.record(ctx, c, v, false)
	deadline := time.Now().Add(f.cfg.RecoverWait)
	for time.Now().Before(deadline) {
		t := time.NewTimer(100 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if f.oracle.alive(ctx) == alive {
			return
		}
	}
	f.setFatal(fmt.Errorf("fuzz: target %s stopped accepting after case %d and did not come back within %s",
		targetName(f.oracle.Target), c.Index, f.cfg.RecoverWait))
}

// sequence joins cases run one after the other on a connection into one
// case: the VER bytes of the first and every CVR line in a row.
func sequence(cs []Case) Case {
	out := Case{Index: cs[len(cs)-1].Index, Parent: cs[0].Parent}
	out.VER = cs[0].VER
	for _, c := range cs {
		out.CVR = append(out.CVR, c.CVR...)
		out.Mutators = append(out.Mutators, c.Mutators...)
	}
	return out
}

// record adds a confirmed verdict: a new signature is shrunk and saved, a
// known one counts a hit and keeps the smaller input. A case that
// reproduces a finding no case reproduced before takes its place.
func (f *Fuzzer) record(ctx context.Context, c Case, v Verdict, reproduced bool) {
	f.mu.Lock()
	f.hits++
	old, known := f.findings[v.Signature]
	if known {
		old.Hits++
		if !reproduced || old.Reproduced {
			if reproduced && caseLen(c.Case) < caseLen(old.MinimizedCase()) {
				old.MinimizedVER, old.MinimizedCVR, old.Minimized = c.VER, c.CVR, quoteCase(c.Case)
				if f.cfg.FindingsDir != "" {
					if err := old.save(f.cfg.FindingsDir, f.replayPrefix()); err != nil {
						f.mu.Unlock()
						f.setFatal(err)
						return
					}
				}
			}
			f.mu.Unlock()
			return
		}
	}
	f.mu.Unlock()
	minimized, runs := c.Case, 0
	if reproduced && f.cfg.MinimizeRuns > 0 {
		minimized, runs = f.minimize(ctx, c.Case, v.Signature)
	}
	fd := &Finding{Kind: v.Kind, Signature: v.Signature, Hits: 1, Detail: v.Detail,
		Input: quoteCase(c.Case), Minimized: quoteCase(minimized),
		InputVER: c.VER, InputCVR: c.CVR, MinimizedVER: minimized.VER, MinimizedCVR: minimized.CVR,
		Seed: f.cfg.Seed, Case: c.Index, Mutators: c.Mutators, Parent: c.Parent, Reproduced: reproduced,
		MinimizeRuns: runs, Stderr: v.Stderr, Target: targetName(f.oracle.Target), Strict: v.Kind == KindDeviation,
		Time: time.Now()}
	if v.Exit != nil {
		fd.Exit = v.Exit.String()
	}
	if fd.Mutators == nil {
		fd.Mutators = []string{}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if known {
		fd.Hits, fd.File = old.Hits, old.File // the old input file is replaced
	}
	if f.cfg.FindingsDir != "" {
		if err := fd.save(f.cfg.FindingsDir, f.replayPrefix()); err != nil {
			f.fatal = err
			f.cancel()
			return
		}
	}
	f.findings[v.Signature] = fd
	if known {
		return
	}
	f.order = append(f.order, v.Signature)
	if f.cfg.onFinding != nil {
		f.cfg.onFinding(*fd)
	}
}

// replayPrefix is the replay command without the record: the configured
// command and a -timeout when it is not the default.
func (f *Fuzzer) replayPrefix() string {
	s := f.cfg.ReplayCommand
	if f.oracle.Timeout > 0 && f.oracle.Timeout != DefaultTimeout {
		s += " -timeout " + f.oracle.Timeout.String()
	}
	if f.oracle.AmplifyLimit > 0 && f.oracle.AmplifyLimit != DefaultAmplifyLimit {
		s += fmt.Sprintf(" -amplify %d", f.oracle.AmplifyLimit)
	}
	return s
}
