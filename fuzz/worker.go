package fuzz

import (
	"bytes"
	"context"
	"sync/atomic"
)

// worker runs blocks of cases on a connection it keeps while the target
// answers.
type worker struct {
	f         *Fuzzer
	id        int
	gen       Generator
	cn        *conn
	verSeen   phase  // the VER phase the connection opened with
	history   []Case // the cases run on cn, oldest first
	lastReply string // the class of the last reply on cn, for a wedge's signature
	last      atomic.Pointer[Case]
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
		if f.noMore.Load() || (f.cfg.Cases > 0 && int64(first) >= f.cfg.Cases) {
			if u := w.unsure.Load(); u != nil && !w.check(ctx) {
				c := *u
				w.unsure.Store(nil)
				w.drop()
				w.triageWith(ctx, c, nil)
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
		f.openBlock(block, n)
		for i := first; i < first+n; i++ {
			if err := f.limiter.Wait(ctx); err != nil {
				return
			}
			c := w.gen.Generate(i, bases)
			if f.cfg.onCase != nil {
				f.cfg.onCase(c)
			}
			if !w.runCase(ctx, c, block) {
				return
			}
		}
		f.release(block)
		if ctx.Err() == nil {
			w.shrinkSome(ctx)
		}
	}
}

// drop closes the worker's connection.
func (w *worker) drop() {
	w.cn.close()
	w.cn = nil
	w.history = w.history[:0]
}

// caseState is what a case asks of its worker once judged.
type caseState uint8

const (
	caseHealthy caseState = iota // every line answered, nothing wrong: the connection is kept for the next case
	caseDone                     // nothing new to pursue, but the connection is not reusable: it is dropped
	caseUnsure                   // closed without an answer: harmless unless the target died, which the next case tells
	caseSuspect                  // a new signature, to confirm on a fresh connection and pin on a case
)

// state says what the judged case asks of its worker. A case that shows
// the signature of a confirmed finding (or of one being confirmed) is a
// hit: counted, not confirmed again.
func (w *worker) state(c Case, obs *observation, v Verdict, sus suspicion, owned bool) caseState {
	switch {
	case v.Kind != "" && !w.f.hit(v.Signature, sus != suspectHang):
		return caseSuspect
	case v.Kind != "":
		return caseDone
	case sus == suspectClosed:
		return caseUnsure
	case owned && w.cn != nil && obs.end() == endOpen && obs.CVR.answered() && obs.CVR.Probe == probeNone &&
		endsLine(c.CVR) && len(obs.CVR.Replies) > 0 && reusable(obs.CVR.Replies[len(obs.CVR.Replies)-1].Class):
		return caseHealthy
	}
	return caseDone
}

// sign completes the verdict on a case with what its suspicion claims: a
// hang or a reset, and what drives an amplification, so that a hit of a
// known signature needs nothing more.
func (w *worker) sign(ctx context.Context, c Case, obs *observation, v Verdict, sus suspicion) Verdict {
	switch sus {
	case suspectHang:
		v = v.worse(hangVerdict(obs))
	case suspectReset:
		v = v.worse(resetVerdict(obs))
	}
	if v.Kind == KindAmplification {
		w.f.gate.RLock()
		v = w.f.oracle.attribute(ctx, w.f.x, c.Case, obs, v)
		w.f.gate.RUnlock()
	}
	return v
}

// runCase runs one case and handles what it shows; false means the run
// is over. A case whose probe is waiting for its answer is parked: its
// connection waits beside the worker, which goes on.
func (w *worker) runCase(ctx context.Context, c Case, block uint64) bool {
	f := w.f
	c.gen = f.oracle.generation()
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
	if obs.CVR.End == endPending {
		return w.park(ctx, c, &obs, block)
	}
	w.settle(ctx, c, &obs, nil, false)
	f.caseFinished(block)
	return ctx.Err() == nil
}

// maxParked is how many connections per worker may wait for a probe's
// answer beside it.
const maxParked = 4

// park hands the case's connection to a goroutine of the run that waits
// for the probe's answer and then settles the case; when maxParked
// connections per worker wait already, it waits for one to end first.
func (w *worker) park(ctx context.Context, c Case, obs *observation, block uint64) bool {
	f := w.f
	cn, hist := w.cn, append([]Case(nil), w.history...)
	w.cn = nil
	w.history = w.history[:0]
	select {
	case f.parkSlots <- struct{}{}:
	case <-ctx.Done():
		cn.close()
		return false
	}
	f.parked.Go(func() {
		defer func() { <-f.parkSlots }()
		f.x.resume(ctx, cn, &obs.CVR)
		cn.close()
		if ctx.Err() == nil {
			w.settle(ctx, c, obs, hist, true)
			f.caseFinished(block)
		}
	})
	return true
}

// settle judges a case that has run and does what it asks: keep the
// worker's connection, drop it, leave the case for the next one to tell
// whether the target died, or confirm a new signature. A parked case
// (its connection gone, the earlier cases of its connection in hist) is
// settled beside the worker, and touches none of the worker's own state.
func (w *worker) settle(ctx context.Context, c Case, obs *observation, hist []Case, parked bool) {
	f := w.f
	v, sus := f.oracle.judge(obs)
	if sus != suspectHang {
		f.fb.observe(c, obs.key())
	}
	if u := w.unsure.Load(); u != nil && !parked {
		// The last case closed its connection without an answer: this
		// one tells whether the target still answers. Until then other
		// workers' triage sees it as a suspect.
		dead := !obs.anyReply() && !w.check(ctx)
		w.unsure.Store(nil)
		if dead {
			w.drop()
			w.triageWith(ctx, *u, []Case{c})
			return
		}
	}
	v = w.sign(ctx, c, obs, v, sus)
	switch w.state(c, obs, v, sus, !parked) {
	case caseHealthy:
		w.history = append(w.history, c)
		if len(w.history) > historyLen {
			w.history = append(w.history[:0], w.history[1:]...)
		}
		w.lastReply = lastReplyClass(obs)
	case caseDone:
		if !parked {
			w.drop()
		}
	case caseUnsure:
		if parked {
			if !w.check(ctx) {
				w.triageWith(ctx, c, nil)
			}
			return
		}
		// Other workers' triage reads it while the target's fate is
		// open.
		w.unsure.Store(&c)
		w.drop()
		if x := f.oracle.exec(); x != nil {
			if _, exited := x.Exited(); exited {
				w.unsure.Store(nil)
				w.triageWith(ctx, c, nil)
			}
		}
	case caseSuspect:
		if !parked {
			hist = append([]Case(nil), w.history...)
			w.drop()
		}
		w.confirm(ctx, c, hist, v)
	}
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
	gen := c.gen
	obs.Gen = gen
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
	w.cn.parkable = true
	f.x.runCVR(ctx, w.cn, c.CVR, &obs)
	w.cn.parkable = false
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
	v := verdict(KindWedge, "no reply to a valid CVR after "+w.lastReply, "")
	w.drop()
	if w.f.hit(v.Signature, true) {
		return
	}
	// retire runs under the shared gate, as confirm takes it.
	w.f.gate.RUnlock()
	w.confirm(ctx, last, hist, v)
	w.f.gate.RLock()
}
