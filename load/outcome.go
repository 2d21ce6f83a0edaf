package load

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
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

// sent reports whether the request went out on the wire (or tried to):
// only those count in the latency histograms and the achieved rate.
func (o outcome) sent() bool { return o != ocUnsent && o != ocInterrupted }

// answered reports whether the server replied to the request, whatever
// the reply: only those count in the achieved rate, so that a server that
// refuses, resets or ignores its clients does not seem to keep up.
func (o outcome) answered() bool {
	switch o {
	case ocOK, ocVER0, ocMalformed, ocBareLF, ocUnexpected, ocTrIDMismatch, ocLineTooLong:
		return true
	}
	return o.isCode()
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
