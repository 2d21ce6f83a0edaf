package fuzz

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/cvrswarm/cvrswarm/msnp"
	"github.com/cvrswarm/cvrswarm/msnp/msnptest"
)

// The tests in this file each run the oracle or the fuzzer against a
// scripted server that misbehaves as real servers were seen to, and
// check that what is reported is exactly what happened.

const (
	testVER   = "VER 1 MSNP8 CVR0\r\n"
	testValid = "CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS example@hotmail.com\r\n"
)

func examine(t *testing.T, o Oracle, ver, cvr string) Verdict {
	t.Helper()
	if o.Timeout == 0 {
		o.Timeout = 200 * time.Millisecond
	}
	v, err := o.Examine(context.Background(), caseOf(ver, cvr))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestProbeOnALineOfItsOwn: a case whose last line has no end, against a
// server that ignores lines it does not know. The probe after the
// ignored line must not be glued to the unterminated bytes (the server
// would read "fCVR ..." as one more unknown line and ignore it, and the
// case would pass for a hang): CRLF ends the line first. A server that
// does hang after such a case is still reported, saying so.
func TestProbeOnALineOfItsOwn(t *testing.T) {
	t.Parallel()
	const cvr = "XYZ 2 foo\r\nf"
	srv := script{answer: lenient}.start(t)
	if v := examine(t, Oracle{Target: srv.Target()}, testVER, cvr); v.Kind != "" {
		t.Errorf("lenient server: %s (%s), want nothing", v.Signature, v.Detail)
	}
	stuck := script{answer: wedgeOn(func(_ *session, line []byte) bool { return string(line) == "XYZ 2 foo" }, lenient)}.start(t)
	v := examine(t, Oracle{Target: stuck.Target()}, testVER, cvr)
	if v.Signature != "hang: no reply to other command" || !strings.Contains(v.Detail, "CRLF ended it before the probe") {
		t.Errorf("stuck server: %s (%s), want a hang that says CRLF ended the case", v.Signature, v.Detail)
	}
}

// TestHangClaimsWhatWasSent: a VER line the server ignores is probed with
// a valid VER, so that "hang" is claimed only when that too gets no
// reply; the detail says which probe was sent.
func TestHangClaimsWhatWasSent(t *testing.T) {
	t.Parallel()
	const badVER = "VER x MSNP8 CVR0\r\n"
	ignoresBadVER := script{answer: func(s *session, line []byte) (string, bool) {
		if _, ok := msnp.PeekTrID(line); !ok {
			return "", false
		}
		return lenient(s, line)
	}}.start(t)
	if v := examine(t, Oracle{Target: ignoresBadVER.Target()}, badVER, testValid); v.Kind != "" {
		t.Errorf("server that ignores a bad VER: %s (%s), want nothing", v.Signature, v.Detail)
	}
	stuck := script{answer: wedgeOn(func(_ *session, line []byte) bool {
		_, ok := msnp.PeekTrID(line)
		return !ok
	}, lenient)}.start(t)
	v := examine(t, Oracle{Target: stuck.Target()}, badVER, testValid)
	want := "the VER line got no reply within 200ms, and a valid VER sent after it on a line of its own got none within 200ms either; the connection stayed open"
	if v.Signature != "hang: no reply to VER" || v.Detail != want {
		t.Errorf("stuck server: %s (%s), want a hang saying %q", v.Signature, v.Detail, want)
	}
}

// TestCloseAfterRefusal: a server answers a VER whose TrID it cannot
// read with "VER 0 0" and closes, with the rest of the input unread (so
// its kernel resets the connection). That is the session's end as the
// spec allows, not a reset defect.
func TestCloseAfterRefusal(t *testing.T) {
	t.Parallel()
	srv := script{framing: byteReads, answer: lenient}.start(t)
	if v := examine(t, Oracle{Target: srv.Target()}, "VER x MSNP8 CVR0\r\nVER x MSNP8 CVR0\r\n", testValid); v.Kind != "" {
		t.Errorf("%s (%s), want nothing", v.Signature, v.Detail)
	}
	// The same server resetting before any refusal is still a defect.
	resets := script{framing: byteReads, answer: func(s *session, line []byte) (string, bool) {
		if strings.Contains(string(line), "%") {
			return "", true
		}
		return lenient(s, line)
	}}.start(t)
	v := examine(t, Oracle{Target: resets.Target()}, testVER, "CVR 2 %\r\nCVR 3 x\r\n")
	if v.Signature != "reset: reset instead of a reply to CVR" {
		t.Errorf("reset before any refusal: %s (%s), want a reset", v.Signature, v.Detail)
	}
}

// TestAmplificationIsARatio: a server that echoes a 1,000-byte field in a
// reply of the same size does not amplify; the same server repeats the
// client-version field three times, %-escaped, and that is found, signed
// by the field that drives it, with both byte counts, their ratio and the
// write that drew the replies.
func TestAmplificationIsARatio(t *testing.T) {
	t.Parallel()
	srv := script{answer: echoes}.start(t)
	o := Oracle{Target: srv.Target()}
	longHandle := "CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS " + strings.Repeat("a", 1000) + "@hotmail.com\r\n"
	if v := examine(t, o, testVER, longHandle); v.Kind != "" {
		t.Errorf("an echoed user handle: %s (%s), want nothing", v.Signature, v.Detail)
	}
	percents := "CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602" + strings.Repeat("%", 40) + " MSMSGS example@hotmail.com\r\n"
	v := examine(t, o, testVER, percents)
	if v.Signature != "amplification: CVR reply grows with its client-version field" {
		t.Fatalf("%%-escaped client version: %s (%s), want an amplification by the client-version field", v.Signature, v.Detail)
	}
	reply, _ := echoes(nil, []byte(strings.TrimSuffix(percents, "\r\n")))
	ratio := float64(len(reply)) / float64(len(percents))
	if v.RequestBytes != len(percents) || v.ReplyBytes != len(reply) || v.Ratio != ratio || ratio < 2 {
		t.Errorf("request %d bytes, reply %d, ratio %v: want %d, %d and %v", v.RequestBytes, v.ReplyBytes, v.Ratio, len(percents), len(reply), ratio)
	}
	if want := fmt.Sprintf("the CVR write's %d request bytes drew %d reply bytes, %.1f times as many", len(percents), len(reply), ratio); !strings.HasPrefix(v.Detail, want) {
		t.Errorf("detail %q, want it to start %q", v.Detail, want)
	}
}

// lineEcho sends every line back as it came, CRLF-ended.
func lineEcho(_ *session, line []byte) (string, bool) { return string(line) + "\r\n", false }

// TestEchoIsNotAmplification: a server that echoes every line sends about
// as many bytes as it got, however long the line: never an amplification.
// Not when a long line is left unterminated by the VER bytes and a short
// CVR write ends it (its echo answers both writes' bytes), and not when
// the echoed line is longer than a reply line may be read.
func TestEchoIsNotAmplification(t *testing.T) {
	t.Parallel()
	srv := script{answer: lineEcho}.start(t)
	o := Oracle{Target: srv.Target()}
	longVER := "VER " + strings.Repeat("1", 4000) + " MSNP15 CVR0"
	for _, c := range []struct{ name, ver, cvr string }{
		{"long line", testVER, "CVR 2 " + strings.Repeat("x", 4000) + "\r\n"},
		{"long line ended by the next write", longVER, "CVR 2 0x0409 winnt 5.1 i386 msnmsgr 8.5.1302 BC01 \r\n"},
	} {
		if v := examine(t, o, c.ver, c.cvr); v.Kind == KindAmplification {
			t.Errorf("%s: %s (%s), want no amplification from an echo", c.name, v.Signature, v.Detail)
		}
	}
	// A line longer than the reply bound, echoed by a server that reads
	// lines of any length.
	unbounded, err := msnptest.NewServer(func(conn net.Conn) {
		rd := bufio.NewReader(conn)
		for {
			line, err := rd.ReadBytes('\n')
			if err != nil {
				return
			}
			if _, err := conn.Write(line); err != nil {
				return
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(unbounded.Close)
	tooLong := "CVR 2 " + strings.Repeat("x", maxReplyLine) + "\r\n"
	if v := examine(t, Oracle{Target: unbounded.Target(), Timeout: 10 * time.Second}, testVER, tooLong); v.Kind != "" {
		t.Errorf("echo of a line over the reply bound: %s (%.100s), want nothing", v.Signature, v.Detail)
	}
}

// TestCommandNormalised: "cvr" and " CVR" are the command CVR in a
// signature, so that one defect makes one finding.
func TestCommandNormalised(t *testing.T) {
	t.Parallel()
	srv := script{answer: wedgeOn(func(_ *session, line []byte) bool {
		return normalisedCommand(line) == "CVR" && strings.Contains(string(line), "%")
	}, lenient)}.start(t)
	o := Oracle{Target: srv.Target()}
	for _, cvr := range []string{"CVR 2 100%\r\n", "cvr 2 100%\r\n", " CVR 2 100%\r\n", "\x00Cvr 2 100%\r\n"} {
		if v := examine(t, o, testVER, cvr); v.Signature != "hang: no reply to CVR" {
			t.Errorf("%q: %s, want hang: no reply to CVR", cvr, v.Signature)
		}
	}
}

// TestLostReply: a server that takes each read for one command drops the
// second of two valid CVRs sent in one write, and answers the probe sent
// after them: a lost reply.
func TestLostReply(t *testing.T) {
	t.Parallel()
	srv := script{framing: unframed, answer: lenient}.start(t)
	v := examine(t, Oracle{Target: srv.Target()}, testVER, testValid+strings.Replace(testValid, "CVR 2", "CVR 3", 1))
	want := "of 2 lines sent in one write, line 2, a valid CVR with TrID 3, got no reply, while a valid CVR sent after them was answered; the connection stayed open"
	if v.Signature != "lost-reply: no reply to a valid CVR sent with other lines in one write" || v.Detail != want {
		t.Errorf("%s (%s), want a lost reply saying %q", v.Signature, v.Detail, want)
	}
	// A framed lenient server answers both.
	framedSrv := script{answer: lenient}.start(t)
	if v := examine(t, Oracle{Target: framedSrv.Target()}, testVER, testValid+strings.Replace(testValid, "CVR 2", "CVR 3", 1)); v.Kind != "" {
		t.Errorf("framed server: %s (%s), want nothing", v.Signature, v.Detail)
	}
}

// hasShortLine reports whether the bytes hold a line of 0 or 1 bytes.
func hasShortLine(ver, cvr []byte) bool {
	for _, l := range splitLines(append(append([]byte(nil), ver...), cvr...)) {
		if body, eol := splitEOL(l); len(eol) > 0 && len(body) <= 1 {
			return true
		}
	}
	return false
}

// fuzzFor runs the fuzzer for cases, with at most a minute to do it,
// and fails the test when it could not.
func fuzzFor(t *testing.T, cfg Config) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := Run(ctx, cfg)
	if err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v", err)
	}
	if res.Cases != cfg.Cases {
		t.Fatalf("%d cases of %d in a minute (stopped by %s): the fuzzer is stuck", res.Cases, cfg.Cases, res.Stopped)
	}
	return res
}

// TestShortLineWedgeAtSpeed: a server that wedges on a line of 0 or 1
// bytes, a common input, costs a learned wait per case that shows it, not
// the whole timeout, and its hits are counted without being confirmed
// again: the run gets through its cases and files the hang once.
func TestShortLineWedgeAtSpeed(t *testing.T) {
	t.Parallel()
	srv := shortLineWedge.start(t)
	muts, err := SelectMutators("text-ctrl,text-truncate")
	if err != nil {
		t.Fatal(err)
	}
	res := fuzzFor(t, Config{Oracle: Oracle{Target: srv.Target()}, Seed: 1, Cases: 1000, Mutators: muts, SequenceShare: DefaultSequenceShare})
	hits := 0
	for _, f := range res.Findings {
		if f.Kind != KindHang || !hasShortLine(f.InputVER, f.InputCVR) {
			t.Errorf("finding %s on %s: want only hangs on a short line", f.Signature, f.Input)
		}
		hits += f.Hits
	}
	if len(res.Findings) == 0 || hits < 5 {
		t.Fatalf("findings %+v: want hangs on a short line, hit more than a few times", res.Findings)
	}
}

// TestBareLFHangFound: a server that never answers a line ending in a
// bare LF; text-barelf cases find it, and the signature says how the
// line ended.
func TestBareLFHangFound(t *testing.T) {
	t.Parallel()
	srv := bareLFWedge.start(t)
	res := fuzzFor(t, Config{Oracle: Oracle{Target: srv.Target()}, Seed: 2, Cases: 400, SequenceShare: DefaultSequenceShare})
	for _, f := range res.Findings {
		if f.Signature == "hang: no reply to CVR ending in a bare LF" {
			return
		}
	}
	t.Fatalf("findings %+v: want the hang on a CVR line ending in a bare LF", res.Findings)
}

// pinRestarts bounds the restarts pinning a new crash on its case takes:
// one for each suspect examined.
const pinRestarts = 2 + DefaultConns + historyLen

// TestCrashRestartsAtSpeed: under -exec, a server that panics on a
// common input ('%' in a CVR line) is restarted as soon as it accepts,
// and a crash of a signature already confirmed is counted without being
// pinned on a case again.
func TestCrashRestartsAtSpeed(t *testing.T) {
	t.Parallel()
	x, err := StartExec(context.Background(), ExecConfig{Command: ShellQuote(crashServer(t)) + " {addr}"})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	res := fuzzFor(t, Config{Oracle: Oracle{Target: x}, Seed: 4, Cases: 1500, SequenceShare: DefaultSequenceShare,
		MinimizeRuns: DefaultMinimizeRuns})
	f := findingOf(res, KindCrash)
	if f == nil || !f.Reproduced || f.Hits < 10 {
		t.Fatalf("findings %+v: want a reproduced crash hit ten times or more", res.Findings)
	}
	// A restart for each hit and each shrinking run, a few to pin the first
	// crash on its case, and on a busy machine the odd one more for a hit
	// whose restart was slow to be seen: pinning every hit again would cost
	// up to pinRestarts for each of them.
	if slack := pinRestarts + f.Hits/2; res.Restarts > f.Hits+f.MinimizeRuns+slack {
		t.Errorf("%d restarts for %d hits and %d shrinking runs, want at most %d more", res.Restarts, f.Hits, f.MinimizeRuns, slack)
	}
}

// TestStrictAgainstLenientServer: with Strict, a lenient server deviates
// from the spec in many ways; each new signature is shrunk once, within
// its share of the run, and the run gets through its cases.
func TestStrictAgainstLenientServer(t *testing.T) {
	t.Parallel()
	srv := script{answer: lenient}.start(t)
	f, err := New(Config{Oracle: Oracle{Target: srv.Target(), Strict: true}, Seed: 3, Cases: 1000,
		SequenceShare: DefaultSequenceShare, MinimizeRuns: DefaultMinimizeRuns, MinimizeTime: DefaultMinimizeTime})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := f.Run(ctx)
	if err != nil || res.Cases != 1000 {
		t.Fatalf("%d cases of 1000 (%v)", res.Cases, err)
	}
	if findingOf(res, KindDeviation) == nil {
		t.Fatalf("findings %+v: want deviations", res.Findings)
	}
	// The share is kept to as the run earns time: at most one step of
	// shrinking beyond it.
	limit := time.Duration(DefaultMinimizeShare*float64(time.Duration(res.DurationS*float64(time.Second)))) + DefaultMinimizeTime/10
	if f.shrink.spent > limit {
		t.Errorf("shrinking took %s of a %.1fs run, want at most %s", f.shrink.spent, res.DurationS, limit)
	}
}

// TestAliveWhenTheReplyAnswersAnotherCommand: a server that answers every
// line with a VER reply, even a CVR, is talking, and the liveness check
// that gates a campaign must say it is up, not that it is silent or closed.
func TestAliveWhenTheReplyAnswersAnotherCommand(t *testing.T) {
	t.Parallel()
	srv := script{answer: func(_ *session, line []byte) (string, bool) {
		trid, _ := msnp.PeekTrID(line)
		return fmt.Sprintf("VER %d MSNP8\r\n", trid), false
	}}.start(t)
	if err := (&Oracle{Target: srv.Target()}).Check(context.Background()); err != nil {
		t.Errorf("Check: %v, want nil: the target answered every line", err)
	}
}
