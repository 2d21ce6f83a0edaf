package fuzz

import (
	"context"
	"fmt"
	"time"
)

// hit counts a case whose signature is known: confirmed already, or,
// with pending, being confirmed (its hits then join the finding once
// confirmed).
func (f *Fuzzer) hit(sig string, pending bool) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if fd, ok := f.findings[sig]; ok {
		fd.Hits++
		f.hits++
		return true
	}
	if n, ok := f.confirming[sig]; ok && pending {
		f.confirming[sig] = n + 1
		return true
	}
	return false
}

// hitReproduced counts a case whose signature is that of a finding some
// case reproduced; false leaves the case to be pinned on a culprit.
func (f *Fuzzer) hitReproduced(sig string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	fd, ok := f.findings[sig]
	if ok && fd.Reproduced {
		fd.Hits++
		f.hits++
	}
	return ok && fd.Reproduced
}

// claim marks a signature as being confirmed; false when it is known
// already or being confirmed by another worker, which counts a hit.
func (f *Fuzzer) claim(sig string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.findings[sig]; ok {
		f.findings[sig].Hits++
		f.hits++
		return false
	}
	if _, ok := f.confirming[sig]; ok {
		f.confirming[sig]++
		return false
	}
	f.confirming[sig] = 0
	return true
}

func (f *Fuzzer) unclaim(sig string) {
	f.mu.Lock()
	delete(f.confirming, sig)
	f.mu.Unlock()
}

// confirm pins a new signature on the case that shows it on a fresh
// connection, waiting the whole timeout for each reply: the case alone,
// then the earlier cases of its connection, most recent first, then all
// of them in a row. Other workers go on meanwhile; should the target die,
// the crash is hunted as crashes are. A hang is confirmed however many
// workers see it at once: a wait that ran out may have been a hiccup,
// and what the whole timeout sees goes to the feedback.
func (w *worker) confirm(ctx context.Context, c Case, hist []Case, seen Verdict) {
	f := w.f
	if seen.Kind != KindHang {
		if !f.claim(seen.Signature) {
			return
		}
		defer f.unclaim(seen.Signature)
	}
	var first observation
	f.gate.RLock()
	culprit, v, err := f.blame(ctx, w.suspects(c, hist, alive), alive, &first)
	f.gate.RUnlock()
	if seen.Kind == KindHang && (first.VER.Sent || first.CVR.Sent) {
		// A wait the case timed out on may have been a hiccup: the
		// feedback takes what the whole timeout saw.
		f.fb.observe(c, first.key())
	}
	switch {
	case err != nil:
		if ctx.Err() == nil {
			f.setFatal(err)
		}
	case v.Kind == KindCrash:
		w.triageWith(ctx, c, hist)
	case v.Kind != "":
		f.record(culprit, v, true)
	default:
		f.mu.Lock()
		f.unconfirmed++
		f.mu.Unlock()
	}
}

