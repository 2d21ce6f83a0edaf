package msnp

import (
	"errors"
	"fmt"
	"io"
)

// Negotiation is what came back for a VER request: the reply line, its
// head, how it answers the request and, when it does, the dialect chosen.
type Negotiation struct {
	Line    []byte     // the reply line without its terminator; valid until the next read from the Reader
	Reply   ReplyHead  // the reply's head
	Class   ReplyClass // ClassOK when Dialect was chosen; ClassUnexpected also for a dialect not offered
	Dialect Dialect    // the dialect the server chose, for ClassOK
	trid    uint32     // the TrID the request carried
}

// Err returns the reply as an error: nil for ClassOK, [ErrNoDialect] for
// "VER n 0", an *[Error] for a numeric reply, a *[SyntaxError] for a line
// that breaks the grammar, or [ErrTrIDMismatch] or [ErrUnexpectedReply]
// wrapped with the line. Call it before the Reader is read again.
func (n *Negotiation) Err() error {
	if n.Class == ClassUnexpected && n.Reply.Kind == ReplyVER {
		return fmt.Errorf("%w: VER chose %q, which was not offered", ErrUnexpectedReply, n.Reply.chosenIn(n.Line))
	}
	return classErr(n.Line, &n.Reply, n.Class, ReplyVER, n.trid)
}

// chosenIn returns the dialect a VER reply's head chose, from its line.
func (h *ReplyHead) chosenIn(line []byte) []byte { return line[h.chosen.from:h.chosen.to] }

// Handshake sends a VER request on w and reads its reply from r, before
// anything else is sent: some servers lose a CVR that arrives in the same
// read as the VER.
//
//	C: VER 1 MSNP15 MSNP8 CVR0
//	S: VER 1 MSNP15
//
// ver is the request in wire form, CRLF included: [VERRequest.Append]
// writes one, and a fuzzer may send any bytes. trid is the TrID the reply
// must carry, and offered the dialects it may choose; nil accepts any. A
// reply ending in a bare LF is taken as it is.
//
// The error is for I/O only: how the reply answers is in Class, and
// [Negotiation.Err] turns it into an error. Handshake does not allocate
// when the server chooses an offered dialect. It blocks until the reply
// comes: bound it with the connection's deadline ([BindDeadline]).
func Handshake(w io.Writer, r *Reader, ver []byte, trid uint32, offered []Dialect) (Negotiation, error) {
	if _, err := w.Write(ver); err != nil {
		return Negotiation{trid: trid}, fmt.Errorf("send VER: %w", err)
	}
	line, err := r.ReadLine()
	if err != nil && !errors.Is(err, ErrBareLF) {
		return Negotiation{trid: trid}, fmt.Errorf("read VER reply: %w", err)
	}
	n := Negotiation{Line: line, Reply: ScanReply(line), trid: trid}
	n.Class = n.Reply.Class(ReplyVER, trid)
	if n.Class == ClassOK {
		n.Dialect = pickDialect(n.Reply.chosenIn(line), offered)
		if n.Dialect == "" {
			n.Class = ClassUnexpected
		}
	}
	return n, nil
}

// pickDialect returns the dialect of offered named chosen, "" when none
// is; nil offered takes chosen as it is.
func pickDialect(chosen []byte, offered []Dialect) Dialect {
	if offered == nil {
		return Dialect(chosen)
	}
	for _, d := range offered {
		if string(d) == string(chosen) {
			return d
		}
	}
	return ""
}
