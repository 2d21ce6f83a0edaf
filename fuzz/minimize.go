package fuzz

import (
	"bytes"
	"context"
	"strings"
	"time"

	"github.com/cvrswarm/cvrswarm/corpus"
)

// minShrinkStep is the least time a shrinking step is started with.
const minShrinkStep = 50 * time.Millisecond

// shrinkQueue holds the findings waiting to be shrunk, oldest first, and
// the time shrinking took so far. A finding is shrunk once, in steps
// between blocks of cases, for as long as the run has earned time for
// it (Config.MinimizeShare): the shrunk input replaces the input in its
// record only once it shows the signature again with the whole timeout.
type shrinkQueue struct {
	sigs  []string
	spent time.Duration
	busy  bool // a worker is shrinking
}

func (q *shrinkQueue) push(sig string) {
	for _, s := range q.sigs {
		if s == sig {
			return
		}
	}
	q.sigs = append(q.sigs, sig)
}

// shrinkAllowance is how long a shrinking step may take now, so that
// shrinking takes no more than the configured share of the run; f.mu is
// held.
func (f *Fuzzer) shrinkAllowance() time.Duration {
	share := f.cfg.MinimizeShare
	if share >= 1 {
		return f.cfg.MinimizeTime
	}
	elapsed := time.Since(f.start)
	return time.Duration((share*float64(elapsed) - float64(f.shrink.spent)) / (1 - share))
}

// shrinkStep is one step of shrinking a finding.
type shrinkStep struct {
	fd    *Finding
	from  corpus.Case   // where the step starts: the smallest input so far
	runs  int           // the runs left to the finding
	allow time.Duration // how long the step may take
}

// nextShrink returns the step the oldest finding waiting to be shrunk
// may take now, and marks shrinking busy; false when there is none, or
// the run has not earned the time for it.
func (f *Fuzzer) nextShrink() (shrinkStep, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	allow := f.shrinkAllowance()
	if f.shrink.busy || len(f.shrink.sigs) == 0 || allow < minShrinkStep {
		return shrinkStep{}, false
	}
	f.shrink.busy = true
	fd := f.findings[f.shrink.sigs[0]]
	st := shrinkStep{fd: fd, runs: f.cfg.MinimizeRuns - fd.MinimizeRuns, allow: min(allow, f.cfg.MinimizeTime-fd.shrinkTime)}
	st.from = fd.MinimizedCase()
	if fd.shrunk != nil {
		st.from = *fd.shrunk
	}
	return st, true
}

// shrinkSome takes a step in shrinking the oldest finding waiting, when
// the run has earned the time: with the target to itself for a crash
// (shrinking restarts it), beside the other workers otherwise. When the
// finding's runs or time run out, or a step shrinks it no further, the
// result is confirmed with the whole timeout and saved.
func (w *worker) shrinkSome(ctx context.Context) {
	f := w.f
	st, ok := f.nextShrink()
	if !ok {
		return
	}
	crash := st.fd.Kind == KindCrash
	if crash {
		f.gate.Lock()
	} else {
		f.gate.RLock()
	}
	began := time.Now()
	m := &minimizer{ctx: ctx, o: f.oracle, x: f.x, sig: st.fd.Signature, left: st.runs, deadline: began.Add(st.allow)}
	out := m.run(st.from)
	done := ctx.Err() == nil && (!m.ranOut || m.left <= 0 || time.Since(began) >= st.allow)
	if done && caseLen(out) < caseLen(st.fd.MinimizedCase()) {
		// The steps waited what the target's reply times taught; the
		// record's input must show the signature with the whole timeout.
		if v, err := f.oracle.examine(ctx, f.oracle.exchanger(), out, crash, nil); err != nil || v.Signature != st.fd.Signature {
			out = st.fd.MinimizedCase()
		}
	}
	if crash {
		w.recover(ctx)
		f.gate.Unlock()
	} else {
		f.gate.RUnlock()
	}
	f.endShrink(st, out, st.runs-m.left, time.Since(began), done)
}

// endShrink takes in what a step found.
func (f *Fuzzer) endShrink(st shrinkStep, out corpus.Case, runs int, spent time.Duration, done bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fd := st.fd
	f.shrink.busy = false
	f.shrink.spent += spent
	fd.MinimizeRuns += runs
	fd.shrinkTime += spent
	fd.shrunk = &out
	if !done {
		return
	}
	f.shrink.sigs = f.shrink.sigs[1:]
	fd.shrunk = nil
	if caseLen(out) < caseLen(fd.MinimizedCase()) {
		fd.MinimizedVER, fd.MinimizedCVR, fd.Minimized = out.VER, out.CVR, quoteCase(out)
	}
	f.save(fd)
	if f.cfg.onShrunk != nil {
		f.cfg.onShrunk(*fd)
	}
}

