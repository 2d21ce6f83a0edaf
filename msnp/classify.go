package msnp

import (
	"errors"
	"fmt"
)

// ReplyHead is what [ScanReply] reads from a reply line: its kind, TrID
// and error code, or what breaks the grammar. It is the grammar of
// [ParseReply] without the fields, and reading it allocates nothing, so
// it can judge every reply of a load run.
type ReplyHead struct {
	Kind    ReplyKind // ReplyCVR, ReplyError or ReplyVER; 0 when the line breaks the grammar
	Command string    // "CVR", "CVQ" or "VER"; "" for a numeric error and a malformed line
	TrID    uint32    // the TrID, when HasTrID
	HasTrID bool      // the second field is a TrID (a malformed line may have one too)
	Code    int       // the error code, for ReplyError
	Params  int       // how many fields follow the TrID
	Refused bool      // a "VER n 0" reply: no offered dialect is acceptable
	Problem string    // what breaks the grammar; "" for a well-formed line
	chosen  span      // for ReplyVER: the dialect chosen, empty when refused
}

// span is a field of a line: line[from:to].
type span struct{ from, to int }

// ScanReply reads the head of one server line, given without its
// terminator, by the same grammar as [ParseReply], and allocates nothing:
//
//	CVR 2 7.0.0813 7.0.0813 6.2.0205 http://a http://b  Kind ReplyCVR, Command "CVR", TrID 2, Params 5
//	710 5                                               Kind ReplyError, TrID 5, Code 710
//	VER 1 MSNP13 CVR0                                   Kind ReplyVER, Command "VER", TrID 1, Params 2
//	VER 1 0                                             Kind ReplyVER, TrID 1, Refused
//	CVR 2 1.0                                           Problem "CVR reply needs 3 to 5 parameters", TrID 2
func ScanReply(line []byte) ReplyHead {
	return scanReply(line, nil)
}

// scanReply is [ScanReply], also storing the span of each of the first
// len(f) fields in f.
func scanReply(line []byte, f []span) ReplyHead {
	var verb, trid span
	n := 0           // fields seen
	zero := false    // a parameter is "0"
	chosen := span{} // the first parameter other than CVR0
	cvr0 := span{}   // the first CVR0 parameter
	for i := 0; i < len(line); {
		if line[i] == ' ' {
			i++
			continue
		}
		j := i
		for ; j < len(line) && line[j] != ' '; j++ {
			if c := line[j]; c < 0x20 || c == 0x7f {
				return ReplyHead{Problem: "control byte in reply"}
			}
		}
		field := span{i, j}
		if n < len(f) {
			f[n] = field
		}
		switch {
		case n == 0:
			verb = field
		case n == 1:
			trid = field
		case j-i == 1 && line[i] == '0':
			zero = true
		case string(line[i:j]) == string(CVR0):
			if cvr0.to == 0 {
				cvr0 = field
			}
		case chosen.to == 0:
			chosen = field
		}
		n++
		i = j
	}
	if n < 2 {
		return ReplyHead{Problem: "reply without a TrID"}
	}
	var h ReplyHead
	h.TrID, h.HasTrID = parseTrID(line[trid.from:trid.to])
	if !h.HasTrID {
		h.Problem = "reply TrID is not a number from 0 to 4294967295"
		return h
	}
	h.Params = n - 2
	switch v := line[verb.from:verb.to]; {
	case isCode(v):
		h.Kind, h.Code = ReplyError, int(v[0]-'0')*100+int(v[1]-'0')*10+int(v[2]-'0')
	case string(v) == "CVR" || string(v) == "CVQ":
		if h.Params < 3 || h.Params > 5 {
			h.Problem = "CVR reply needs 3 to 5 parameters"
			return h
		}
		h.Kind, h.Command = ReplyCVR, "CVR"
		if v[2] == 'Q' {
			h.Command = "CVQ"
		}
	case string(v) == "VER":
		switch {
		case h.Params == 0:
			h.Problem = "VER reply names no dialect"
			return h
		case h.Params > 1 && zero:
			h.Problem = `VER reply mixes "0" with dialects`
			return h
		}
		h.Kind, h.Command, h.Refused = ReplyVER, "VER", zero
		h.chosen = chosen
		if chosen.to == 0 {
			h.chosen = cvr0
		}
	default:
		h.Problem = "not a CVR, VER or error reply"
	}
	return h
}

