package msnp

import (
	"strconv"
)

// ReplyKind says which of the server's answers a [Reply] holds.
type ReplyKind uint8

// The replies a server gives to VER and CVR.
const (
	ReplyCVR   ReplyKind = iota + 1 // "CVR TrID rec rec2 min url fallback" (or CVQ)
	ReplyError                      // "420 TrID": a numeric error
	ReplyVER                        // "VER TrID MSNP8" or "VER TrID 0"
)

// Reply is one line a server sent in answer to VER, CVR or CVQ.
//
//	S: CVR 2 7.0.0813 7.0.0813 6.2.0205 http://example.com/setup.exe http://messenger.msn.com
//	S: 710 5
//	S: VER 1 MSNP13 CVR0
type Reply struct {
	Kind    ReplyKind
	Command string // "CVR", "CVQ" or "VER"; "" for a numeric error
	TrID    uint32
	Code    int      // the error code, for ReplyError
	CVR     CVRReply // for ReplyCVR
	VER     VERReply // for ReplyVER
}

// CVRReply holds the fields of a CVR reply.
//
//	CVR TrID recommended-version recommended-version-2 minimum-allowed-version download-url {fallback-url}
//
// Params counts the parameters after the TrID (3 to 5): real servers and
// mocks leave out the URLs.
type CVRReply struct {
	Recommended  string
	Recommended2 string
	Minimum      string
	DownloadURL  string
	FallbackURL  string
	Params       int
}

// VERReply holds the dialects a VER reply names: the chosen one, sometimes
// followed by CVR0 (servers echo it), or the single "0" for none.
type VERReply struct {
	Dialects []Dialect
}

// Refused reports a "VER n 0" reply: no listed dialect is acceptable.
func (v VERReply) Refused() bool { return len(v.Dialects) == 1 && v.Dialects[0] == "0" }

// Chosen returns the dialect the server picked: the first one that is not
// CVR0, else CVR0 when that is all it named, else "".
func (v VERReply) Chosen() Dialect {
	if v.Refused() {
		return ""
	}
	for _, d := range v.Dialects {
		if d != CVR0 {
			return d
		}
	}
	if len(v.Dialects) > 0 {
		return CVR0
	}
	return ""
}

// replyFields is how many fields of a reply line are split without an
// allocation: the command, the TrID and 5 CVR parameters fit with room to
// spare; a longer line (a VER naming many dialects, an error with many
// extra parameters) is split on the heap.
const replyFields = 16

// ParseReply parses one server line, given without its terminator: a CVR
// or CVQ reply, a numeric error, or a VER reply. It is lenient where real
// servers are: runs of spaces separate fields, a trailing space is
// ignored, a numeric error may carry extra parameters, and a CVR reply may
// lack its URLs.
func ParseReply(line []byte) (Reply, error) {
	if i := indexControl(line); i >= 0 {
		return Reply{}, syntaxErr(line, "control byte in reply")
	}
	s := string(line) // the one allocation: every field is a substring of s
	var fields [replyFields]string
	f := fields[:0]
	for start, i := 0, 0; i <= len(s); i++ {
		if i < len(s) && s[i] != ' ' {
			continue
		}
		if i > start {
			f = append(f, s[start:i]) // past replyFields, append moves f to the heap
		}
		start = i + 1
	}
	if len(f) < 2 {
		return Reply{}, syntaxErr(line, "reply without a TrID")
	}
	trid, ok := parseTrID(f[1])
	if !ok {
		return Reply{}, syntaxErr(line, "reply TrID is not a number from 0 to 4294967295")
	}
	params := f[2:]
	switch {
	case isCode(f[0]):
		code, _ := strconv.Atoi(f[0])
		return Reply{Kind: ReplyError, TrID: trid, Code: code}, nil
	case f[0] == "CVR" || f[0] == "CVQ":
		if len(params) < 3 || len(params) > 5 {
			return Reply{}, syntaxErr(line, "CVR reply needs 3 to 5 parameters")
		}
		var p [5]string
		copy(p[:], params)
		return Reply{Kind: ReplyCVR, Command: f[0], TrID: trid, CVR: CVRReply{
			Recommended: p[0], Recommended2: p[1], Minimum: p[2], DownloadURL: p[3], FallbackURL: p[4],
			Params: len(params)}}, nil
	case f[0] == "VER":
		if len(params) == 0 {
			return Reply{}, syntaxErr(line, "VER reply names no dialect")
		}
		ds := make([]Dialect, len(params))
		for i, p := range params {
			ds[i] = Dialect(p)
		}
		if len(ds) > 1 && containsDialect(ds, "0") {
			return Reply{}, syntaxErr(line, `VER reply mixes "0" with dialects`)
		}
		return Reply{Kind: ReplyVER, Command: "VER", TrID: trid, VER: VERReply{Dialects: ds}}, nil
	}
	return Reply{}, syntaxErr(line, "not a CVR, VER or error reply")
}

// Append appends the reply in wire form, CRLF included.
func (r *Reply) Append(b []byte) []byte {
	switch r.Kind {
	case ReplyError:
		b = strconv.AppendInt(b, int64(r.Code), 10)
		b = append(b, ' ')
		b = strconv.AppendUint(b, uint64(r.TrID), 10)
	case ReplyVER:
		b = append(b, "VER "...)
		b = strconv.AppendUint(b, uint64(r.TrID), 10)
		for _, d := range r.VER.Dialects {
			b = append(b, ' ')
			b = append(b, d...)
		}
	default:
		cmd := r.Command
		if cmd == "" {
			cmd = "CVR"
		}
		b = append(b, cmd...)
		b = append(b, ' ')
		b = strconv.AppendUint(b, uint64(r.TrID), 10)
		n := r.CVR.Params
		if n < 3 || n > 5 {
			n = 5
		}
		fields := [...]string{r.CVR.Recommended, r.CVR.Recommended2, r.CVR.Minimum, r.CVR.DownloadURL, r.CVR.FallbackURL}
		for _, p := range fields[:n] {
			b = append(b, ' ')
			b = append(b, p...)
		}
	}
	return append(b, '\r', '\n')
}

// String returns the reply as a line without its terminator.
func (r Reply) String() string {
	b := r.Append(nil)
	return string(b[:len(b)-2])
}

// Err returns the reply as an *[Error] when it is a numeric error, else nil.
func (r Reply) Err() error {
	if r.Kind != ReplyError {
		return nil
	}
	return &Error{Code: r.Code, TrID: r.TrID}
}

func isCode(s string) bool {
	return len(s) == 3 && s[0] >= '1' && s[0] <= '9' && s[1] >= '0' && s[1] <= '9' && s[2] >= '0' && s[2] <= '9'
}

func containsDialect(ds []Dialect, d Dialect) bool {
	for _, x := range ds {
		if x == d {
			return true
		}
	}
	return false
}
