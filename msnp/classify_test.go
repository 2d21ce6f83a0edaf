package msnp

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func TestScanReply(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		line   string
		want   ReplyHead
		chosen string
	}{
		{name: "cvr", line: "CVR 2 7.0.0813 7.0.0813 6.2.0205 http://a http://b",
			want: ReplyHead{Kind: ReplyCVR, Command: "CVR", TrID: 2, HasTrID: true, Params: 5}},
		{name: "cvq without URLs", line: "CVQ 9 1.0 1.0 1.0",
			want: ReplyHead{Kind: ReplyCVR, Command: "CVQ", TrID: 9, HasTrID: true, Params: 3}},
		{name: "runs of spaces", line: "CVR  7  1.0 1.0 1.0 ",
			want: ReplyHead{Kind: ReplyCVR, Command: "CVR", TrID: 7, HasTrID: true, Params: 3}},
		{name: "error", line: "710 5", want: ReplyHead{Kind: ReplyError, TrID: 5, HasTrID: true, Code: 710}},
		{name: "error with extras", line: "500 9 oops again",
			want: ReplyHead{Kind: ReplyError, TrID: 9, HasTrID: true, Code: 500, Params: 2}},
		{name: "ver", line: "VER 1 MSNP8", want: ReplyHead{Kind: ReplyVER, Command: "VER", TrID: 1, HasTrID: true, Params: 1},
			chosen: "MSNP8"},
		{name: "ver echoing CVR0", line: "VER 1 CVR0 MSNP13",
			want: ReplyHead{Kind: ReplyVER, Command: "VER", TrID: 1, HasTrID: true, Params: 2}, chosen: "MSNP13"},
		{name: "ver CVR0 only", line: "VER 2 CVR0",
			want: ReplyHead{Kind: ReplyVER, Command: "VER", TrID: 2, HasTrID: true, Params: 1}, chosen: "CVR0"},
		{name: "ver refused", line: "VER 1 0",
			want: ReplyHead{Kind: ReplyVER, Command: "VER", TrID: 1, HasTrID: true, Params: 1, Refused: true}},
		{name: "largest TrID", line: "420 4294967295", want: ReplyHead{Kind: ReplyError, TrID: 4294967295, HasTrID: true, Code: 420}},
		{name: "empty", line: "", want: ReplyHead{Problem: "reply without a TrID"}},
		{name: "verb alone", line: "OUT", want: ReplyHead{Problem: "reply without a TrID"}},
		{name: "TrID too large", line: "CVR 4294967296 1 1 1",
			want: ReplyHead{Problem: "reply TrID is not a number from 0 to 4294967295"}},
		{name: "TrID not a number", line: "CVR x 1 1 1", want: ReplyHead{Problem: "reply TrID is not a number from 0 to 4294967295"}},
		{name: "too few CVR fields keeps the TrID", line: "CVR 2 1.0 1.0",
			want: ReplyHead{TrID: 2, HasTrID: true, Params: 2, Problem: "CVR reply needs 3 to 5 parameters"}},
		{name: "too many CVR fields", line: "CVR 2 1 2 3 4 5 6",
			want: ReplyHead{TrID: 2, HasTrID: true, Params: 6, Problem: "CVR reply needs 3 to 5 parameters"}},
		{name: "ver without dialect", line: "VER 1", want: ReplyHead{TrID: 1, HasTrID: true, Problem: "VER reply names no dialect"}},
		{name: "ver mixing 0", line: "VER 1 MSNP8 0",
			want: ReplyHead{TrID: 1, HasTrID: true, Params: 2, Problem: `VER reply mixes "0" with dialects`}},
		{name: "other command", line: "XFR 3 NS 10.0.0.5:1863 0",
			want: ReplyHead{TrID: 3, HasTrID: true, Params: 3, Problem: "not a CVR, VER or error reply"}},
		{name: "two-digit code", line: "42 1", want: ReplyHead{TrID: 1, HasTrID: true, Problem: "not a CVR, VER or error reply"}},
		{name: "control byte late", line: "CVR 2 a b c\x00", want: ReplyHead{Problem: "control byte in reply"}},
		{name: "DEL", line: "710 5\x7f", want: ReplyHead{Problem: "control byte in reply"}},
		{name: "non-ASCII is a field byte", line: "CVR\u00a02 1 1 1",
			want: ReplyHead{TrID: 1, HasTrID: true, Params: 2, Problem: "not a CVR, VER or error reply"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ScanReply([]byte(tt.line))
			chosen := string(got.chosenIn([]byte(tt.line)))
			got.chosen = span{}
			if got != tt.want {
				t.Errorf("ScanReply(%q)\n got %+v\nwant %+v", tt.line, got, tt.want)
			}
			if chosen != tt.chosen {
				t.Errorf("chosen dialect of %q = %q, want %q", tt.line, chosen, tt.chosen)
			}
		})
	}
}

