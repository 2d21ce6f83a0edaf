package fuzz

import (
	"context"
	"fmt"
	"time"
)

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

func (w *worker) triage(ctx context.Context, c Case) {
	hist := append([]Case(nil), w.history...)
	if len(hist) > 0 && hist[len(hist)-1].Index == c.Index {
		hist = hist[:len(hist)-1]
	}
	w.drop()
	w.triageWith(ctx, c, hist)
}

// triageWith pins a suspicious case's failure on the case that caused
// it, with the target to itself: the case alone on a fresh connection,
// then the earlier cases of its connection, most recent first, then all
// of them in a row; for a crash, also the other workers' last cases.
func (w *worker) triageWith(ctx context.Context, c Case, hist []Case) {
	f := w.f
	f.gate.Lock()
	defer f.gate.Unlock()
	if ctx.Err() != nil {
		return
	}
	defer w.recover(ctx)
	o := f.oracle
	state := o.alive(ctx)
	var crashExit *ExitInfo
	if state != alive {
		x := o.exec()
		if x == nil {
			w.externalCrash(ctx, c, state)
			return
		}
		if info, ok := x.WaitExit(ctx, o.timeout()); ok {
			crashExit = &info
		}
	}
	culprit, v, err := f.blame(ctx, w.suspects(c, hist, state), state)
	if err != nil {
		if ctx.Err() == nil {
			f.setFatal(err)
		}
		return
	}
	if v.Kind != "" {
		f.record(ctx, culprit, v, true)
	}
	switch {
	case v.Kind == KindCrash || (state == alive && v.Kind != ""):
	case crashExit != nil:
		// The process died, and no candidate kills it again on its own.
		f.record(ctx, c, unblamedCrash(*crashExit), false)
	default:
		f.mu.Lock()
		f.unconfirmed++
		f.mu.Unlock()
	}
}

// suspects lists the cases that may have caused c's failure, likeliest
// first: c, the earlier cases of its connection, most recent first, and,
// when the target died, the other workers' cases (the one before the
// case each runs, when it closed unanswered, then the one it runs); last,
// the connection's cases all in a row.
func (w *worker) suspects(c Case, hist []Case, state liveness) []Case {
	out := []Case{c}
	var others []Case
	if state != alive {
		for _, other := range w.f.workers {
			if other == w {
				continue
			}
			if u := other.unsure.Load(); u != nil {
				out = append(out, *u)
			}
			if l := other.last.Load(); l != nil {
				others = append(others, *l)
			}
		}
	}
	for i := len(hist) - 1; i >= 0; i-- {
		out = append(out, hist[i])
	}
	out = append(out, others...)
	if len(hist) > 0 {
		out = append(out, sequence(append(hist, c)))
	}
	return out
}

// blame examines the suspects in turn and returns the first that shows a
// defect, or, when the target died, the first that kills it again, else
// the first that shows a lesser defect.
func (f *Fuzzer) blame(ctx context.Context, suspects []Case, state liveness) (Case, Verdict, error) {
	o := f.oracle
	x := o.exec()
	var lesser Case
	var lesserV Verdict
	for _, cand := range suspects {
		v, err := o.examine(ctx, cand.Case, state != alive)
		if err != nil {
			return Case{}, Verdict{}, err
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
			return cand, v, nil
		case lesserV.Kind == "":
			lesser, lesserV = cand, v
		}
	}
	return lesser, lesserV, nil
}

// unblamedCrash is the verdict on a process exit no single case
// reproduces.
func unblamedCrash(info ExitInfo) Verdict {
	v := Verdict{Kind: KindCrash, Exit: &info, Stderr: stderrExcerpt(info.Stderr),
		Signature: "crash: " + info.String(), Detail: "the target exited (" + info.String() + "); no single case reproduces it"}
	if p, ok := ParsePanic(info.Stderr); ok {
		v.Signature = "crash: " + p.Signature()
	}
	return v
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
	f.findings[v.Signature] = fd // kept in the result even when it cannot be saved
	if !known {
		f.order = append(f.order, v.Signature)
	}
	if f.cfg.FindingsDir != "" {
		if err := fd.save(f.cfg.FindingsDir, f.replayPrefix()); err != nil && f.fatal == nil {
			f.fatal = err
			f.cancel()
		}
	}
	if !known && f.cfg.onFinding != nil {
		f.cfg.onFinding(*fd)
	}
}
