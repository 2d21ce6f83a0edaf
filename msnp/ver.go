package msnp

import (
	"strconv"
	"strings"
)

// VERRequest is the version negotiation a client opens with: every
// dialect it speaks, newest first, CVR0 last.
//
//	VER TrID dialect {dialect ...}
//	VER 1 MSNP8 CVR0
type VERRequest struct {
	TrID     uint32
	Dialects []Dialect
}

// ParseVER parses a VER request line, given without its terminator. The
// dialect names are kept as sent, known or not; a VER without a TrID
// ("VER MSNP8 CVR0") is a syntax error.
func ParseVER(line []byte) (VERRequest, error) {
	if i := indexControl(line); i >= 0 {
		return VERRequest{}, syntaxErr(line, "control byte in VER")
	}
	f := strings.Split(string(line), " ")
	if f[0] != "VER" {
		return VERRequest{}, syntaxErr(line, "not a VER request")
	}
	if len(f) < 2 {
		return VERRequest{}, syntaxErr(line, "VER without a TrID")
	}
	trid, ok := parseTrID(f[1])
	if !ok {
		return VERRequest{}, syntaxErr(line, "VER TrID is not a number from 0 to 4294967295")
	}
	if len(f) < 3 {
		return VERRequest{}, syntaxErr(line, "VER names no dialect")
	}
	ds := make([]Dialect, len(f)-2)
	for i, d := range f[2:] {
		if d == "" {
			return VERRequest{}, syntaxErr(line, "empty dialect in VER")
		}
		ds[i] = Dialect(d)
	}
	return VERRequest{TrID: trid, Dialects: ds}, nil
}

// Append appends the request in wire form, CRLF included.
func (v *VERRequest) Append(b []byte) []byte {
	b = append(b, "VER "...)
	b = strconv.AppendUint(b, uint64(v.TrID), 10)
	for _, d := range v.Dialects {
		b = append(b, ' ')
		b = append(b, d...)
	}
	return append(b, '\r', '\n')
}

// String returns the request as a line without its terminator.
func (v VERRequest) String() string {
	b := v.Append(nil)
	return string(b[:len(b)-2])
}