func TestReplyClass(t *testing.T) {
	t.Parallel()
	tests := []struct {
		line string
		want ReplyKind
		trid uint32
		cls  ReplyClass
	}{
		{"CVR 7 8.5.1302 8.5.1302 8.1.0178 http://a http://b", ReplyCVR, 7, ClassOK},
		{"CVQ 7 1.0 1.0 1.0 u", ReplyCVR, 7, ClassOK},
		{"CVR 8 1.0 1.0 1.0", ReplyCVR, 7, ClassTrIDMismatch},
		{"420 7", ReplyCVR, 7, ClassError},
		{"731 9", ReplyCVR, 7, ClassTrIDMismatch},
		{"VER 7 MSNP8", ReplyCVR, 7, ClassUnexpected},
		{"VER 9 0", ReplyCVR, 7, ClassUnexpected}, // the kind is judged before the TrID
		{"CVR 7 1.0 1.0", ReplyCVR, 7, ClassMalformed},
		{"\xff\xfe\x00garbage", ReplyCVR, 7, ClassMalformed},
		{"VER 1 MSNP8", ReplyVER, 1, ClassOK},
		{"VER 1 0", ReplyVER, 1, ClassRefused},
		{"VER 2 0", ReplyVER, 1, ClassTrIDMismatch},
		{"715 1", ReplyVER, 1, ClassError},
		{"CVR 1 1 1 1", ReplyVER, 1, ClassUnexpected},
		{"VER 1 MSNP8 0", ReplyVER, 1, ClassMalformed},
	}
	for _, tt := range tests {
		h := ScanReply([]byte(tt.line))
		if got := h.Class(tt.want, tt.trid); got != tt.cls {
			t.Errorf("ScanReply(%q).Class(%d, %d) = %s, want %s", tt.line, tt.want, tt.trid, got, tt.cls)
		}
	}
	if got := ClassTrIDMismatch.String(); got != "trid_mismatch" {
		t.Errorf("String() = %q, want trid_mismatch", got)
	}
	if got := ReplyClass(200).String(); got != "ReplyClass(200)" {
		t.Errorf("String() = %q, want ReplyClass(200)", got)
	}
}

func TestClassErr(t *testing.T) {
	t.Parallel()
	tests := []struct {
		line  string
		want  ReplyKind
		errIs error
		as    any
	}{
		{line: "CVR 2 1 1 1", want: ReplyCVR},
		{line: "CVR 3 1 1 1", want: ReplyCVR, errIs: ErrTrIDMismatch},
		{line: "VER 2 MSNP8", want: ReplyCVR, errIs: ErrUnexpectedReply},
		{line: "VER 2 0", want: ReplyVER, errIs: ErrNoDialect},
		{line: "420 2", want: ReplyCVR, as: new(*Error)},
		{line: "CVR 2", want: ReplyCVR, as: new(*SyntaxError)},
	}
	for _, tt := range tests {
		line := []byte(tt.line)
		h := ScanReply(line)
		err := classErr(line, &h, h.Class(tt.want, 2), tt.want, 2)
		switch {
		case tt.errIs != nil:
			if !errors.Is(err, tt.errIs) {
				t.Errorf("%q: error %v, want %v", tt.line, err, tt.errIs)
			}
		case tt.as != nil:
			if !errors.As(err, tt.as) {
				t.Errorf("%q: error %v, want a %T", tt.line, err, tt.as)
			}
		case err != nil:
			t.Errorf("%q: error %v, want none", tt.line, err)
		}
	}
}