// minimizer shrinks a case against the live target while it keeps
// showing the signature: first whole lines and fields of the CVR bytes,
// then bytes, then the same for the VER bytes, within a number of runs
// and a deadline.
type minimizer struct {
	ctx      context.Context
	o        *Oracle
	x        *exchanger
	sig      string
	left     int
	deadline time.Time
	ranOut   bool // the runs or the time ran out before the last pass ended
}

func (m *minimizer) run(c corpus.Case) corpus.Case {
	cur := corpus.Case{VER: bytes.Clone(c.VER), CVR: bytes.Clone(c.CVR)}
	withCVR := shrinker{ok: func(b []byte) bool { return m.test(corpus.Case{VER: cur.VER, CVR: b}) }, spent: m.spent}
	withVER := shrinker{ok: func(b []byte) bool { return m.test(corpus.Case{VER: b, CVR: cur.CVR}) }, spent: m.spent}
	cur.CVR = withCVR.lines(cur.CVR)
	cur.CVR = withCVR.fields(cur.CVR)
	cur.CVR = withCVR.bytes(cur.CVR)
	cur.VER = withVER.lines(cur.VER)
	cur.VER = withVER.bytes(cur.VER)
	return cur
}

// test reports whether the candidate still shows the signature; false
// once the budget is spent.
func (m *minimizer) test(c corpus.Case) bool {
	if m.spent() {
		return false
	}
	m.left--
	v, err := m.o.examine(m.ctx, m.x, c, strings.HasPrefix(m.sig, string(KindCrash)+":"), nil)
	return err == nil && v.Signature == m.sig
}

// spent reports whether the budget is used up.
func (m *minimizer) spent() bool {
	if m.left <= 0 || m.ctx.Err() != nil || time.Now().After(m.deadline) {
		m.ranOut = true
	}
	return m.ranOut
}

// shrinker removes parts of an input while ok holds, until spent.
type shrinker struct {
	ok    func([]byte) bool
	spent func() bool
}

// splitLines splits b after each LF.
func splitLines(b []byte) [][]byte {
	var lines [][]byte
	for len(b) > 0 {
		l := firstLine(b)
		lines = append(lines, l)
		b = b[len(l):]
	}
	return lines
}

// lines drops whole lines, last first.
func (s shrinker) lines(b []byte) []byte {
	lines := splitLines(b)
	for i := len(lines) - 1; i >= 0 && len(lines) > 0 && !s.spent(); i-- {
		cand := bytes.Join(append(append([][]byte(nil), lines[:i]...), lines[i+1:]...), nil)
		if s.ok(cand) {
			lines = append(lines[:i], lines[i+1:]...)
		}
	}
	return bytes.Join(lines, nil)
}

// fields drops the fields of each line, last first, then cuts each
// remaining field in half.
func (s shrinker) fields(b []byte) []byte {
	lines := splitLines(b)
	join := func() []byte { return bytes.Join(lines, nil) }
	for li := range lines {
		try := func(line []byte) bool {
			old := lines[li]
			lines[li] = line
			if s.ok(join()) {
				return true
			}
			lines[li] = old
			return false
		}
		var fl fieldList
		body, _ := splitEOL(lines[li])
		fl.split(body)
		for i := fl.n - 1; i >= 0 && !s.spent(); i-- {
			body, eol := splitEOL(lines[li])
			fl.split(body)
			if i >= fl.n {
				continue
			}
			cand := dropField(nil, body, &fl, i)
			try(append(cand, eol...))
		}
		body, _ = splitEOL(lines[li])
		fl.split(body)
		for i := 0; i < fl.n && !s.spent(); i++ {
			for !s.spent() {
				body, eol := splitEOL(lines[li])
				fl.split(body)
				if i >= fl.n || fl.f[i].hi-fl.f[i].lo < 2 {
					break
				}
				f := fl.f[i]
				half := body[f.lo : f.lo+(f.hi-f.lo)/2]
				cand := appendReplaced(nil, body, &fl, i, half)
				if !try(append(cand, eol...)) {
					break
				}
			}
		}
	}
	return join()
}

// bytes removes chunks of halving size, as delta debugging does.
func (s shrinker) bytes(b []byte) []byte {
	for chunk := len(b) / 2; chunk >= 1 && !s.spent(); chunk /= 2 {
		for i := 0; i+chunk <= len(b) && !s.spent(); {
			cand := append(append([]byte(nil), b[:i]...), b[i+chunk:]...)
			if s.ok(cand) {
				b = cand
			} else {
				i += chunk
			}
		}
	}
	return b
}
