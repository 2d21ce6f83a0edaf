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
// be mangled). It agrees with [msnp.ParseReply] and allocates nothing.
func classifyReply(line []byte, trid uint32, checkTrID bool) outcome {
	for _, c := range line {
		if c >= 0x80 { // non-ASCII: let the parser judge what separates fields
			return classifyParsed(line, trid, checkTrID)
		}
	}
	var f [3][]byte // the first three fields
	n := 0
	for i := 0; i < len(line); {
		c := line[i]
		if c < 0x20 || c == 0x7f {
			return ocMalformed
		}
		if c == ' ' {
			i++
			continue
		}
		j := i
		for j < len(line) && line[j] != ' ' {
			if line[j] < 0x20 || line[j] == 0x7f {
				return ocMalformed
			}
			j++
		}
		if n < len(f) {
			f[n] = line[i:j]
		}
		n++
		i = j
	}
	if n < 2 {
		return ocMalformed
	}
	got, ok := parseTrID(f[1])
	if !ok {
		return ocMalformed
	}
	mismatch := checkTrID && got != trid
	params := n - 2
	switch verb := f[0]; {
	case isCode(verb):
		if mismatch {
			return ocTrIDMismatch
		}
		return codeOutcome(int(verb[0]-'0')*100 + int(verb[1]-'0')*10 + int(verb[2]-'0'))
	case string(verb) == "CVR" || string(verb) == "CVQ":
		if params < 3 || params > 5 {
			return ocMalformed
		}
		if mismatch {
			return ocTrIDMismatch
		}
		return ocOK
	case string(verb) == "VER":
		if params == 0 || (params > 1 && hasZeroField(line)) {
			return ocMalformed
		}
		return ocUnexpected
	}
	return ocMalformed
}

// classifyParsed is classifyReply through [msnp.ParseReply].
func classifyParsed(line []byte, trid uint32, checkTrID bool) outcome {
	r, err := msnp.ParseReply(line)
	switch {
	case err != nil:
		return ocMalformed
	case r.Kind == msnp.ReplyVER:
		return ocUnexpected
	case checkTrID && r.TrID != trid:
		return ocTrIDMismatch
	case r.Kind == msnp.ReplyError:
		return codeOutcome(r.Code)
	}
	return ocOK
}

// hasZeroField reports whether a field of line after the TrID is "0" (a
// VER reply may be "0" alone, never "0" among dialects).
func hasZeroField(line []byte) bool {
	field := 0
	for i := 0; i < len(line); {
		if line[i] == ' ' {
			i++
			continue
		}
		j := i
		for j < len(line) && line[j] != ' ' {
			j++
		}
		if field >= 2 && j-i == 1 && line[i] == '0' {
			return true
		}
		field++
		i = j
	}
	return false
}

func isCode(b []byte) bool {
	return len(b) == 3 && b[0] >= '1' && b[0] <= '9' && b[1] >= '0' && b[1] <= '9' && b[2] >= '0' && b[2] <= '9'
}

// parseTrID reads 1 to 10 decimal digits up to 4294967295.
func parseTrID(b []byte) (uint32, bool) {
	if len(b) == 0 || len(b) > 10 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	if n > 1<<32-1 {
		return 0, false
	}
	return uint32(n), true
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
