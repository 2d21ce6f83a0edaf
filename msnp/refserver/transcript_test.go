package refserver_test

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/cvrswarm/cvrswarm/msnp"
	"github.com/cvrswarm/cvrswarm/msnp/refserver"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The default CVR reply after "CVR TrID".
const cvrTail = " 7.0.0813 7.0.0813 6.2.0205 http://msgr.dlservice.microsoft.com/download/5/d/9/5d9bb5b2-49c7-4890-94ab-d1d5e44a0e6d/Install_MSN_Messenger.exe http://messenger.msn.com"

// script is a conversation as the package documentation writes it:
//
//	C: a line the client sends (CRLF added)
//	S: a line the server answers (CRLF added)
//	(open) or (closed): whether the server keeps the connection at the end
//
// `\n` inside a C: line stands for a raw LF, so "C: CVR ...\n" sends a bare
// LF line; the CRLF is then not added.
type script string

// parse returns what the client sends, what the server must answer, and
// whether the connection stays open.
func (s script) parse(t *testing.T) (send, want string, open bool) {
	t.Helper()
	var in, out strings.Builder
	ended := false
	for _, line := range strings.Split(strings.TrimSpace(string(s)), "\n") {
		line = strings.TrimLeft(line, " \t") // keep trailing spaces: they are part of the line
		switch {
		case strings.HasPrefix(line, "C: "):
			l := line[3:]
			if raw, ok := strings.CutSuffix(l, `\n`); ok {
				in.WriteString(raw + "\n")
			} else {
				in.WriteString(l + "\r\n")
			}
		case strings.HasPrefix(line, "S: "):
			out.WriteString(line[3:] + "\r\n")
		case line == "C:":
			in.WriteString("\r\n")
		case line == "(open)" || line == "(closed)":
			open, ended = line == "(open)", true
		default:
			t.Fatalf("bad script line %q", line)
		}
	}
	if !ended {
		t.Fatal("script does not end in (open) or (closed)")
	}
	return in.String(), out.String(), open
}

// converse runs the server on one end of a net.Pipe inside a synctest
// bubble, writes send at once from the other end, and returns every byte
// the server wrote and whether it closed the connection (rather than
// waiting for more). It checks that ServeConn returns once the client
// side closes.
func converse(t *testing.T, cfg refserver.Config, send string) (got string, closed bool) {
	t.Helper()
	synctest.Test(t, func(t *testing.T) {
		got, closed = converseInBubble(t, cfg, send)
	})
	return got, closed
}

func converseInBubble(t *testing.T, cfg refserver.Config, send string) (string, bool) {
	srv := refserver.New(cfg)
	defer srv.Close()
	cli, sc := net.Pipe()
	var wg sync.WaitGroup
	served := make(chan struct{})
	wg.Go(func() {
		srv.ServeConn(context.Background(), sc)
		close(served)
	})
	wg.Go(func() { cli.Write([]byte(send)) }) // fails once the server closes: that is fine
	var out []byte
	buf := make([]byte, 4096)
	closed := false
	for {
		// The server's idle timeout is longer: a timeout means it waits for input.
		cli.SetReadDeadline(time.Now().Add(time.Second))
		n, err := cli.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			closed = err == io.EOF
			if !closed && !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("client read: %v", err)
			}
			break
		}
	}
	cli.Close()
	wg.Wait()
	select {
	case <-served:
	default:
		t.Error("ServeConn did not return after the client closed")
	}
	return string(out), closed
}

