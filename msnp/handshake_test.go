package msnp_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cvrswarm/cvrswarm/msnp"
	"github.com/cvrswarm/cvrswarm/msnp/msnptest"
)

// answerFirst is a scripted server: it reads one line, hands it to got,
// writes reply as it is and closes the connection, or leaves it open
// until the client goes when stay is set.
func answerFirst(got chan<- string, reply string, stay bool) func(net.Conn) {
	return func(c net.Conn) {
		line, err := msnp.NewReader(c, 0).ReadLine()
		if err != nil {
			got <- "error: " + err.Error()
			return
		}
		got <- string(line)
		c.Write([]byte(reply))
		if stay {
			io.Copy(io.Discard, c)
		}
	}
}

func TestHandshakeTranscripts(t *testing.T) {
	t.Parallel()
	msnp8 := []msnp.Dialect{"MSNP8", msnp.CVR0}
	tests := []struct {
		name    string
		ver     string // sent as it is; "" sends "VER 1" and the offered dialects
		trid    uint32
		offered []msnp.Dialect
		handler func(got chan<- string) func(net.Conn)
		sent    string // the line the server must have read
		class   msnp.ReplyClass
		dialect msnp.Dialect
		errIs   error // from Negotiation.Err, or from Handshake for an I/O failure
		errAs   any
		ioErr   bool
	}{
		{name: "chooses", offered: msnp8, sent: "VER 1 MSNP8 CVR0", class: msnp.ClassOK, dialect: "MSNP8",
			handler: func(got chan<- string) func(net.Conn) { return answerFirst(got, "VER 1 MSNP8\r\n", true) }},
		{name: "echoes CVR0 after the dialect", offered: []msnp.Dialect{"MSNP13", msnp.CVR0}, sent: "VER 1 MSNP13 CVR0",
			class: msnp.ClassOK, dialect: "MSNP13",
			handler: func(got chan<- string) func(net.Conn) { return answerFirst(got, "VER 1 MSNP13 CVR0\r\n", true) }},
		{name: "falls back to CVR0", offered: []msnp.Dialect{"MSNP10", "MSNP9", msnp.CVR0}, sent: "VER 1 MSNP10 MSNP9 CVR0",
			class: msnp.ClassOK, dialect: msnp.CVR0,
			handler: func(got chan<- string) func(net.Conn) { return answerFirst(got, "VER 1 CVR0\r\n", true) }},
		{name: "ends in a bare LF", offered: msnp8, sent: "VER 1 MSNP8 CVR0", class: msnp.ClassOK, dialect: "MSNP8",
			handler: func(got chan<- string) func(net.Conn) { return answerFirst(got, "VER 1 MSNP8\n", true) }},
		{name: "any dialect when none is offered", ver: "VER 5 MSNPX\r\n", trid: 5, sent: "VER 5 MSNPX",
			class: msnp.ClassOK, dialect: "MSNPX",
			handler: func(got chan<- string) func(net.Conn) { return answerFirst(got, "VER 5 MSNPX\r\n", true) }},
		{name: "refuses every dialect and closes", offered: msnp8, sent: "VER 1 MSNP8 CVR0", class: msnp.ClassRefused,
			errIs:   msnp.ErrNoDialect,
			handler: func(got chan<- string) func(net.Conn) { return answerFirst(got, "VER 1 0\r\n", false) }},
		{name: "chooses a dialect not offered", offered: msnp8, sent: "VER 1 MSNP8 CVR0", class: msnp.ClassUnexpected,
			errIs:   msnp.ErrUnexpectedReply,
			handler: func(got chan<- string) func(net.Conn) { return answerFirst(got, "VER 1 MSNP15\r\n", true) }},
		{name: "answers with a CVR reply", offered: msnp8, sent: "VER 1 MSNP8 CVR0", class: msnp.ClassUnexpected,
			errIs:   msnp.ErrUnexpectedReply,
			handler: func(got chan<- string) func(net.Conn) { return answerFirst(got, "CVR 1 1.0 1.0 1.0\r\n", true) }},
		{name: "wrong TrID", offered: msnp8, sent: "VER 1 MSNP8 CVR0", class: msnp.ClassTrIDMismatch, errIs: msnp.ErrTrIDMismatch,
			handler: func(got chan<- string) func(net.Conn) { return answerFirst(got, "VER 2 MSNP8\r\n", true) }},
		{name: "numeric error", offered: msnp8, sent: "VER 1 MSNP8 CVR0", class: msnp.ClassError, errAs: new(*msnp.Error),
			handler: func(got chan<- string) func(net.Conn) { return answerFirst(got, "715 1\r\n", false) }},
		{name: "binary garbage", offered: msnp8, sent: "VER 1 MSNP8 CVR0", class: msnp.ClassMalformed, errAs: new(*msnp.SyntaxError),
			handler: func(got chan<- string) func(net.Conn) { return answerFirst(got, "\x00\x01\xff\r\n", true) }},
		{name: "echo", offered: msnp8, sent: "VER 1 MSNP8 CVR0", class: msnp.ClassOK, dialect: "MSNP8", // an echo is a valid VER reply
			handler: func(got chan<- string) func(net.Conn) {
				return func(c net.Conn) {
					line, _ := msnp.NewReader(c, 0).ReadLine()
					got <- string(line)
					c.Write(append(line, '\r', '\n'))
					io.Copy(io.Discard, c)
				}
			}},
		{name: "lenient: ignores a line it does not know", ver: "XYZ 1\r\nVER 2 MSNP8 CVR0\r\n", trid: 2, offered: msnp8,
			sent: "VER 2 MSNP8 CVR0", class: msnp.ClassOK, dialect: "MSNP8",
			handler: func(got chan<- string) func(net.Conn) {
				return func(c net.Conn) {
					rd := msnp.NewReader(c, 0)
					for {
						line, err := rd.ReadLine()
						if err != nil {
							got <- "error: " + err.Error()
							return
						}
						if bytes.HasPrefix(line, []byte("VER ")) {
							got <- string(line)
							c.Write([]byte("VER 2 MSNP8\r\n"))
							io.Copy(io.Discard, c)
							return
						}
					}
				}
			}},
		{name: "unframed: one read is one command", offered: msnp8, sent: "VER 1 MSNP8 CVR0", class: msnp.ClassOK, dialect: "MSNP8",
			handler: func(got chan<- string) func(net.Conn) {
				return func(c net.Conn) {
					buf := make([]byte, 1024)
					n, _ := c.Read(buf)
					got <- strings.TrimRight(string(buf[:n]), "\r\n")
					c.Write([]byte("VER 1 MSNP8\r\n"))
					io.Copy(io.Discard, c)
				}
			}},
		{name: "closes early", offered: msnp8, sent: "VER 1 MSNP8 CVR0", ioErr: true, errIs: io.EOF,
			handler: func(got chan<- string) func(net.Conn) { return answerFirst(got, "", false) }},
		{name: "wedges", offered: msnp8, sent: "VER 1 MSNP8 CVR0", ioErr: true, errIs: os.ErrDeadlineExceeded,
			handler: func(got chan<- string) func(net.Conn) { return answerFirst(got, "", true) }},
		{name: "endless line", offered: msnp8, sent: "VER 1 MSNP8 CVR0", ioErr: true, errIs: msnp.ErrLineTooLong,
			handler: func(got chan<- string) func(net.Conn) {
				return answerFirst(got, "VER 1 "+strings.Repeat("M", 2*msnp.DefaultMaxLineLength)+"\r\n", true)
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := make(chan string, 1)
			srv, err := msnptest.NewServer(tt.handler(got))
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			// The deadline only ends the wedged case, where nothing comes.
			timeout := 5 * time.Second
			if errors.Is(tt.errIs, os.ErrDeadlineExceeded) {
				timeout = 50 * time.Millisecond
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			conn, err := srv.Target().Dial(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			stop, err := msnp.BindDeadline(ctx, conn, time.Now().Add(timeout))
			if err != nil {
				t.Fatal(err)
			}
			defer stop()
			ver, trid := []byte(tt.ver), tt.trid
			if tt.ver == "" {
				req := msnp.VERRequest{TrID: 1, Dialects: tt.offered}
				ver, trid = req.Append(nil), 1
			}
			n, err := msnp.Handshake(conn, msnp.NewReader(conn, 0), ver, trid, tt.offered)
			if sent := <-got; sent != tt.sent {
				t.Errorf("server read %q, want %q", sent, tt.sent)
			}
			if tt.ioErr {
				if !errors.Is(err, tt.errIs) {
					t.Errorf("Handshake error = %v, want %v", err, tt.errIs)
				}
				return
			}
			if err != nil {
				t.Fatalf("Handshake: %v", err)
			}
			if n.Class != tt.class || n.Dialect != tt.dialect {
				t.Errorf("got class %s dialect %q, want %s %q", n.Class, n.Dialect, tt.class, tt.dialect)
			}
			switch err := n.Err(); {
			case tt.errIs != nil:
				if !errors.Is(err, tt.errIs) {
					t.Errorf("Err() = %v, want %v", err, tt.errIs)
				}
			case tt.errAs != nil:
				if !errors.As(err, tt.errAs) {
					t.Errorf("Err() = %v, want a %T", err, tt.errAs)
				}
			case err != nil:
				t.Errorf("Err() = %v, want nil", err)
			}
		})
	}
}

func TestNegotiationErrNamesTheDialect(t *testing.T) {
	t.Parallel()
	var w bytes.Buffer
	n, err := msnp.Handshake(&w, msnp.NewReader(strings.NewReader("VER 1 MSNP15\r\n"), 0),
		[]byte("VER 1 MSNP8\r\n"), 1, []msnp.Dialect{"MSNP8"})
	if err != nil {
		t.Fatal(err)
	}
	want := `reply does not answer the request: VER chose "MSNP15", which was not offered`
	if got := n.Err(); got == nil || got.Error() != want {
		t.Errorf("Err() = %v, want %s", got, want)
	}
	if w.String() != "VER 1 MSNP8\r\n" {
		t.Errorf("sent %q", w.String())
	}
}
