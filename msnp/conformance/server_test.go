package conformance_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/cvrswarm/cvrswarm/msnp"
	"github.com/cvrswarm/cvrswarm/msnp/msnptest"
)

// server is a small VER/CVR server that follows the rules of package msnp,
// with switches that break it in the ways real servers are broken.
type server struct {
	role     msnp.Role
	dialects []msnp.Dialect // nil = msnp.Dialects()

	no710         bool // answers an invalid locale with a CVR reply
	trid16        bool // echoes the TrID cut to 16 bits
	openAfter731  bool // stays connected after 731
	dieOnLongLine bool // stops answering anyone after a line over 4096 bytes
	dieOn731      bool // stops answering anyone after it sends 731
	refuseAll     bool // answers 420 to every CVR it would serve
	echoCVR0      bool // answers "VER n MSNPx CVR0"
	bareLF        bool // ends its replies in LF alone
	lowest        bool // negotiates the lowest common dialect
	ignoreBareLF  bool // leaves a line ended by a bare LF unanswered
	noTrID0       bool // closes on TrID 0
	noHandle731   bool // answers 731 to an MSNP8+ CVR without the user-handle
	handleFrom9   bool // answers 731 to a user-handle in MSNP8 (an off-by-one)
	shortReply    bool // answers a CVR without its URLs, and with "x" for recommended-version-2
	needsCVR0     bool // answers "VER n 0" and closes when the VER does not list CVR0
	lenient       bool // ignores a line whose command it does not know
	wedgeShort    bool // stops answering, the connection left open, at a line of under 3 bytes or spaces only
	unframed      bool // takes each read as one command: its first line, the rest of the read dropped

	dead atomic.Bool
}

// start serves s on a loopback port until the test ends.
func (s *server) start(t *testing.T) *msnptest.Server {
	t.Helper()
	srv, err := msnptest.NewServer(s.serve)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

func (s *server) serve(conn net.Conn) {
	if s.dead.Load() {
		return
	}
	var lines interface{ ReadLine() ([]byte, error) } = msnp.NewReader(conn, msnp.DefaultMaxLineLength)
	if s.unframed {
		lines = &unframedReader{conn: conn}
	}
	var dialect msnp.Dialect
	send := func(parts ...string) bool {
		b := []byte{}
		for i, p := range parts {
			if i > 0 {
				b = append(b, ' ')
			}
			b = append(b, p...)
		}
		if s.bareLF {
			b = append(b, '\n')
		} else {
			b = append(b, '\r', '\n')
		}
		_, err := conn.Write(b)
		return err == nil
	}
	echo := func(t uint32) string {
		if s.trid16 {
			t &= 0xffff
		}
		return strconv.FormatUint(uint64(t), 10)
	}
	spoken := s.dialects
	if spoken == nil {
		spoken = msnp.Dialects()
	}
	for {
		line, err := lines.ReadLine()
		if errors.Is(err, msnp.ErrLineTooLong) && s.dieOnLongLine {
			s.dead.Store(true)
		}
		if err != nil && !errors.Is(err, msnp.ErrBareLF) {
			return
		}
		bare := err != nil
		if s.wedgeShort && len(bytes.TrimLeft(line, " ")) < 3 {
			io.Copy(io.Discard, conn) // until the client hangs up
			return
		}
		switch msnp.Verb(line) {
		case "VER":
			if dialect != "" {
				if t, ok := msnp.PeekTrID(line); ok {
					send("715", echo(t))
				}
				return
			}
			ver, err := msnp.ParseVER(line)
			if err != nil {
				return
			}
			if s.needsCVR0 && !slices.Contains(ver.Dialects, msnp.CVR0) {
				send("VER", echo(ver.TrID), "0")
				return
			}
			d := msnp.Negotiate(ver.Dialects, spoken)
			if s.lowest {
				d = lowest(ver.Dialects, spoken, d)
			}
			if d == "" {
				send("VER", echo(ver.TrID), "0")
				return
			}
			dialect = d
			if s.echoCVR0 && d != msnp.CVR0 {
				send("VER", echo(ver.TrID), string(d), "CVR0")
			} else {
				send("VER", echo(ver.TrID), string(d))
			}
		case "CVR", "CVQ":
			v, err := msnp.Lookup(dialect)
			if err != nil || !v.AcceptsCVR(s.role) {
				return
			}
			if s.ignoreBareLF && bare {
				continue
			}
			if t, ok := msnp.PeekTrID(line); ok && t == 0 && s.noTrID0 {
				return
			}
			req, err := msnp.ParseRequest(line)
			code := 0
			switch {
			case err != nil:
				t, ok := msnp.PeekTrID(line)
				if !ok {
					return
				}
				req.TrID, code = t, msnp.CodeMalformedCVR
			default:
				code, _ = msnp.CheckRequest(req, v)
				if code == msnp.CodeInvalidLocale && s.no710 {
					code = 0
				}
				if code == 0 && s.refuseAll {
					code = msnp.CodeInvalidClient
				}
				if code == 0 && ((s.noHandle731 && v.Number >= 8 && req.Params < 8) ||
					(s.handleFrom9 && v.Number == 8 && req.Params == 8)) {
					code = msnp.CodeMalformedCVR
				}
			}
			if code != 0 {
				send(strconv.Itoa(code), echo(req.TrID))
				if code == msnp.CodeMalformedCVR && s.dieOn731 {
					s.dead.Store(true)
				}
				if code == msnp.CodeMalformedCVR && !s.openAfter731 {
					return
				}
				continue
			}
			if s.shortReply {
				send(v.Command, echo(req.TrID), "8.5.1302", "x", "8.1.0178")
				continue
			}
			send(v.Command, echo(req.TrID), "8.5.1302", "8.5.1302", "8.1.0178",
				"http://example.com/setup.exe", "http://example.com")
		default:
			if s.lenient {
				continue
			}
			return
		}
	}
}

// unframedReader reads as servers do that take each read for one command:
// the first line of what one Read returns (all of it when it holds no LF),
// the rest dropped.
type unframedReader struct {
	conn net.Conn
	buf  [1024]byte
}

func (u *unframedReader) ReadLine() ([]byte, error) {
	n, err := u.conn.Read(u.buf[:])
	if n == 0 {
		return nil, err
	}
	line, _, found := bytes.Cut(u.buf[:n], []byte("\n"))
	if !found {
		return line, nil
	}
	if l, ok := bytes.CutSuffix(line, []byte("\r")); ok {
		return l, nil
	}
	return line, msnp.ErrBareLF
}

// lowest returns the lowest MSNP dialect in both lists, or best when they
// share none.
func lowest(client, server []msnp.Dialect, best msnp.Dialect) msnp.Dialect {
	low := best
	for _, d := range client {
		v, err := msnp.Lookup(d)
		if err != nil || v.Number == 0 || !slices.Contains(server, d) {
			continue
		}
		if l, err := msnp.Lookup(low); err != nil || l.Number == 0 || v.Number < l.Number {
			low = d
		}
	}
	return low
}
