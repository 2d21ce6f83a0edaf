package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
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
		got  outcome
		want string
	}{
		{"deadline", classifyIO(os.ErrDeadlineExceeded, false), "silent"},
		{"deadline mid-line", classifyIO(os.ErrDeadlineExceeded, true), "partial"},
		{"eof", classifyIO(io.EOF, false), "closed"},
		{"eof mid-line", classifyIO(io.ErrUnexpectedEOF, true), "closed"},
		{"reset", classifyIO(&os.SyscallError{Syscall: "read", Err: syscall.ECONNRESET}, false), "reset"},
		{"line too long", classifyIO(msnp.ErrLineTooLong, true), "line_too_long"},
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