// FuzzScanReply checks that ScanReply agrees with ParseReply on every
// line, that it counts the fields bytes.Split finds between spaces, and
// that the class it gives follows from the parsed reply.
func FuzzScanReply(f *testing.F) {
	for _, s := range []string{
		"CVR 2 1 1 1 a b", // a well-formed CVR reply
		"420 2",           // a numeric error
		"VER 2 MSNP8 CVR0",
		"VER 2 0",          // a refusal
		"VER 2 CVR0 0",     // a refusal mixed with a dialect
		"CVR 2 1 1",        // too few fields
		"710 3 x",          // an error with an extra field
		"CVR\u00a02 1 1 1", // a non-ASCII separator is not a space
		" 731  2 ",         // runs of spaces
		"VER 1 A B C D E F G H I J K L M N O P Q R S", // more fields than one scan holds
	} {
		f.Add([]byte(s), uint32(2))
	}
	f.Fuzz(func(t *testing.T, line []byte, trid uint32) {
		h := ScanReply(line)
		r, err := ParseReply(line)
		var se *SyntaxError
		switch {
		case err != nil && !errors.As(err, &se):
			t.Fatalf("ParseReply(%q) error %v is not a *SyntaxError", line, err)
		case err != nil:
			if h.Kind != 0 || h.Command != "" || h.Problem != se.Msg {
				t.Fatalf("ScanReply(%q) = %+v, ParseReply says %q", line, h, se.Msg)
			}
		default:
			params := r.CVR.Params
			if r.Kind == ReplyVER {
				params = len(r.VER.Dialects)
			}
			if h.Problem != "" || h.Kind != r.Kind || h.Command != r.Command || h.TrID != r.TrID || !h.HasTrID ||
				h.Code != r.Code || (r.Kind != ReplyError && h.Params != params) || h.Refused != r.VER.Refused() ||
				Dialect(h.chosenIn(line)) != r.VER.Chosen() {
				t.Fatalf("ScanReply(%q) = %+v, ParseReply says %+v", line, h, r)
			}
		}
		fields := 0
		for _, f := range bytes.Split(line, []byte(" ")) {
			if len(f) > 0 {
				fields++
			}
		}
		if h.HasTrID && h.Params != fields-2 {
			t.Fatalf("ScanReply(%q) counts %d parameters, the line has %d fields", line, h.Params, fields)
		}
		for _, want := range []ReplyKind{ReplyCVR, ReplyVER} {
			if got, ref := h.Class(want, trid), parsedClass(r, err, want, trid); got != ref {
				t.Fatalf("ScanReply(%q).Class(%d, %d) = %s, from ParseReply %s", line, want, trid, got, ref)
			}
		}
	})
}

// parsedClass is ReplyHead.Class worked out from a parsed reply.
func parsedClass(r Reply, err error, want ReplyKind, trid uint32) ReplyClass {
	switch {
	case err != nil:
		return ClassMalformed
	case r.Kind != ReplyError && r.Kind != want:
		return ClassUnexpected
	case r.TrID != trid:
		return ClassTrIDMismatch
	case r.Kind == ReplyError:
		return ClassError
	case r.VER.Refused():
		return ClassRefused
	}
	return ClassOK
}

func TestScanReplyAllocatesNothing(t *testing.T) {
	for _, line := range [][]byte{
		[]byte("CVR 2 7.0.0813 7.0.0813 6.2.0205 http://example.com/setup.exe http://messenger.msn.com"),
		[]byte("VER 1 A B C D E F G H I J K L M N O P Q R S T U V W X Y Z"),
		[]byte("CVR 2 1.0"), []byte("\x00"), []byte("710 5"),
	} {
		if n := testing.AllocsPerRun(100, func() {
			h := ScanReply(line)
			_ = h.Class(ReplyCVR, 2)
		}); n != 0 {
			t.Errorf("ScanReply(%q) allocates %v times, want 0", line, n)
		}
	}
}

func BenchmarkScanReply(b *testing.B) {
	line := []byte("CVR 2 7.0.0813 7.0.0813 6.2.0205 http://example.com/setup.exe http://messenger.msn.com")
	b.ReportAllocs()
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		h := ScanReply(line)
		if h.Class(ReplyCVR, 2) != ClassOK {
			b.Fatal(h)
		}
	}
}

// replies yields the same reply lines over and over.
type replies struct {
	b   []byte
	off int
}

func (r *replies) Read(p []byte) (int, error) {
	n := copy(p, r.b[r.off:])
	r.off = (r.off + n) % len(r.b)
	return n, nil
}

func TestHandshakeAllocatesNothing(t *testing.T) {
	rd := NewReader(&replies{b: []byte("VER 1 MSNP13 CVR0\r\n")}, 0)
	ver := []byte("VER 1 MSNP15 MSNP13 CVR0\r\n")
	offered := []Dialect{"MSNP15", "MSNP13", CVR0}
	if n := testing.AllocsPerRun(100, func() {
		if n, err := Handshake(io.Discard, rd, ver, 1, offered); err != nil || n.Dialect != "MSNP13" {
			t.Fatalf("Handshake = %+v, %v", n, err)
		}
	}); n != 0 {
		t.Errorf("Handshake allocates %v times, want 0", n)
	}
}
