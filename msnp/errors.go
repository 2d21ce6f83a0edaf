package msnp

import (
	"errors"
	"fmt"
)

// Error is a numeric error reply from the server: a three-digit code and
// the TrID of the request that failed.
//
//	S: 710 5
type Error struct {
	Code int
	TrID uint32
}

func (e *Error) Error() string {
	if name := CodeName(e.Code); name != "" {
		return fmt.Sprintf("server error %d (%s) for TrID %d", e.Code, name, e.TrID)
	}
	return fmt.Sprintf("server error %d for TrID %d", e.Code, e.TrID)
}

// SyntaxError reports a line that breaks the grammar. Line holds the
// offending line (cut to 256 bytes) and Msg what is wrong with it.
type SyntaxError struct {
	Line string
	Msg  string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("%s: %q", e.Msg, e.Line)
}

// maxQuoted bounds how much of a bad line a SyntaxError keeps.
const maxQuoted = 256

func syntaxErr(line []byte, msg string) *SyntaxError {
	if len(line) > maxQuoted {
		line = line[:maxQuoted]
	}
	return &SyntaxError{Line: string(line), Msg: msg}
}

// Framing errors returned by [Reader.ReadLine].
var (
	// ErrLineTooLong means no line terminator arrived within the
	// reader's maximum line length. The reader is unusable afterwards.
	ErrLineTooLong = errors.New("line too long")
	// ErrBareLF means a line ended in LF without the CR before it. The
	// line is returned with it, so a tolerant caller may use it.
	ErrBareLF = errors.New("line ends in bare LF")
)

// Error codes the CVR and VER exchange can produce.
const (
	CodeInvalidClient = 420 // CVR/CVQ: unknown client identification or version
	CodeInvalidLocale = 710 // CVR/CVQ: invalid locale ID
	CodeNotExpected   = 715 // a second VER, among others
	CodeMalformedCVR  = 731 // CVR/CVQ: wrong or too few parameters; the server disconnects
)

// codeNames holds the meaning of each known error code (msnp/PROTOCOL.md §4.1).
var codeNames = map[int]string{
	200: "syntax error", 201: "invalid parameter", 205: "invalid user", 206: "domain name missing",
	207: "already logged in", 208: "invalid user name", 209: "friendly name change not allowed",
	210: "list full", 215: "already on list", 216: "not on list", 217: "user not online",
	218: "already in that mode", 219: "already in the opposite list", 223: "too many groups",
	224: "invalid group", 225: "user not in group", 229: "group name too long",
	230: "group 0 cannot be removed", 280: "switchboard failed", 281: "notify XFR failed",
	282: "MSG type D not acknowledged", 300: "required fields missing", 302: "not logged in",
	420: "invalid client identification or version", 500: "internal server error",
	501: "database server error", 502: "command disabled", 510: "file operation failed",
	520: "memory allocation failed", 540: "challenge response failed", 600: "server busy",
	601: "server unavailable", 602: "peer NS down", 603: "DB connect failed",
	604: "server going down", 605: "server unavailable", 707: "could not create connection",
	710: "invalid locale ID", 711: "write blocking", 712: "session overloaded",
	713: "calling too rapidly", 714: "too many sessions", 715: "not expected",
	717: "bad friend file", 731: "malformed CVR", 800: "changing too rapidly",
	910: "server too busy", 911: "authentication failed", 912: "server too busy",
	913: "not allowed while hidden", 914: "server unavailable", 915: "server unavailable",
	916: "server unavailable", 917: "authentication failed", 918: "server too busy",
	919: "server too busy", 920: "not accepting new users", 921: "server too busy",
	922: "server too busy", 923: "Kids Passport without parental consent",
	924: "account not verified", 928: "bad ticket", 931: "wrong server for this account",
}

// CodeName returns the meaning of an error code, or "" for an unknown one.
func CodeName(code int) string { return codeNames[code] }
