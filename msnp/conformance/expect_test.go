package conformance

import (
	"context"
	"errors"
	"io"
	"os"
	"syscall"
	"testing"

	"github.com/cvrswarm/cvrswarm/msnp"
)

// obs builds an observation from reply lines (without terminators) and
// how it ended.
func obs(e end, texts ...string) observation {
	o := observation{end: e}
	for _, s := range texts {
		l := line{text: s}
		l.reply, l.err = msnp.ParseReply([]byte(s))
		o.lines = append(o.lines, l)
	}
	return o
}

func TestJudge(t *testing.T) {
	t.Parallel()
	ver8 := want{trid: 1, hasTrID: true, alts: []alt{{answer: verChosen, dialect: "MSNP8"}}}
	refused := want{trid: 1, hasTrID: true, alts: []alt{{answer: verRefused, closes: true}}}
	code731 := want{trid: 6, hasTrID: true, alts: []alt{{answer: codeReply, code: 731}}}
	cvr := want{trid: 2, hasTrID: true, alts: []alt{{answer: cvrReply, command: "CVR"}}}
	tests := []struct {
		name string
		want want
		obs  observation
		cls  class
	}{
		{"chosen", ver8, obs(endEnough, "VER 1 MSNP8"), met},
		{"CVR0 echo allowed", ver8, obs(endEnough, "VER 1 MSNP8 CVR0"), met},
		{"another dialect", ver8, obs(endEnough, "VER 1 MSNP9"), deviation},
		{"two dialects", ver8, obs(endEnough, "VER 1 MSNP8 MSNP9"), deviation},
		{"VER with a wrong TrID", ver8, obs(endEnough, "VER 2 MSNP8"), violation},
		{"refused and closed", refused, obs(endClosed, "VER 1 0"), met},
		{"refused and reset", refused, obs(endReset, "VER 1 0"), met},
		{"refused, left open", refused, obs(endTimeout, "VER 1 0"), deviation},
		{"refused, then more", refused, obs(endClosed, "VER 1 0", "OUT"), deviation},
		{"731", code731, obs(endEnough, "731 6"), met},
		{"710 instead of 731", code731, obs(endEnough, "710 6"), deviation},
		{"served anyway", code731, obs(endEnough, "CVR 6 1.0.0000 1.0.0000 7.0.0425"), deviation},
		{"731 with a wrong TrID", code731, obs(endEnough, "731 7"), violation},
		{"silent", code731, obs(endTimeout), deviation},
		{"closed without a reply", code731, obs(endClosed), deviation},
		{"CVR reply", cvr, obs(endEnough, "CVR 2 7.0.0813 7.0.0813 6.2.0205 http://a.example/x.exe http://b.example"), met},
		{"CVQ where CVR expected", cvr, obs(endEnough, "CVQ 2 7.0.0813 7.0.0813 6.2.0205"), deviation},
		{"garbled reply", cvr, obs(endEnough, "hello"), deviation},
		{"out of context: closed", outOfContext, obs(endClosed), met},
		{"out of context: answered", outOfContext, obs(endEnough, "CVR 1 1.0 1.0 1.0"), deviation},
		{"out of context: silent", outOfContext, obs(endTimeout), deviation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cls, why := tt.want.judge(tt.obs)
			if cls != tt.cls {
				t.Errorf("judge(%s) = %d (%s), want %d", tt.obs, cls, why, tt.cls)
			}
			if (cls == met) != (why == "") {
				t.Errorf("judge(%s) = %d with reason %q: want a reason exactly when not met", tt.obs, cls, why)
			}
		})
	}
}

func TestMoreReadsUntilACloseIsDecided(t *testing.T) {
	t.Parallel()
	closeAfter731 := want{trid: 6, hasTrID: true, alts: []alt{{answer: codeReply, code: 731, closes: true}}}
	tests := []struct {
		name  string
		want  want
		lines observation
		more  bool
	}{
		{"nothing read yet", outOfContext, obs(endEnough), true},
		{"reply that needs no close", want{trid: 6, hasTrID: true, alts: []alt{{answer: codeReply, code: 731}}}, obs(endEnough, "731 6"), false},
		{"reply that needs a close", closeAfter731, obs(endEnough, "731 6"), true},
		{"second line after it", closeAfter731, obs(endEnough, "731 6", "OUT"), false},
		{"unexpected reply", closeAfter731, obs(endEnough, "CVR 6 1.0 1.0 1.0"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.want.more(tt.lines.lines); got != tt.more {
				t.Errorf("more(%s) = %v, want %v", tt.lines, got, tt.more)
			}
		})
	}
}

