package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/cvrswarm/cvrswarm/msnp"
)

// Outcome names: the keys of [Result.Outcomes]. Every request that was due
// gets exactly one. A numeric reply (to VER or to CVR) counts under its
// code: "420", "710", "731", "600" and so on.
const (
	OutcomeOK           = "ok"            // a well-formed CVR (or CVQ) reply with the request's TrID
	OutcomeVER0         = "ver0"          // the server accepts none of the offered dialects: "VER n 0"
	OutcomeSilent       = "silent"        // no reply within -timeout while the connection stayed open
	OutcomePartial      = "partial"       // part of a reply line arrived, but not its end, within -timeout
	OutcomeClosed       = "closed"        // the server closed the connection before replying
	OutcomeReset        = "reset"         // the connection was reset (RST)
	OutcomeRefused      = "refused"       // the connect was refused
	OutcomeDialTimeout  = "dial_timeout"  // the connect did not complete within -timeout
	OutcomeDialError    = "dial_error"    // the connect failed otherwise (no route, unknown host...)
	OutcomeNoFDs        = "no_fds"        // out of file descriptors (EMFILE, ENFILE)
	OutcomeNoPorts      = "no_ports"      // out of local ports (EADDRNOTAVAIL)
	OutcomeMalformed    = "malformed"     // a reply that breaks the grammar (or binary bytes)
	OutcomeBareLF       = "bare_lf"       // a reply line ended in LF without CR
	OutcomeUnexpected   = "unexpected"    // a well-formed reply that does not answer the request (VER to a CVR, a dialect not offered)
	OutcomeTrIDMismatch = "trid_mismatch" // a reply carrying another TrID than the request's
	OutcomeLineTooLong  = "line_too_long" // a reply line longer than the maximum line length
	OutcomeIOError      = "io_error"      // another read or write error
	OutcomeAborted      = "aborted"       // in flight on a pipelined connection given up after another request's abnormal reply
	OutcomeUnsent       = "unsent"        // due, but never sent: every connection was busy until the run ended
	OutcomeInterrupted  = "interrupted"   // in flight when the run was interrupted (Ctrl-C)
)

// outcome is an outcome as an index: the named ones, then one per numeric
// code from 0 to 999 at codeBase+code.
type outcome uint16

const (
	ocOK outcome = iota
	ocVER0
	ocSilent
	ocPartial
	ocClosed
	ocReset
	ocRefused
	ocDialTimeout
	ocDialError
	ocNoFDs
	ocNoPorts
	ocMalformed
	ocBareLF
	ocUnexpected
	ocTrIDMismatch
	ocLineTooLong
	ocIOError
	ocAborted
	ocUnsent
	ocInterrupted
	codeBase
	numOutcomes = codeBase + 1000
)

var outcomeNames = [codeBase]string{
	OutcomeOK, OutcomeVER0, OutcomeSilent, OutcomePartial, OutcomeClosed, OutcomeReset, OutcomeRefused,
	OutcomeDialTimeout, OutcomeDialError, OutcomeNoFDs, OutcomeNoPorts, OutcomeMalformed, OutcomeBareLF,
	OutcomeUnexpected, OutcomeTrIDMismatch, OutcomeLineTooLong, OutcomeIOError, OutcomeAborted,
	OutcomeUnsent, OutcomeInterrupted,
}

func codeOutcome(code int) outcome { return codeBase + outcome(code%1000) }

// String returns the outcome's key in [Result.Outcomes].
func (o outcome) String() string {
	if o < codeBase {
		return outcomeNames[o]
	}
	return strconv.Itoa(int(o - codeBase))
}

// sent reports whether the request went out on the wire (or tried to).
func (o outcome) sent() bool { return o != ocUnsent && o != ocInterrupted }

// answered reports whether a reply to the request arrived, whatever it
// was: only those have a response time, so only they count in the latency
// histograms. A refused, reset, closed or silent request waited for
// nothing.
func (o outcome) answered() bool {
	switch o {
	case ocMalformed, ocBareLF, ocLineTooLong:
		return true
	}
	return o.wellFormed()
}