func TestTranscripts(t *testing.T) {
	t.Parallel()
	ds := refserver.Config{Role: msnp.DS}
	tests := []struct {
		name   string
		cfg    refserver.Config
		script script
	}{
		{name: "msnp8 login", script: `
			C: VER 1 MSNP8 CVR0
			S: VER 1 MSNP8
			C: CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS example@hotmail.com
			S: CVR 2` + cvrTail + `
			(open)`},
		{name: "many CVRs on one connection", script: `
			C: VER 1 MSNP15 CVR0
			S: VER 1 MSNP15
			C: CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 8.5.1302 BC01 
			S: CVR 2` + cvrTail + `
			C: CVR 3 0x0409 winnt 5.1 i386 MSNMSGR 8.1.0178 msmsgs user@example.com
			S: CVR 3` + cvrTail + `
			C: CVR 4294967295 0x0C0A winnt 5.1 i386 MSNMSGR 8.1.0178 msmsgs
			S: CVR 4294967295` + cvrTail + `
			(open)`},
		{name: "highest common dialect", script: `
			C: VER 7 MSNP12 MSNP11 MSNP10 CVR0
			S: VER 7 MSNP12
			(open)`},
		{name: "seed 420 unknown version and library, 710 locale, 731 spaghetti", script: `
			C: VER 1 MSNP8 CVR0
			S: VER 1 MSNP8
			C: CVR 3 0x0409 winnt 5.0 i386 MSNMSGR 99.9.9999 MSMSGS
			S: 420 3
			C: CVR 4 0x0409 winnt 5.0 i386 YCOMM 0.1.0023 MSMSGS
			S: 420 4
			C: CVR 5 0x1111 winnt 5.1 MSNMSGR 6.0.0602 MSMSGS example@hotmail.com
			S: 710 5
			C: CVR 6 spaghetti
			S: 731 6
			C: CVR 7 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS example@hotmail.com
			(closed)`},
		{name: "420 keeps the connection", script: `
			C: VER 1 MSNP8 CVR0
			S: VER 1 MSNP8
			C: CVR 3 0x0409 winnt 5.0 i386 MSNMSGR 99.9.9999 MSMSGS
			S: 420 3
			(open)`},
		{name: "710 keeps the connection", script: `
			C: VER 1 MSNP8 CVR0
			S: VER 1 MSNP8
			C: CVR 5 0x1111 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS example@hotmail.com
			S: 710 5
			C: CVR 6 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS example@hotmail.com
			S: CVR 6` + cvrTail + `
			(open)`},
		{name: "731 for a parameter count the dialect does not take", script: `
			C: VER 1 MSNP8 CVR0
			S: VER 1 MSNP8
			C: CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602
			S: 731 2
			(closed)`},
		{name: "malformed CVR without a TrID closes silently", script: `
			C: VER 1 MSNP8 CVR0
			S: VER 1 MSNP8
			C: CVR spaghetti
			(closed)`},
		{name: "TrID overflow is malformed", script: `
			C: VER 1 MSNP8 CVR0
			S: VER 1 MSNP8
			C: CVR 4294967296 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS example@hotmail.com
			(closed)`},
		{name: "double space is malformed", script: `
			C: VER 1 MSNP9 CVR0
			S: VER 1 MSNP9
			C: CVR 2 0x0409 winnt  5.1 i386 MSNMSGR 6.0.0602 MSMSGS example@hotmail.com
			S: 731 2
			(closed)`},
		{name: "bare LF accepted", script: `
			C: VER 1 MSNP8 CVR0\n
			S: VER 1 MSNP8
			C: CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS example@hotmail.com\n
			S: CVR 2` + cvrTail + `
			(open)`},
		{name: "no common dialect", script: `
			C: VER 1 DISREGARDANCE FOR A REAL PROTOCOL
			S: VER 1 0
			(closed)`},
		{name: "no common dialect with a server of few dialects",
			cfg: refserver.Config{Dialects: []msnp.Dialect{"MSNP15", "MSNP14"}}, script: `
			C: VER 1 MSNP8 CVR0
			S: VER 1 0
			(closed)`},
		{name: "MSNP24 is not a dialect", script: `
			C: VER 1 MSNP24
			S: VER 1 0
			(closed)`},
		{name: "second VER", script: `
			C: VER 1 MSNP8 CVR0
			S: VER 1 MSNP8
			C: VER 2 MSNP8 CVR0
			S: 715 2
			C: CVR 3 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS example@hotmail.com
			(closed)`},
		{name: "second VER without a TrID", script: `
			C: VER 1 MSNP8 CVR0
			S: VER 1 MSNP8
			C: VER MSNP8
			(closed)`},
		{name: "VER without TrID", script: `
			C: VER MSNP8 CVR0
			C: CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS example@hotmail.com
			(closed)`},
		{name: "VER without dialects", script: `
			C: VER 1
			(closed)`},
		{name: "VER with an empty dialect", script: `
			C: VER 1 MSNP8  CVR0
			(closed)`},
		{name: "CVR before VER", script: `
			C: CVR 1 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS example@hotmail.com
			(closed)`},
		{name: "CVQ before VER", cfg: ds, script: `
			C: CVQ 1 0x0409 win 4.10 i386 MSMSGS 1.0.0863 MSMSGS
			(closed)`},
		{name: "USR is out of context", script: `
			C: VER 1 MSNP8 CVR0
			S: VER 1 MSNP8
			C: USR 3 TWN I example@hotmail.com
			(closed)`},
		{name: "INF is out of context", script: `
			C: VER 1 MSNP7 CVR0
			S: VER 1 MSNP7
			C: INF 2
			(closed)`},
		{name: "unknown verb", script: `
			C: VER 1 MSNP8 CVR0
			S: VER 1 MSNP8
			C: FLN Hotmail
			(closed)`},
		{name: "empty line", script: `
			C: VER 1 MSNP8 CVR0
			S: VER 1 MSNP8
			C:
			(closed)`},
		{name: "verb prefix is not the verb", script: `
			C: VER 1 MSNP8 CVR0
			S: VER 1 MSNP8
			C: CVRX 2 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS example@hotmail.com
			(closed)`},
		{name: "NS takes CVR before MSNP8", script: `
			C: VER 1 MSNP7 CVR0
			S: VER 1 MSNP7
			C: CVR 2 0x0409 winnt 5.0 i386 MSMSGS 4.5.0121 MSMSGS
			S: CVR 2` + cvrTail + `
			(open)`},
		{name: "DS does not take CVR before MSNP8", cfg: ds, script: `
			C: VER 1 MSNP7 CVR0
			S: VER 1 MSNP7
			C: CVR 2 0x0409 winnt 5.0 i386 MSMSGS 4.5.0121 MSMSGS
			(closed)`},
		{name: "DS takes CVR from MSNP8", cfg: ds, script: `
			C: VER 1 MSNP8 CVR0
			S: VER 1 MSNP8
			C: CVR 2 0x0409 win 4.10 i386 MSNMSGR 5.0.0537 MSMSGS example@hotmail.com
			S: CVR 2` + cvrTail + `
			(open)`},
		{name: "DS negotiates dialects whose CVR it does not take", cfg: ds, script: `
			C: VER 1 MSNP2 CVR0
			S: VER 1 MSNP2
			(open)`},
		{name: "CVQ after CVR0 on the DS",
			cfg: refserver.Config{Role: msnp.DS, Dialects: []msnp.Dialect{msnp.CVR0}}, script: `
			C: VER 1 MSNP10 MSNP9 CVR0
			S: VER 1 CVR0
			C: CVQ 2 0x0409 winnt 5.1 i386 MSNMSGR 6.1.0211 MSMSGS example@passport.com
			S: CVQ 2` + cvrTail + `
			C: CVQ 3 0x0409 winnt 5.1 i386 MSNMSGR 6.1.0211 MSMSGS example@passport.com
			(closed)`},
		{name: "CVQ after CVR0 on the NS closes", cfg: refserver.Config{Dialects: []msnp.Dialect{msnp.CVR0}}, script: `
			C: VER 1 MSNP2 CVR0
			S: VER 1 CVR0
			C: CVQ 2 0x0409 win 4.10 i386 MSMSGS 1.0.0863 MSMSGS
			(closed)`},
		{name: "CVR after CVR0 is malformed",
			cfg: refserver.Config{Role: msnp.DS, Dialects: []msnp.Dialect{msnp.CVR0}}, script: `
			C: VER 1 CVR0
			S: VER 1 CVR0
			C: CVR 2 0x0409 win 4.10 i386 MSMSGS 1.0.0863 MSMSGS
			S: 731 2
			(closed)`},
		{name: "CVQ after MSNP8 is malformed", script: `
			C: VER 1 MSNP8 CVR0
			S: VER 1 MSNP8
			C: CVQ 2 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS example@hotmail.com
			S: 731 2
			(closed)`},
		{name: "configured reply fields", cfg: refserver.Config{Recommended: "8.5.1302", Minimum: "8.1.0178",
			DownloadURL: "http://example.com/setup.exe", FallbackURL: "http://example.com"}, script: `
			C: VER 1 MSNP15 CVR0
			S: VER 1 MSNP15
			C: CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 8.5.1302 BC01 
			S: CVR 2 8.5.1302 8.5.1302 8.1.0178 http://example.com/setup.exe http://example.com
			(open)`},
		{name: "configured second recommended version", cfg: refserver.Config{Recommended: "8.5.1302",
			Recommended2: "8.1.0178"}, script: `
			C: VER 1 MSNP15 CVR0
			S: VER 1 MSNP15
			C: CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 8.5.1302 BC01 
			S: CVR 2 8.5.1302 8.1.0178 6.2.0205 http://msgr.dlservice.microsoft.com/download/5/d/9/5d9bb5b2-49c7-4890-94ab-d1d5e44a0e6d/Install_MSN_Messenger.exe http://messenger.msn.com
			(open)`},
		{name: "over-long line closes after the pending replies", cfg: refserver.Config{MaxLineLength: 64}, script: `
			C: VER 1 MSNP8 CVR0
			S: VER 1 MSNP8
			C: CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS a-very-long-user-handle@hotmail.com
			(closed)`},
		{name: "line one byte over the maximum", cfg: refserver.Config{MaxLineLength: 70}, script: `
			C: VER 1 MSNP8 CVR0
			S: VER 1 MSNP8
			C: CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS example@hotmail.com
			(closed)`},
		{name: "line of exactly the maximum length", cfg: refserver.Config{MaxLineLength: 71}, script: `
			C: VER 1 MSNP8 CVR0
			S: VER 1 MSNP8
			C: CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS example@hotmail.com
			S: CVR 2` + cvrTail + `
			(open)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			send, want, open := tt.script.parse(t)
			got, closed := converse(t, tt.cfg, send)
			if got != want {
				t.Errorf("server wrote\n%s\nwant\n%s", got, want)
			}
			if closed == open {
				t.Errorf("closed = %v, want %v", closed, !open)
			}
		})
	}
}

func TestNoTerminatorCloses(t *testing.T) {
	t.Parallel()
	// A line with no end, longer than the default maximum: the server
	// must close rather than buffer it.
	got, closed := converse(t, refserver.Config{}, "VER 1 MSNP8 CVR0\r\n"+strings.Repeat("A", msnp.DefaultMaxLineLength+10))
	if want := "VER 1 MSNP8\r\n"; got != want {
		t.Errorf("server wrote %q, want %q", got, want)
	}
	if !closed {
		t.Error("connection left open after an over-long line")
	}
}
