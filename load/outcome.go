package load

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/cvrswarm/cvrswarm/msnp"
)

// Outcome is how one request that was due ended: a well-formed reply, a
// numeric error (one outcome per code, from [CodeOutcome]), or a way of
// failing. Every request that was due gets exactly one. In JSON, and as a
// key of [Counts], it is its name: "ok", "silent", "420" and so on.
type Outcome uint16

// The named outcomes; a numeric reply (to VER or to CVR) counts under
// CodeOutcome(code) instead.
const (
	OutcomeOK           Outcome = iota // "ok": a well-formed CVR (or CVQ) reply with the request's TrID
	OutcomeVER0                        // "ver0": the server accepts none of the offered dialects: "VER n 0"
	OutcomeSilent                      // "silent": no reply within -timeout while the connection stayed open
	OutcomePartial                     // "partial": part of a reply line arrived, but not its end, within -timeout
	OutcomeClosed                      // "closed": the server closed the connection before replying
	OutcomeReset                       // "reset": the connection was reset (RST)
	OutcomeRefused                     // "refused": the connect was refused
	OutcomeDialTimeout                 // "dial_timeout": the connect did not complete within -timeout
	OutcomeDialError                   // "dial_error": the connect failed otherwise (no route, unknown host...)
	OutcomeNoFDs                       // "no_fds": out of file descriptors (EMFILE, ENFILE)
	OutcomeNoPorts                     // "no_ports": out of local ports (EADDRNOTAVAIL)
	OutcomeMalformed                   // "malformed": a reply that breaks the grammar (or binary bytes)
	OutcomeBareLF                      // "bare_lf": a reply line ended in LF without CR
	OutcomeUnexpected                  // "unexpected": a well-formed reply that does not answer the request (VER to a CVR, a dialect not offered)
	OutcomeTrIDMismatch                // "trid_mismatch": a reply carrying another TrID than the request's
	OutcomeLineTooLong                 // "line_too_long": a reply line longer than the maximum line length
	OutcomeIOError                     // "io_error": another read or write error
	OutcomeAborted                     // "aborted": in flight on a pipelined connection given up after another request's abnormal reply
	OutcomeUnsent                      // "unsent": due, but never sent: every connection was busy until the run ended
	OutcomeInterrupted                 // "interrupted": in flight when the run was interrupted (Ctrl-C)
	codeBase                           // CodeOutcome(code) is codeBase+code
	numOutcomes         = codeBase + 1000
)

var outcomeNames = [codeBase]string{
	"ok", "ver0", "silent", "partial", "closed", "reset", "refused", "dial_timeout", "dial_error", "no_fds",
	"no_ports", "malformed", "bare_lf", "unexpected", "trid_mismatch", "line_too_long", "io_error", "aborted",
	"unsent", "interrupted",
}

// CodeOutcome returns the outcome of a numeric reply with the given code,
// 0 to 999.
func CodeOutcome(code int) Outcome { return codeBase + Outcome(code%1000) }

// Code returns the error code of a numeric reply's outcome, and whether o
// is one.
func (o Outcome) Code() (int, bool) {
	if o < codeBase || o >= numOutcomes {
		return 0, false
	}
	return int(o - codeBase), true
}

// String returns the outcome's name.
func (o Outcome) String() string {
	switch code, ok := o.Code(); {
	case ok:
		return strconv.Itoa(code)
	case o < codeBase:
		return outcomeNames[o]
	}
	return "Outcome(" + strconv.Itoa(int(o)) + ")"
}

// MarshalText returns the outcome's name.
func (o Outcome) MarshalText() ([]byte, error) {
	if o >= numOutcomes {
		return nil, fmt.Errorf("no outcome %d", uint16(o))
	}
	return []byte(o.String()), nil
}

// UnmarshalText reads an outcome's name.
func (o *Outcome) UnmarshalText(b []byte) error {
	got, err := ParseOutcome(string(b))
	if err != nil {
		return err
	}
	*o = got
	return nil
}

// ParseOutcome returns the outcome with the given name: one of the named
// outcomes, or an error code from 0 to 999.
func ParseOutcome(name string) (Outcome, error) {
	for i, n := range outcomeNames {
		if n == name {
			return Outcome(i), nil
		}
	}
	if code, err := strconv.Atoi(name); err == nil && code >= 0 && code < 1000 && strconv.Itoa(code) == name {
		return CodeOutcome(code), nil
	}
	return 0, fmt.Errorf("unknown outcome %q", name)
}

// isCode reports whether o is a numeric reply's outcome.
func (o Outcome) isCode() bool { return o >= codeBase }

// Counts holds how many requests ended with each outcome. In JSON it is an
// object keyed by outcome name: {"ok": 9990, "420": 10}.
type Counts map[Outcome]int64

// Total returns the sum of the counts.
func (c Counts) Total() int64 {
	var n int64
	for _, v := range c {
		n += v
	}
	return n
}

// Add adds every count of src to c, which must not be nil.
func (c Counts) Add(src Counts) {
	for k, v := range src {
		c[k] += v
	}
}

// Sorted returns the outcomes counted: "ok" first, then by count, largest
// first, then by name.
func (c Counts) Sorted() []Outcome {
	keys := slices.Collect(maps.Keys(c))
	slices.SortFunc(keys, func(a, b Outcome) int {
		if (a == OutcomeOK) != (b == OutcomeOK) {
			if a == OutcomeOK {
				return -1
			}
			return 1
		}
		if c[a] != c[b] {
			return cmp.Compare(c[b], c[a])
		}
		return strings.Compare(a.String(), b.String())
	})
	return keys
}