func TestOracleAgreesWithTheSeedPage(t *testing.T) {
	t.Parallel()
	msnp8, _ := msnp.Lookup("MSNP8")
	msnp7, _ := msnp.Lookup("MSNP7")
	cvr0, _ := msnp.Lookup(msnp.CVR0)
	tests := []struct {
		line string
		v    msnp.Version
		role msnp.Role
		want string
	}{
		{seed420Version, msnp8, msnp.NS, "420 3"},
		{seed420Library, msnp8, msnp.NS, "420 4"},
		{seed710Locale, msnp8, msnp.NS, "710 5"},
		{seed731, msnp8, msnp.NS, "731 6"},
		{"CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS example@hotmail.com\r\n", msnp8, msnp.DS, "CVR 2 ..."},
		{"CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS\r\n", msnp7, msnp.NS, "CVR 2 ..."},
		{"CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS\r\n", msnp7, msnp.DS, "close"},
		{"CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS example@hotmail.com\r\n", msnp7, msnp.NS, "731 2"},
		{"CVQ 2 0x0409 win 4.10 i386 MSMSGS 1.0.0863 MSMSGS\r\n", cvr0, msnp.DS, "CVQ 2 ..."},
		{"CVQ 2 0x0409 win 4.10 i386 MSMSGS 1.0.0863 MSMSGS\r\n", cvr0, msnp.NS, "close"},
		{"CVR 4294967296 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS\r\n", msnp8, msnp.NS, "close"},
	}
	for _, tt := range tests {
		if got := oracle(tt.line, tt.v, tt.role).String(); got != tt.want {
			t.Errorf("oracle(%q, %s, %s) = %q, want %q", tt.line, tt.v.Dialect, tt.role, got, tt.want)
		}
	}
}

func TestFormatDialects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   []msnp.Dialect
		want string
	}{
		{nil, "none"},
		{msnp.Dialects(), "MSNP23-MSNP2, CVR0"},
		{msnp.DialectRange(8, 9), "MSNP9, MSNP8, CVR0"},
		{[]msnp.Dialect{"MSNP2", "MSNP3", "MSNP4", "MSNP15"}, "MSNP2-MSNP4, MSNP15"},
		{[]msnp.Dialect{"MSNP15", "MSNP8", "CVR0"}, "MSNP15, MSNP8, CVR0"},
	}
	for _, tt := range tests {
		if got := formatDialects(tt.in); got != tt.want {
			t.Errorf("formatDialects(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestShowSent(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"VER 1 MSNP8 CVR0\r\n", "VER 1 MSNP8 CVR0"},
		{"CVR 2 x\n", `"CVR 2 x\n"`},
		{"CVR 2 x\r", `"CVR 2 x\r"`},
		{"\x00\xff\r\n", `"\x00\xff\r\n"`},
	}
	for _, tt := range tests {
		if got := showSent([]byte(tt.in)); got != tt.want {
			t.Errorf("showSent(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestCut(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		n    int
		cut  string
		got  string // cutGot
		name string
	}{
		{in: "short", n: 10, cut: "short", got: "short", name: "fits"},
		{in: "CVR 2 0x0409 winnt 5.1 i386 MSNMSGR", n: 20, cut: "CVR 2 0x0409...NMSGR", got: "CVR 2 0x0409 winn...", name: "line"},
		{in: "CVR 6 7.0.0813 7.0.0813 6.2.0205, open", n: 20, cut: "CVR 6 7.0.08... open", got: "CVR 6 7.0.0..., open", name: "keeps the end"},
	}
	for _, tt := range tests {
		if got := cut(tt.in, tt.n); got != tt.cut || len(got) > tt.n {
			t.Errorf("%s: cut(%q, %d) = %q, want %q", tt.name, tt.in, tt.n, got, tt.cut)
		}
		if got := cutGot(tt.in, tt.n); got != tt.got || len(got) > tt.n {
			t.Errorf("%s: cutGot(%q, %d) = %q, want %q", tt.name, tt.in, tt.n, got, tt.got)
		}
	}
}

func TestVerdictText(t *testing.T) {
	t.Parallel()
	for _, v := range []Verdict{Pass, Warn, Fail, Skip} {
		b, err := v.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back Verdict
		if err := back.UnmarshalText(b); err != nil || back != v {
			t.Errorf("%s round trip: %v, %v", v, back, err)
		}
	}
	if _, err := Verdict(0).MarshalText(); err == nil {
		t.Error("MarshalText of the zero Verdict: nil error, want one")
	}
	var v Verdict
	if err := v.UnmarshalText([]byte("maybe")); err == nil {
		t.Error(`UnmarshalText("maybe"): nil error, want one`)
	}
}

// TestClassify: how a read ended, in the check's words, from msnp's ends.
func TestClassify(t *testing.T) {
	odd := errors.New("odd")
	for _, tt := range []struct {
		err     error
		want    end
		wantErr error
	}{
		{io.EOF, endClosed, nil},
		{&os.SyscallError{Syscall: "read", Err: syscall.ECONNRESET}, endReset, nil},
		{&os.SyscallError{Syscall: "write", Err: syscall.EPIPE}, endReset, nil},
		{os.ErrDeadlineExceeded, endTimeout, nil},
		{context.DeadlineExceeded, endTimeout, nil},
		{msnp.ErrLineTooLong, endTooLong, nil},
		{odd, endError, odd},
	} {
		if got, err := classify(tt.err); got != tt.want || err != tt.wantErr {
			t.Errorf("classify(%v) = %d, %v; want %d, %v", tt.err, got, err, tt.want, tt.wantErr)
		}
	}
}