// triageWith pins a crash, or a connection closed unanswered, on the
// case that caused it, with the target to itself: the case alone on a
// fresh connection, the other workers' cases, then the earlier cases of
// its connection and all of them in a row. A process exit whose
// signature is known is a hit, restarted at once.
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
	if state == alive && c.gen != o.generation() {
		return // restarted since the case ran: its crash was handled
	}
	var crashExit *ExitInfo
	if state != alive {
		x := o.exec()
		if x == nil {
			w.externalCrash(ctx, c, state)
			return
		}
		if info, ok := x.WaitExit(ctx, o.timeout()); ok {
			if f.hitReproduced(exitVerdict(info, "").Signature) {
				return
			}
			crashExit = &info
		}
	}
	culprit, v, err := f.blame(ctx, w.suspects(c, hist, state), state, nil)
	if err != nil {
		if ctx.Err() == nil {
			f.setFatal(err)
		}
		return
	}
	if v.Kind != "" {
		f.record(culprit, v, true)
	}
	switch {
	case v.Kind == KindCrash || (state == alive && v.Kind != ""):
	case crashExit != nil:
		// The process died, and no candidate kills it again on its own.
		f.record(c, unblamedCrash(*crashExit), false)
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

// blame examines the suspects in turn, waiting the whole timeout for
// each reply, and returns the first that shows a defect, or, when the
// target died, the first that kills it again, else the first that shows
// a lesser defect. What the first suspect showed is kept in first when
// it is not nil.
func (f *Fuzzer) blame(ctx context.Context, suspects []Case, state liveness, first *observation) (Case, Verdict, error) {
	o := f.oracle
	x := o.exec()
	var lesser Case
	var lesserV Verdict
	for i, cand := range suspects {
		var seen *observation
		if i == 0 {
			seen = first
		}
		v, err := o.examine(ctx, o.exchanger(), cand.Case, state != alive, seen)
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
	v := exitVerdict(info, "")
	v.Detail = "the target exited (" + info.String() + "); no single case reproduces it"
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
	f.record(c, v, false)
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
	f.setFatal(fmt.Errorf("target %s stopped accepting after case %d and did not come back within %s",
		targetName(f.oracle.Target), c.Index, f.cfg.RecoverWait))
}

// sequence joins cases run one after the other on a connection into one
// case: the VER bytes of the first and every CVR line in a row.
func sequence(cs []Case) Case {
	out := Case{Index: cs[len(cs)-1].Index, Parent: cs[0].Parent, gen: cs[len(cs)-1].gen}
	out.VER = cs[0].VER
	for _, c := range cs {
		out.CVR = append(out.CVR, c.CVR...)
		out.Mutators = append(out.Mutators, c.Mutators...)
	}
	return out
}

// record adds a confirmed verdict: a new signature is saved as found and
// queued for shrinking, a known one counts a hit and keeps the smaller
// input. A case that reproduces a finding no case reproduced before
// takes its place.
func (f *Fuzzer) record(c Case, v Verdict, reproduced bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hits++
	old, known := f.findings[v.Signature]
	if known {
		old.Hits++
		if !reproduced || old.Reproduced {
			if reproduced && caseLen(c.Case) < caseLen(old.MinimizedCase()) {
				old.MinimizedVER, old.MinimizedCVR, old.Minimized = c.VER, c.CVR, quoteCase(c.Case)
				f.save(old)
			}
			return
		}
	}
	fd := &Finding{Kind: v.Kind, Signature: v.Signature, Hits: 1 + f.confirming[v.Signature], Detail: v.Detail,
		Input: quoteCase(c.Case), Minimized: quoteCase(c.Case),
		InputVER: c.VER, InputCVR: c.CVR, MinimizedVER: c.VER, MinimizedCVR: c.CVR,
		Seed: f.cfg.Seed, Case: c.Index, Mutators: c.Mutators, Parent: c.Parent, Reproduced: reproduced,
		Stderr: v.Stderr, Target: targetName(f.oracle.Target), Strict: v.Kind == KindDeviation,
		RequestBytes: v.RequestBytes, ReplyBytes: v.ReplyBytes, Ratio: v.Ratio, Time: time.Now()}
	if n, ok := f.confirming[v.Signature]; ok {
		f.hits += n
		f.confirming[v.Signature] = 0
	}
	if v.Exit != nil {
		fd.Exit = v.Exit.String()
	}
	if fd.Mutators == nil {
		fd.Mutators = []string{}
	}
	if known {
		fd.Hits, fd.File = old.Hits, old.File // the old input file is replaced
	}
	f.findings[v.Signature] = fd
	f.save(fd)
	if reproduced && f.cfg.MinimizeRuns > 0 {
		f.shrink.push(v.Signature)
	}
	if known {
		return
	}
	f.order = append(f.order, v.Signature)
	if f.cfg.onFinding != nil {
		f.cfg.onFinding(*fd)
	}
}

// save writes a finding's files, when findings are saved; f.mu is held.
func (f *Fuzzer) save(fd *Finding) {
	if f.cfg.FindingsDir == "" {
		return
	}
	if err := fd.save(f.cfg.FindingsDir, f.replayPrefix()); err != nil && f.fatal == nil {
		f.fatal = err
		f.cancel()
	}
}
