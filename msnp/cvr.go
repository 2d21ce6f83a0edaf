package msnp

import (
	"bytes"
	"strconv"
)

// Request is a CVR (or CVQ) request: the client describes itself and asks
// for the latest client version.
//
//	CVR TrID locale system-type system-ver system-arch requesting-library client-version {client-identification} {user-handle}
//	CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS example@hotmail.com
//
// Params counts the parameters after the TrID that the line carried (6, 7
// or 8), so a request without a user-handle and one with an empty
// user-handle (a trailing space, as Pidgin sends) stay apart.
type Request struct {
	Command       string // "CVR" or "CVQ"
	TrID          uint32
	Locale        string // 16-bit LCID in hex: "0x0409"
	SystemType    string // "winnt"
	SystemVer     string // "5.1"
	SystemArch    string // "i386"
	Library       string // requesting-library: "MSNMSGR"
	ClientVersion string // "6.0.0602"
	ClientID      string // client-identification: "MSMSGS"; with Params >= 7
	UserHandle    string // "example@hotmail.com"; with Params == 8
	Params        int
}

// ParseRequest parses one CVR or CVQ line, given without its terminator.
// The line must be the command, a decimal TrID that fits 32 bits, and 6 to
// 8 parameters separated by single spaces; only the last may be empty. It
// does not judge the values: see [CheckRequest].
func ParseRequest(line []byte) (Request, error) {
	if len(line) < 4 || line[3] != ' ' || !(string(line[:3]) == "CVR" || string(line[:3]) == "CVQ") {
		return Request{}, syntaxErr(line, "not a CVR or CVQ request")
	}
	// One pass finds the spaces and rejects control bytes.
	var cut [paramsFull + 3]int // cut[k] is the index of the space ending field k
	n := 0
	for i, c := range line {
		if c > ' ' && c != 0x7f {
			continue
		}
		if c != ' ' {
			return Request{}, syntaxErr(line, "control byte in request")
		}
		if n == len(cut)-1 {
			return Request{}, syntaxErr(line, "too many parameters")
		}
		cut[n] = i
		n++
	}
	cut[n] = len(line)
	n++
	s := string(line) // the one allocation: every field is a substring of s
	var f [paramsFull + 2]string
	if n > len(f) {
		return Request{}, syntaxErr(line, "too many parameters")
	}
	start := 0
	for k := 0; k < n; k++ {
		f[k] = s[start:cut[k]]
		start = cut[k] + 1
	}
	if n < 2 {
		return Request{}, syntaxErr(line, "missing TrID")
	}
	trid, ok := parseTrID(f[1])
	if !ok {
		return Request{}, syntaxErr(line, "TrID is not a number from 0 to 4294967295")
	}
	params := n - 2
	if params < paramsMin {
		return Request{}, syntaxErr(line, "too few parameters")
	}
	for i := 2; i < n-1; i++ {
		if f[i] == "" {
			return Request{}, syntaxErr(line, "empty parameter")
		}
	}
	return Request{
		Command: f[0], TrID: trid,
		Locale: f[2], SystemType: f[3], SystemVer: f[4], SystemArch: f[5],
		Library: f[6], ClientVersion: f[7], ClientID: f[8], UserHandle: f[9],
		Params: params,
	}, nil
}

// Append appends the request in wire form, CRLF included. It writes
// r.Params parameters (6 to 8; other values are taken as 8) and the
// command "CVR" when r.Command is empty.
func (r *Request) Append(b []byte) []byte {
	cmd := r.Command
	if cmd == "" {
		cmd = "CVR"
	}
	b = append(b, cmd...)
	b = append(b, ' ')
	b = strconv.AppendUint(b, uint64(r.TrID), 10)
	for _, p := range [...]string{r.Locale, r.SystemType, r.SystemVer, r.SystemArch, r.Library, r.ClientVersion} {
		b = append(b, ' ')
		b = append(b, p...)
	}
	params := r.Params
	if params < paramsMin || params > paramsFull {
		params = paramsFull
	}
	if params >= paramsID {
		b = append(b, ' ')
		b = append(b, r.ClientID...)
	}
	if params == paramsFull {
		b = append(b, ' ')
		b = append(b, r.UserHandle...)
	}
	return append(b, '\r', '\n')
}

// String returns the request as a line without its terminator.
func (r Request) String() string {
	b := r.Append(nil)
	return string(b[:len(b)-2])
}

// Shape returns the request formed for the dialect v: its command, and as
// many parameters as a client of that dialect sends. A missing
// client-identification becomes "MSMSGS"; a missing user-handle becomes
// handle, or is left out (as real MSNP8+ clients do) when handle is "".
func (r Request) Shape(v Version, handle string) Request {
	r.Command = v.Command
	if r.Params < paramsID && v.Params >= paramsID {
		r.ClientID = "MSMSGS"
	}
	switch {
	case v.Params < paramsFull:
		r.Params = v.Params
		r.UserHandle = ""
		if v.Params < paramsID {
			r.ClientID = ""
		}
	case r.Params == paramsFull && r.UserHandle != "":
	case handle != "":
		r.Params, r.UserHandle = paramsFull, handle
	default:
		r.Params, r.UserHandle = paramsID, ""
	}
	return r
}

// PeekTrID returns the TrID of any command line ("VER 1 ...", "CVR 7 x"):
// the second space-separated token, when it is a valid TrID. A server uses
// it to answer a line that does not parse.
func PeekTrID(line []byte) (uint32, bool) {
	i := indexByte(line, ' ')
	if i < 0 {
		return 0, false
	}
	rest := line[i+1:]
	if j := indexByte(rest, ' '); j >= 0 {
		rest = rest[:j]
	}
	return parseTrID(rest)
}

// Verb returns the command of a line: its first three bytes when they are
// followed by a space or end the line, else "".
func Verb(line []byte) string {
	if len(line) < 3 || (len(line) > 3 && line[3] != ' ') {
		return ""
	}
	switch string(line[:3]) { // constant strings: no allocation
	case "VER":
		return "VER"
	case "CVR":
		return "CVR"
	case "CVQ":
		return "CVQ"
	case "USR":
		return "USR"
	case "INF":
		return "INF"
	case "OUT":
		return "OUT"
	}
	for _, c := range line[:3] {
		if c < 'A' || c > 'Z' {
			return ""
		}
	}
	return string(line[:3])
}

// indexControl returns the index of the first ASCII control byte (below
// 0x20, or DEL) in b, or -1.
func indexControl(b []byte) int {
	for i, c := range b {
		if c < 0x20 || c == 0x7f {
			return i
		}
	}
	return -1
}

// indexByte is bytes.IndexByte, which searches a burst of pipelined lines
// many bytes at a time.
func indexByte(b []byte, c byte) int { return bytes.IndexByte(b, c) }
