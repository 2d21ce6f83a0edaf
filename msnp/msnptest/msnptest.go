// Package msnptest runs throw-away MSNP servers on loopback for tests and
// benchmarks: a harness that hands each connection to a handler, and a
// canned server that answers every line without parsing it, the baseline
// that parsing servers and load generators are measured against.
package msnptest

import (
	"bufio"
	"errors"
	"net"
	"sync"
	"testing"

	"github.com/cvrswarm/cvrswarm/msnp"
)

// Server is a listener on 127.0.0.1 whose every connection runs a handler
// in its own goroutine. Close stops it and waits for every handler.
type Server struct {
	ln      net.Listener
	handler func(net.Conn)
	wg      sync.WaitGroup
	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	closed  bool
}

// NewServer listens on a free loopback port and serves each connection
// with handler, which need not close it.
func NewServer(handler func(net.Conn)) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{ln: ln, handler: handler, conns: map[net.Conn]struct{}{}}
	s.wg.Go(s.accept)
	return s, nil
}

// Addr returns the server's "127.0.0.1:port".
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Target returns the server as a dial target.
func (s *Server) Target() msnp.TCPTarget { return msnp.TCPTarget(s.Addr()) }

func (s *Server) accept() {
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			conn.Close()
			return
		}
		s.conns[conn] = struct{}{}
		s.wg.Go(func() {
			defer func() {
				conn.Close()
				s.mu.Lock()
				delete(s.conns, conn)
				s.mu.Unlock()
			}()
			s.handler(conn)
		})
		s.mu.Unlock()
	}
}

// Close stops accepting, closes every open connection and waits for all
// handlers to return.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.ln.Close()
	s.wg.Wait()
}

// CannedCVR is the reply tail the canned server sends after "CVR TrID".
const CannedCVR = " 8.5.1302 8.5.1302 8.1.0178 http://example.com/setup.exe http://example.com\r\n"

// Canned answers each line without parsing it: a line starting "VER"
// gets "VER TrID first-dialect", any other line "CVR TrID" and
// [CannedCVR], where TrID is the line's second token as sent. Replies to
// pipelined lines are written together once the read buffer is drained.
func Canned(conn net.Conn) {
	lines := msnp.NewReader(conn, 0)
	w := bufio.NewWriter(conn)
	var out []byte
	for {
		line, err := lines.ReadLine()
		if err != nil && !errors.Is(err, msnp.ErrBareLF) {
			return
		}
		verb, trid, first := tokens(line)
		out = out[:0]
		if string(verb) == "VER" {
			out = append(out, "VER "...)
			out = append(out, trid...)
			out = append(out, ' ')
			out = append(out, first...)
			out = append(out, '\r', '\n')
		} else {
			out = append(out, "CVR "...)
			out = append(out, trid...)
			out = append(out, CannedCVR...)
		}
		if _, err := w.Write(out); err != nil {
			return
		}
		if lines.Buffered() == 0 {
			if err := w.Flush(); err != nil {
				return
			}
		}
	}
}

// tokens returns the first three space-separated tokens of line.
func tokens(line []byte) (a, b, c []byte) {
	var f [3][]byte
	n, start := 0, 0
	for i := 0; i <= len(line) && n < 3; i++ {
		if i == len(line) || line[i] == ' ' {
			f[n] = line[start:i]
			n++
			start = i + 1
		}
	}
	return f[0], f[1], f[2]
}

// NewCanned starts a server running [Canned].
func NewCanned() (*Server, error) { return NewServer(Canned) }

// HTTPBadRequest is what [HTTPResponder] answers.
const HTTPBadRequest = "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 11\r\nConnection: close\r\n\r\nBad Request"

// HTTPResponder plays a web server on the wrong port: it answers the
// first line it reads, whatever it is, with [HTTPBadRequest] and closes
// the connection.
func HTTPResponder(conn net.Conn) {
	if _, err := msnp.NewReader(conn, 0).ReadLine(); err != nil && !errors.Is(err, msnp.ErrBareLF) {
		return
	}
	conn.Write([]byte(HTTPBadRequest))
}

// ClosedAddr returns a loopback address nothing listens on: a port
// Listen handed out, closed again, so a dial there is refused.
func ClosedAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
