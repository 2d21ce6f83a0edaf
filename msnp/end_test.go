package msnp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// loopback returns both ends of a fresh connection on 127.0.0.1.
func loopback(t *testing.T) (client, server *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s := <-accepted
	if s == nil {
		c.Close()
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return c.(*net.TCPConn), s.(*net.TCPConn)
}

// reset has the server end reset the connection and waits for the
// client's read to see it.
func reset(t *testing.T) (client *net.TCPConn, readErr error) {
	t.Helper()
	c, s := loopback(t)
	s.SetLinger(0) // close sends RST
	s.Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := c.Read(make([]byte, 1))
	return c, err
}

// TestEndOf classifies the errors real sockets return on loopback.
func TestEndOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  func(t *testing.T) error
		want End
	}{
		{"no error", func(*testing.T) error { return nil }, EndNone},
		{"the peer closes", func(t *testing.T) error {
			c, s := loopback(t)
			s.Close()
			_, err := c.Read(make([]byte, 1))
			return err
		}, EndClosed},
		{"the peer closes inside a line", func(t *testing.T) error {
			c, s := loopback(t)
			s.Write([]byte("VER 1 MSN"))
			s.Close()
			_, err := NewReader(c, 64).ReadLine()
			return err
		}, EndClosed},
		{"the peer resets (SO_LINGER 0)", func(t *testing.T) error {
			_, err := reset(t)
			return err
		}, EndReset},
		{"a write after the reset", func(t *testing.T) error {
			c, _ := reset(t)
			_, err := c.Write([]byte("CVR 2\r\n"))
			return err
		}, EndBrokenPipe},
		{"a refused port", func(t *testing.T) error {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := ln.Addr().String()
			ln.Close()
			c, err := net.Dial("tcp", addr)
			if err == nil {
				c.Close()
			}
			return err
		}, EndRefused},
		{"a deadline", func(t *testing.T) error {
			c, _ := loopback(t)
			c.SetReadDeadline(time.Now().Add(-time.Second))
			_, err := c.Read(make([]byte, 1))
			return err
		}, EndTimeout},
		{"a context's deadline", func(t *testing.T) error {
			ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
			defer cancel()
			return fmt.Errorf("read VER reply: %w", ctx.Err())
		}, EndTimeout},
		{"a line too long", func(t *testing.T) error {
			c, s := loopback(t)
			s.Write([]byte(strings.Repeat("x", 100) + "\r\n"))
			_, err := NewReader(c, 16).ReadLine()
			return err
		}, EndTooLong},
		{"wrapped and joined", func(t *testing.T) error {
			return errors.Join(errors.New("odd"), fmt.Errorf("send VER: %w", io.EOF))
		}, EndClosed},
		{"a bare LF is no end", func(*testing.T) error { return ErrBareLF }, EndOther},
		{"a canceled context", func(*testing.T) error { return context.Canceled }, EndOther},
		{"something else", func(*testing.T) error { return os.ErrPermission }, EndOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.err(t)
			if got := EndOf(err); got != tt.want {
				t.Errorf("EndOf(%v) = %v, want %v", err, got, tt.want)
			}
		})
	}
}

func TestEndString(t *testing.T) {
	for e, want := range map[End]string{EndNone: "none", EndClosed: "closed", EndReset: "reset", EndBrokenPipe: "broken-pipe",
		EndRefused: "refused", EndTimeout: "timeout", EndTooLong: "too-long", EndOther: "other", EndOther + 1: "End(8)"} {
		if got := e.String(); got != want {
			t.Errorf("End(%d).String() = %q, want %q", uint8(e), got, want)
		}
	}
}

// TestEndOfDoesNotAllocate: load classifies every failed request with it.
func TestEndOfDoesNotAllocate(t *testing.T) {
	_, c := loopback(t)
	c.SetReadDeadline(time.Now().Add(-time.Second))
	_, timeout := c.Read(make([]byte, 1))
	for _, err := range []error{timeout, io.EOF, ErrLineTooLong, &net.OpError{Op: "read", Err: os.NewSyscallError("read", errors.New("odd"))}} {
		if n := testing.AllocsPerRun(100, func() { EndOf(err) }); n != 0 {
			t.Errorf("EndOf(%v): %v allocations, want 0", err, n)
		}
	}
}