// ReplyClass is how a reply line answers a request, as [ReplyHead.Class]
// judges it. The zero value is ClassMalformed.
type ReplyClass uint8

// The ways a reply line answers a request.
const (
	ClassMalformed    ReplyClass = iota // the line breaks the grammar
	ClassOK                             // the reply the request asks for, with its TrID
	ClassError                          // a numeric error with the request's TrID: the request was refused
	ClassRefused                        // "VER n 0" in answer to VER: no offered dialect is acceptable
	ClassUnexpected                     // a well-formed reply to another request (a VER reply to a CVR), or a dialect not offered
	ClassTrIDMismatch                   // a reply or error carrying another TrID than the request's
)

var classNames = [...]string{"malformed", "ok", "error", "refused", "unexpected", "trid_mismatch"}

// String returns the class's name: "malformed", "ok", "error", "refused",
// "unexpected" or "trid_mismatch".
func (c ReplyClass) String() string {
	if int(c) < len(classNames) {
		return classNames[c]
	}
	return fmt.Sprintf("ReplyClass(%d)", uint8(c))
}

// Class judges the line as the answer to a request that asks for a reply
// of kind want (ReplyCVR for CVR and CVQ, ReplyVER for VER) and carries
// trid. To accept any TrID, for a request whose own may be mangled, pass
// h.TrID. The grammar comes first, then the kind of reply, then the TrID,
// then whether it refuses.
func (h *ReplyHead) Class(want ReplyKind, trid uint32) ReplyClass {
	switch {
	case h.Kind == 0:
		return ClassMalformed
	case h.Kind != ReplyError && h.Kind != want:
		return ClassUnexpected
	case h.TrID != trid:
		return ClassTrIDMismatch
	case h.Kind == ReplyError:
		return ClassError
	case h.Refused:
		return ClassRefused
	}
	return ClassOK
}

// ErrUnexpectedReply means a well-formed reply that does not answer the
// request: a VER reply to a CVR, a CVR reply to a VER, or a VER reply
// choosing a dialect that was not offered.
var ErrUnexpectedReply = errors.New("reply does not answer the request")

// classErr returns the error for a reply line of class c to a request
// asking for want with the given TrID: nil for ClassOK.
func classErr(line []byte, h *ReplyHead, c ReplyClass, want ReplyKind, trid uint32) error {
	switch c {
	case ClassOK:
		return nil
	case ClassMalformed:
		return syntaxErr(line, h.Problem)
	case ClassError:
		return &Error{Code: h.Code, TrID: h.TrID}
	case ClassRefused:
		return ErrNoDialect
	case ClassTrIDMismatch:
		return fmt.Errorf("%w: sent %d, got %q", ErrTrIDMismatch, trid, quoted(line))
	}
	verb := "CVR"
	if want == ReplyVER {
		verb = "VER"
	}
	return fmt.Errorf("%w: %s answered with %q", ErrUnexpectedReply, verb, quoted(line))
}

// quoted returns line cut to the length a [SyntaxError] keeps.
func quoted(line []byte) []byte { return line[:min(len(line), maxQuoted)] }

// parseTrID reads a TrID: 1 to 10 decimal digits, at most 4294967295.
func parseTrID[T string | []byte](s T) (uint32, bool) {
	if len(s) == 0 || len(s) > 10 {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
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

// isCode reports whether s is a three-digit error code, 100 to 999.
func isCode[T string | []byte](s T) bool {
	return len(s) == 3 && s[0] >= '1' && s[0] <= '9' && s[1] >= '0' && s[1] <= '9' && s[2] >= '0' && s[2] <= '9'
}
