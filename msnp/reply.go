package msnp

import "strconv"

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

// replyFields is how many fields of a reply line [ParseReply] takes from
// one scan: the command, the TrID and 5 CVR parameters fit with room to
// spare; a VER naming more dialects is scanned again into a larger slice.
const replyFields = 16

// ParseReply parses one server line, given without its terminator: a CVR
// or CVQ reply, a numeric error, or a VER reply. It is lenient where real
// servers are: runs of spaces separate fields, a trailing space is
// ignored, a numeric error may carry extra parameters, and a CVR reply may
// lack its URLs. Its grammar is [ScanReply]'s; it adds the fields.
func ParseReply(line []byte) (Reply, error) {
	var spans [replyFields]span
	f := spans[:]
	h := scanReply(line, f)
	if h.Problem != "" {
		return Reply{}, syntaxErr(line, h.Problem)
	}
	if n := h.Params + 2; n > len(f) {
		f = make([]span, n)
		scanReply(line, f)
	}
	s := string(line) // the one allocation: every field is a substring of s
	params := f[2 : h.Params+2]
	switch h.Kind {
	case ReplyError:
		return Reply{Kind: ReplyError, TrID: h.TrID, Code: h.Code}, nil
	case ReplyCVR:
		var p [5]string
		for i, sp := range params {
			p[i] = s[sp.from:sp.to]
		}
		return Reply{Kind: ReplyCVR, Command: h.Command, TrID: h.TrID, CVR: CVRReply{
			Recommended: p[0], Recommended2: p[1], Minimum: p[2], DownloadURL: p[3], FallbackURL: p[4],
			Params: h.Params}}, nil
	}
	ds := make([]Dialect, len(params))
	for i, sp := range params {
		ds[i] = Dialect(s[sp.from:sp.to])
	}
	return Reply{Kind: ReplyVER, Command: "VER", TrID: h.TrID, VER: VERReply{Dialects: ds}}, nil
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