// sent reports whether the request went out on the wire (or tried to).
func (o Outcome) sent() bool { return o != OutcomeUnsent && o != OutcomeInterrupted }

// answered reports whether a reply to the request arrived, whatever it
// was: only those have a response time, so only they count in the latency
// histograms. A refused, reset, closed or silent request waited for
// nothing.
func (o Outcome) answered() bool {
	switch o {
	case OutcomeMalformed, OutcomeBareLF, OutcomeLineTooLong:
		return true
	}
	return o.wellFormed()
}

// wellFormed reports whether the request's reply followed the grammar,
// error codes included: only those count in the achieved rate, so that a
// server that refuses, resets, ignores its clients or answers in another
// protocol does not seem to keep up.
func (o Outcome) wellFormed() bool {
	switch o {
	case OutcomeOK, OutcomeVER0, OutcomeUnexpected, OutcomeTrIDMismatch:
		return true
	}
	return o.isCode()
}

// outcomeMeanings say what an outcome is when no error text came with it.
var outcomeMeanings = map[Outcome]string{
	OutcomeAborted:     "in flight on a pipelined connection given up after another request's abnormal reply",
	OutcomeUnsent:      "due, but never sent: every connection was busy until the run ended",
	OutcomeInterrupted: "in flight when the run was interrupted",
}

// causes keeps the first error text seen for each outcome, as vegeta lists
// its errors. Noting costs one atomic load once an outcome has its text:
// the text is built only the first time.
type causes struct {
	first [numOutcomes]atomic.Pointer[string]
}

// maxQuoted bounds the part of a reply line quoted in an error text.
const maxQuoted = 64

// noteErr keeps what+": "+err as oc's first error text ("" what: err
// alone), unless oc has one, and returns oc.
func (c *causes) noteErr(oc Outcome, what string, err error) Outcome {
	if oc == OutcomeOK || err == nil || c.first[oc].Load() != nil {
		return oc
	}
	text := err.Error()
	if what != "" {
		text = what + ": " + text
	}
	c.first[oc].CompareAndSwap(nil, &text)
	return oc
}

// noteReply keeps what and the quoted reply line (its start, when long)
// as oc's first error text, unless oc has one, and returns oc.
func (c *causes) noteReply(oc Outcome, what string, line []byte) Outcome {
	if oc == OutcomeOK || c.first[oc].Load() != nil {
		return oc
	}
	quoted := strconv.Quote(string(line[:min(len(line), maxQuoted)]))
	if len(line) > maxQuoted {
		quoted += fmt.Sprintf(" (%d more bytes)", len(line)-maxQuoted)
	}
	text := what + " " + quoted
	c.first[oc].CompareAndSwap(nil, &text)
	return oc
}

// texts returns the first error text of each outcome counted in all that
// is not ok; an outcome that came with no error text gets its meaning.
func (c *causes) texts(all *counts) map[Outcome]string {
	m := map[Outcome]string{}
	for i, n := range all {
		oc := Outcome(i)
		if n == 0 || oc == OutcomeOK {
			continue
		}
		if p := c.first[oc].Load(); p != nil {
			m[oc] = *p
		} else if meaning, ok := outcomeMeanings[oc]; ok {
			m[oc] = meaning
		}
	}
	return m
}

// classifyReply judges one reply line (terminator removed) to a CVR whose
// TrID was trid; checkTrID false accepts any TrID (a mutated request's may
// be mangled). It allocates nothing.
func classifyReply(line []byte, trid uint32, checkTrID bool) Outcome {
	h := msnp.ScanReply(line)
	if !checkTrID {
		trid = h.TrID
	}
	return replyOutcome(h.Class(msnp.ReplyCVR, trid), h.Code)
}

// replyOutcome names a reply's class; code is its error code.
func replyOutcome(c msnp.ReplyClass, code int) Outcome {
	switch c {
	case msnp.ClassOK:
		return OutcomeOK
	case msnp.ClassError:
		return CodeOutcome(code)
	case msnp.ClassRefused:
		return OutcomeVER0
	case msnp.ClassUnexpected:
		return OutcomeUnexpected
	case msnp.ClassTrIDMismatch:
		return OutcomeTrIDMismatch
	}
	return OutcomeMalformed
}

// classifyIO names a read or write error on an open connection; pending
// tells a timeout with part of a line received from one with nothing.
func classifyIO(err error, pending bool) Outcome {
	switch msnp.EndOf(err) {
	case msnp.EndTimeout:
		if pending {
			return OutcomePartial
		}
		return OutcomeSilent
	case msnp.EndTooLong:
		return OutcomeLineTooLong
	case msnp.EndClosed, msnp.EndBrokenPipe: // a write after the server closed
		return OutcomeClosed
	case msnp.EndReset:
		return OutcomeReset
	}
	return OutcomeIOError
}

// classifyDial names a connect error.
func classifyDial(err error) Outcome {
	switch {
	case errors.Is(err, context.Canceled):
		return OutcomeInterrupted
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		return OutcomeNoFDs
	case errors.Is(err, syscall.EADDRNOTAVAIL), errors.Is(err, syscall.EADDRINUSE):
		return OutcomeNoPorts
	}
	switch msnp.EndOf(err) {
	case msnp.EndRefused:
		return OutcomeRefused
	case msnp.EndReset:
		return OutcomeReset
	case msnp.EndTimeout:
		return OutcomeDialTimeout
	}
	return OutcomeDialError
}
