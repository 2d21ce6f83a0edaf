package fuzz

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cvrswarm/cvrswarm/msnp"
	"github.com/cvrswarm/cvrswarm/msnp/msnptest"
)

// scriptedServer answers VER with MSNP8 and every other line as answer
// says: the reply lines to write (none: ignore it) and whether to close.
func scriptedServer(t *testing.T, answer func(line string, trid uint32) (string, bool)) *msnptest.Server {
	t.Helper()
	srv, err := msnptest.NewServer(func(conn net.Conn) {
		rd := msnp.NewReader(conn, 0)
		for {
			line, err := rd.ReadLine()
			if err != nil && !errors.Is(err, msnp.ErrBareLF) {
				return
			}
			trid, _ := msnp.PeekTrID(line)
			if msnp.Verb(line) == "VER" {
				fmt.Fprintf(conn, "VER %d MSNP8\r\n", trid)
				continue
			}
			out, closeIt := answer(string(line), trid)
			conn.Write([]byte(out))
			if closeIt {
				return
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// cvrReply is a well-formed CVR reply.
func cvrReply(trid uint32) string {
	return fmt.Sprintf("CVR %d 7.0.0813 7.0.0813 6.2.0205 http://example.com/a http://example.com\r\n", trid)
}

// TestOracleClasses examines one case against servers with one way of
// answering each, strict and not: the kind and signature of each class,
// deviations only with Strict, and fuzzed command names that do not make
// new signatures.
func TestOracleClasses(t *testing.T) {
	const ver = "VER 1 MSNP8 CVR0\r\n"
	const valid = "CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS example@hotmail.com\r\n"
	const malformedCVR = "CVR 6 spaghetti\r\n"
	conforming := func(line string, trid uint32) (string, bool) {
		if strings.Contains(line, "spaghetti") {
			return fmt.Sprintf("731 %d\r\n", trid), true
		}
		return cvrReply(trid), false
	}
	for _, tc := range []struct {
		name   string
		answer func(string, uint32) (string, bool)
		cvr    string
		strict bool
		want   string // the signature; "" for none
	}{
		{"conforming", conforming, valid, true, ""},
		{"conforming, malformed CVR", conforming, malformedCVR, true, ""},
		{"no TrID in the reply", func(string, uint32) (string, bool) { return "CVR\r\n", false }, valid, false,
			"malformed-reply: reply without a TrID after CVR"},
		{"a reply to another command", func(string, uint32) (string, bool) { return "CVR\r\n", false }, "SMS 2 x\r\n", false,
			"malformed-reply: reply without a TrID after other command"},
		{"another TrID", func(_ string, trid uint32) (string, bool) { return cvrReply(trid + 1), false }, valid, false,
			"trid-mismatch: CVR reply to CVR"},
		{"two replies", func(_ string, trid uint32) (string, bool) { return cvrReply(trid) + cvrReply(trid), false }, valid, false,
			"malformed-reply: more reply lines than requests after CVR"},
		{"a long reply", func(_ string, trid uint32) (string, bool) {
			return cvrReply(trid)[:40] + strings.Repeat("a", 2000) + "\r\n", false
		},
			valid, false, "amplification: CVR reply, not driven by one field's length"},
		{"no 731, not strict", func(_ string, trid uint32) (string, bool) { return cvrReply(trid), false }, malformedCVR, false, ""},
		{"no 731, strict", func(_ string, trid uint32) (string, bool) { return cvrReply(trid), false }, malformedCVR, true,
			"deviation: no 731 for a malformed CVR (got CVR)"},
		{"no disconnect after 731, strict", func(_ string, trid uint32) (string, bool) {
			return fmt.Sprintf("731 %d\r\n", trid), false
		}, malformedCVR, true, "deviation: no disconnect after 731"},
		{"a line ignored, strict", func(line string, trid uint32) (string, bool) {
			if strings.Contains(line, "spaghetti") {
				return "", false
			}
			return cvrReply(trid), false
		}, malformedCVR, true, "deviation: no reply and no disconnect for the CVR line"},
		{"a line ignored, not strict", func(line string, trid uint32) (string, bool) {
			if strings.Contains(line, "spaghetti") {
				return "", false
			}
			return cvrReply(trid), false
		}, malformedCVR, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := scriptedServer(t, tc.answer)
			o := &Oracle{Target: srv.Target(), Timeout: 300 * time.Millisecond, Strict: tc.strict}
			v, err := o.Examine(context.Background(), caseOf(ver, tc.cvr))
			if err != nil {
				t.Fatal(err)
			}
			if v.Signature != tc.want {
				t.Errorf("signature %q (%s), want %q", v.Signature, v.Detail, tc.want)
			}
			if tc.want != "" && !strings.HasPrefix(tc.want, string(v.Kind)+": ") {
				t.Errorf("kind %q does not start the signature %q", v.Kind, v.Signature)
			}
		})
	}
}

// TestClassify: how a phase of an exchange ended, in the fuzzer's words,
// from msnp's ends.
func TestClassify(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want endKind
	}{
		{nil, endOpen},
		{io.EOF, endEOF},
		{&os.SyscallError{Syscall: "read", Err: syscall.ECONNRESET}, endReset},
		{&os.SyscallError{Syscall: "write", Err: syscall.EPIPE}, endReset},
		{&net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}, endTimeout},
		{context.DeadlineExceeded, endTimeout},
		{msnp.ErrLineTooLong, endTooLong},
		{&os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}, endError},
		{errors.New("odd"), endError},
	} {
		if got := classify(tt.err); got != tt.want {
			t.Errorf("classify(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
