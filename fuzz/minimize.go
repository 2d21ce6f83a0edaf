package fuzz

import (
	"bytes"
	"context"
	"strings"
	"time"

	"github.com/cvrswarm/cvrswarm/corpus"
)

// minimize shrinks c against the live target while it keeps showing the
// signature: first whole lines and fields of the CVR bytes, then bytes,
// then the same for the VER bytes. It returns the smallest case and the
// number of executions spent.
func (f *Fuzzer) minimize(ctx context.Context, c corpus.Case, sig string) (corpus.Case, int) {
	m := &minimizer{ctx: ctx, o: f.oracle, sig: sig, left: f.cfg.MinimizeRuns,
		deadline: time.Now().Add(f.cfg.MinimizeTime)}
	return m.run(c), f.cfg.MinimizeRuns - m.left
}

type minimizer struct {
	ctx      context.Context
	o        *Oracle
	sig      string
	left     int
	deadline time.Time
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
	v, err := m.o.examine(m.ctx, c, strings.HasPrefix(m.sig, string(KindCrash)+":"))
	return err == nil && v.Signature == m.sig
}

// spent reports whether the budget is used up.
func (m *minimizer) spent() bool {
	return m.left <= 0 || m.ctx.Err() != nil || time.Now().After(m.deadline)
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
