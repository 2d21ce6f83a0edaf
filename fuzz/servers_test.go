package fuzz

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"testing"

	"github.com/cvrswarm/cvrswarm/msnp"
	"github.com/cvrswarm/cvrswarm/msnp/msnptest"
)

// script is a scripted MSNP server for the oracle's and the fuzzer's
// tests, each one a way real servers misbehave. A connection's command
// lines are read as framing says and each is answered by answer: the
// reply to write (none: the line is ignored) and whether to close after
// it.
type script struct {
	framing framing
	answer  func(s *session, line []byte) (reply string, close bool)
}

// framing is how a scripted server splits its input into commands.
type framing uint8

const (
	framed    framing = iota // lines ended by LF (a bare LF marked), read in as few reads as may be
	unframed                 // each read() is one command: the first line of what it returned; the rest is dropped
	byteReads                // lines read a byte at a time: what the server has not read is left to the kernel
)

// session is a connection's state in a scripted server.
type session struct {
	bareLF bool // the line being answered ended in a bare LF
	wedged bool // the connection answers nothing more
}

// start runs the script on a loopback port until the test ends.
func (sc script) start(t testing.TB) *msnptest.Server {
	t.Helper()
	srv, err := msnptest.NewServer(func(conn net.Conn) {
		var s session
		next := sc.reader(conn, &s)
		for {
			line, ok := next()
			if !ok {
				return
			}
			if s.wedged {
				continue
			}
			reply, closeIt := sc.answer(&s, line)
			if _, err := io.WriteString(conn, reply); err != nil || closeIt {
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

// reader returns the function that reads the next command of conn.
func (sc script) reader(conn net.Conn, s *session) func() ([]byte, bool) {
	switch sc.framing {
	case unframed:
		buf := make([]byte, 64<<10)
		return func() ([]byte, bool) {
			n, err := conn.Read(buf)
			if n == 0 && err != nil {
				return nil, false
			}
			line, _, _ := bytes.Cut(buf[:n], []byte("\n"))
			s.bareLF = false
			return bytes.TrimSuffix(line, []byte("\r")), true
		}
	case byteReads:
		var line []byte
		one := make([]byte, 1)
		return func() ([]byte, bool) {
			line = line[:0]
			for {
				if _, err := conn.Read(one); err != nil {
					return nil, false
				}
				if one[0] == '\n' {
					s.bareLF = !bytes.HasSuffix(line, []byte("\r"))
					return bytes.TrimSuffix(line, []byte("\r")), true
				}
				line = append(line, one[0])
			}
		}
	}
	rd := msnp.NewReaderSize(conn, 1<<20, 4096)
	return func() ([]byte, bool) {
		line, err := rd.ReadLine()
		if err != nil && !errors.Is(err, msnp.ErrBareLF) {
			return nil, false
		}
		s.bareLF = err != nil
		return line, true
	}
}

// lenient answers VER with the first dialect offered when it knows it,
// else MSNP8 (or "VER 0 0" and a close for a VER it cannot read), a line whose command is CVR or CVQ
// with a reply of that command, and ignores every other line, as lenient
// servers do.
func lenient(s *session, line []byte) (string, bool) {
	trid, ok := msnp.PeekTrID(line)
	switch msnp.Verb(line) {
	case "VER":
		f := strings.Fields(string(line))
		if !ok || len(f) < 3 {
			return "VER 0 0\r\n", true
		}
		if d := msnp.Dialect(f[2]); d.Known() {
			return fmt.Sprintf("VER %d %s\r\n", trid, d), false
		}
		return fmt.Sprintf("VER %d MSNP8\r\n", trid), false
	case "CVR":
		return cvrReply(trid), false
	case "CVQ":
		return "CVQ" + strings.TrimPrefix(cvrReply(trid), "CVR"), false
	}
	return "", false
}

// answersAll answers as lenient does, and any other line with a syntax
// error (200) carrying its TrID, or 0 when it has none.
func answersAll(s *session, line []byte) (string, bool) {
	if reply, closeIt := lenient(s, line); reply != "" || closeIt {
		return reply, closeIt
	}
	trid, _ := msnp.PeekTrID(line)
	return fmt.Sprintf("200 %d\r\n", trid), false
}

// wedgeOn wraps an answer: a line for which wedges holds gets no reply,
// and neither does anything after it on the connection.
func wedgeOn(wedges func(s *session, line []byte) bool, answer func(*session, []byte) (string, bool)) func(*session, []byte) (string, bool) {
	return func(s *session, line []byte) (string, bool) {
		if wedges(s, line) {
			s.wedged = true
			return "", false
		}
		return answer(s, line)
	}
}

// shortLineWedge answers every line, but wedges on any line of 0 or 1
// bytes: a common input.
var shortLineWedge = script{answer: wedgeOn(func(_ *session, line []byte) bool { return len(line) <= 1 }, answersAll)}

// bareLFWedge answers every line, but never a line ending in a bare LF,
// nor anything after it on the connection.
var bareLFWedge = script{answer: wedgeOn(func(s *session, _ []byte) bool { return s.bareLF }, answersAll)}

// echoes answers CVR as lenient does, but its reply echoes the user
// handle once, in the download URL, and repeats the client-version field
// three times, %-escaped: a '%' grows nine times.
func echoes(s *session, line []byte) (string, bool) {
	f := strings.Split(string(line), " ")
	if msnp.Verb(line) != "CVR" || len(f) < 10 {
		return lenient(s, line)
	}
	v := url.QueryEscape(f[7])
	return fmt.Sprintf("CVR %s %s %s %s http://example.com/%s http://example.com\r\n", f[1], v, v, v, f[9]), false
}

// normalisedCommand is the command a forgiving server reads in a line:
// case, surrounding space and control bytes ignored.
func normalisedCommand(line []byte) string {
	clean := bytes.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return -1
		}
		return r
	}, line)
	cmd, _, _ := strings.Cut(strings.TrimSpace(string(clean)), " ")
	return strings.ToUpper(cmd)
}
