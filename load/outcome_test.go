package load

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/cvrswarm/cvrswarm/msnp"
)

func TestClassifyReply(t *testing.T) {
	tests := []struct {
		line      string
		trid      uint32
		checkTrID bool
		want      string
	}{
		{line: "CVR 7 8.5.1302 8.5.1302 8.1.0178 http://a http://b", trid: 7, checkTrID: true, want: "ok"},
		{line: "CVR 7 1.0 1.0 1.0", trid: 7, checkTrID: true, want: "ok"},
		{line: "CVQ 7 1.0 1.0 1.0 u", trid: 7, checkTrID: true, want: "ok"},
		{line: "CVR  7  1.0 1.0 1.0 ", trid: 7, checkTrID: true, want: "ok"},
		{line: "CVR 8 1.0 1.0 1.0", trid: 7, checkTrID: true, want: "trid_mismatch"},
		{line: "CVR 8 1.0 1.0 1.0", trid: 7, checkTrID: false, want: "ok"},
		{line: "420 7", trid: 7, checkTrID: true, want: "420"},
		{line: "710 7 extra", trid: 7, checkTrID: true, want: "710"},
		{line: "731 9", trid: 7, checkTrID: true, want: "trid_mismatch"},
		{line: "999 7", trid: 7, checkTrID: true, want: "999"},
		{line: "VER 7 MSNP8", trid: 7, checkTrID: true, want: "unexpected"},
		{line: "VER 7 MSNP8 0", trid: 7, checkTrID: true, want: "malformed"},
		{line: "VER 7", trid: 7, checkTrID: true, want: "malformed"},
		{line: "CVR 7 1.0 1.0", trid: 7, checkTrID: true, want: "malformed"},
		{line: "CVR 7 1 2 3 4 5 6", trid: 7, checkTrID: true, want: "malformed"},
		{line: "CVR x 1.0 1.0 1.0", trid: 7, checkTrID: true, want: "malformed"},
		{line: "CVR 4294967296 1 1 1", trid: 7, checkTrID: true, want: "malformed"},
		{line: "OUT", trid: 7, checkTrID: true, want: "malformed"},
		{line: "", trid: 7, checkTrID: true, want: "malformed"},
		{line: "CVR 7 1.0\x00 1.0 1.0", trid: 7, checkTrID: true, want: "malformed"},
		{line: "\xff\xfe\x00garbage", trid: 7, checkTrID: true, want: "malformed"},
		{line: "CVR\u00a07 1 1 1", trid: 7, checkTrID: true, want: "malformed"}, // non-ASCII goes through the parser
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.line), func(t *testing.T) {
			if got := classifyReply([]byte(tt.line), tt.trid, tt.checkTrID).String(); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestClassifyErrors(t *testing.T) {
	tests := []struct {
		name string
		got  Outcome
		want string
	}{
		{"deadline", classifyIO(os.ErrDeadlineExceeded, false), "silent"},
		{"deadline mid-line", classifyIO(os.ErrDeadlineExceeded, true), "partial"},
		{"eof", classifyIO(io.EOF, false), "closed"},
		{"eof mid-line", classifyIO(io.ErrUnexpectedEOF, true), "closed"},
		{"reset", classifyIO(&os.SyscallError{Syscall: "read", Err: syscall.ECONNRESET}, false), "reset"},
		{"line too long", classifyIO(msnp.ErrLineTooLong, true), "line_too_long"},
		{"broken pipe", classifyIO(&os.SyscallError{Syscall: "write", Err: syscall.EPIPE}, false), "closed"},
		{"a context's deadline", classifyIO(context.DeadlineExceeded, false), "silent"},
		{"other", classifyIO(errors.New("odd"), false), "io_error"},
		{"refused", classifyDial(&os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}), "refused"},
		{"no fds", classifyDial(&os.SyscallError{Syscall: "socket", Err: syscall.EMFILE}), "no_fds"},
		{"no ports", classifyDial(&os.SyscallError{Syscall: "connect", Err: syscall.EADDRNOTAVAIL}), "no_ports"},
		{"dial timeout", classifyDial(context.DeadlineExceeded), "dial_timeout"},
		{"dial cancelled", classifyDial(context.Canceled), "interrupted"},
		{"dial other", classifyDial(errors.New("no such host")), "dial_error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.got.String(); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestOutcomeNames(t *testing.T) {
	t.Parallel()
	seen := map[string]Outcome{}
	for o := range numOutcomes {
		b, err := o.MarshalText()
		if err != nil {
			t.Fatalf("%d: MarshalText: %v", o, err)
		}
		if prev, dup := seen[string(b)]; dup {
			t.Fatalf("%d and %d are both named %q", prev, o, b)
		}
		seen[string(b)] = o
		var back Outcome
		if err := back.UnmarshalText(b); err != nil || back != o {
			t.Errorf("%q reads back as %d, %v, want %d", b, back, err, o)
		}
	}
	for _, bad := range []string{"", "OK", "timeout", "1000", "-1", "0420", "4 2"} {
		if o, err := ParseOutcome(bad); err == nil {
			t.Errorf("ParseOutcome(%q) = %v, want an error", bad, o)
		}
	}
	if _, err := numOutcomes.MarshalText(); err == nil {
		t.Errorf("MarshalText of %d: no error", numOutcomes)
	}
	if code, ok := CodeOutcome(731).Code(); code != 731 || !ok {
		t.Errorf("CodeOutcome(731).Code() = %d, %v", code, ok)
	}
	if _, ok := OutcomeOK.Code(); ok {
		t.Error("OutcomeOK.Code() says it is a code")
	}
}

func TestCountsJSON(t *testing.T) {
	t.Parallel()
	c := Counts{OutcomeOK: 9990, CodeOutcome(420): 7, OutcomeSilent: 3, OutcomeTrIDMismatch: 7}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"420":7,"ok":9990,"silent":3,"trid_mismatch":7}`; string(b) != want {
		t.Errorf("got %s, want %s", b, want)
	}
	var back Counts
	if err := json.Unmarshal(b, &back); err != nil || !maps.Equal(back, c) {
		t.Errorf("read back %v, %v, want %v", back, err, c)
	}
	if err := json.Unmarshal([]byte(`{"ok":1,"timeout":2}`), &back); err == nil || !strings.Contains(err.Error(), `unknown outcome "timeout"`) {
		t.Errorf("an unknown name: error %v, want one naming it", err)
	}
	if got, want := fmt.Sprint(c.Sorted()), "[ok 420 trid_mismatch silent]"; got != want {
		t.Errorf("Sorted() = %s, want %s", got, want)
	}
	if got := c.Total(); got != 10007 {
		t.Errorf("Total() = %d, want 10007", got)
	}
}