// wellFormed reports whether the request's reply followed the grammar,
// error codes included: only those count in the achieved rate, so that a
// server that refuses, resets, ignores its clients or answers in another
// protocol does not seem to keep up.
func (o outcome) wellFormed() bool {
	switch o {
	case ocOK, ocVER0, ocUnexpected, ocTrIDMismatch:
		return true
	}
	return o.isCode()
}

// outcomeByName returns the outcome a [Result.Outcomes] key names.
func outcomeByName(name string) (outcome, bool) {
	for i, n := range outcomeNames {
		if n == name {
			return outcome(i), true
		}
	}
	code, err := strconv.Atoi(name)
	if err != nil || code < 0 || code > 999 || strconv.Itoa(code) != name {
		return 0, false
	}
	return codeOutcome(code), true
}

// outcomeMeanings say what an outcome is when no error text came with it.
var outcomeMeanings = map[outcome]string{
	ocAborted:     "in flight on a pipelined connection given up after another request's abnormal reply",
	ocUnsent:      "due, but never sent: every connection was busy until the run ended",
	ocInterrupted: "in flight when the run was interrupted",
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
func (c *causes) noteErr(oc outcome, what string, err error) outcome {
	if oc == ocOK || err == nil || c.first[oc].Load() != nil {
		return oc
	}
	text := strings.TrimPrefix(err.Error(), "msnp: ")
	if what != "" {
		text = what + ": " + text
	}
	c.first[oc].CompareAndSwap(nil, &text)
	return oc
}

// noteReply keeps what and the quoted reply line (its start, when long)
// as oc's first error text, unless oc has one, and returns oc.
func (c *causes) noteReply(oc outcome, what string, line []byte) outcome {
	if oc == ocOK || c.first[oc].Load() != nil {
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
// is not ok, by outcome name; an outcome that came with no error text
// gets its meaning.
func (c *causes) texts(all *counts) map[string]string {
	m := map[string]string{}
	for i, n := range all {
		oc := outcome(i)
		if n == 0 || oc == ocOK {
			continue
		}
		if p := c.first[oc].Load(); p != nil {
			m[oc.String()] = *p
		} else if meaning, ok := outcomeMeanings[oc]; ok {
			m[oc.String()] = meaning
		}
	}
	return m
}

// classifyReply judges one reply line (terminator removed) to a CVR whose
// TrID was trid; checkTrID false accepts any TrID (a mutated request's may
// be mangled). It allocates nothing.
func classifyReply(line []byte, trid uint32, checkTrID bool) outcome {
	h := msnp.ScanReply(line)
	if !checkTrID {
		trid = h.TrID
	}
	return replyOutcome(h.Class(msnp.ReplyCVR, trid), h.Code)
}

// replyOutcome names a reply's class; code is its error code.
func replyOutcome(c msnp.ReplyClass, code int) outcome {
	switch c {
	case msnp.ClassOK:
		return ocOK
	case msnp.ClassError:
		return codeOutcome(code)
	case msnp.ClassRefused:
		return ocVER0
	case msnp.ClassUnexpected:
		return ocUnexpected
	case msnp.ClassTrIDMismatch:
		return ocTrIDMismatch
	}
	return ocMalformed
}

// classifyIO names a read or write error on an open connection; pending
// tells a timeout with part of a line received from one with nothing.
func classifyIO(err error, pending bool) outcome {
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		if pending {
			return ocPartial
		}
		return ocSilent
	case errors.Is(err, msnp.ErrLineTooLong):
		return ocLineTooLong
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.EPIPE):
		return ocClosed
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNABORTED):
		return ocReset
	}
	return ocIOError
}

// classifyDial names a connect error.
func classifyDial(err error) outcome {
	var ne net.Error
	switch {
	case errors.Is(err, context.Canceled):
		return ocInterrupted
	case errors.Is(err, syscall.ECONNREFUSED):
		return ocRefused
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		return ocNoFDs
	case errors.Is(err, syscall.EADDRNOTAVAIL), errors.Is(err, syscall.EADDRINUSE):
		return ocNoPorts
	case errors.Is(err, syscall.ECONNRESET):
		return ocReset
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return ocDialTimeout
	}
	return ocDialError
}
