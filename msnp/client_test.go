package msnp

import (
	"bufio"
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// script is one side of a transcript: lines starting "C: " are what the
// client must send, "S: " what the server answers, "close" ends it.
func serveScript(t *testing.T, conn net.Conn, script []string) chan error {
	done := make(chan error, 1)
	go func() {
		defer conn.Close()
		r := bufio.NewReader(conn)
		for _, step := range script {
			switch {
			case strings.HasPrefix(step, "C: "):
				got, err := r.ReadString('\n')
				if err != nil {
					done <- err
					return
				}
				if want := step[3:] + "\r\n"; got != want {
					done <- errors.New("client sent " + strings.TrimSpace(got) + ", want " + step[3:])
					return
				}
			case strings.HasPrefix(step, "S: "):
				if _, err := conn.Write([]byte(step[3:] + "\r\n")); err != nil {
					done <- err
					return
				}
			case step == "wait":
				r.ReadString('\n') // until the client gives up and closes
			}
		}
		done <- nil
	}()
	return done
}

func TestClientTranscript(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		dialects []Dialect
		req      Request
		script   []string
		dialect  Dialect
		errIs    error
		code     int
	}{
		{
			name:     "msnp8 login",
			dialects: []Dialect{"MSNP8", CVR0},
			req: Request{Locale: "0x0409", SystemType: "win", SystemVer: "4.10", SystemArch: "i386",
				Library: "MSNMSGR", ClientVersion: "5.0.0537", ClientID: "MSMSGS", UserHandle: "example@hotmail.com", Params: 8},
			script: []string{
				"C: VER 1 MSNP8 CVR0", "S: VER 1 MSNP8",
				"C: CVR 2 0x0409 win 4.10 i386 MSNMSGR 5.0.0537 MSMSGS example@hotmail.com",
				"S: CVR 2 5.0.0537 5.0.0537 1.0.0863 http://download.microsoft.com/setupdl.exe http://messenger.microsoft.com",
			},
			dialect: "MSNP8",
		},
		{
			name:     "request shaped for MSNP7",
			dialects: []Dialect{"MSNP9", "MSNP7", CVR0},
			req: Request{Locale: "0x0409", SystemType: "winnt", SystemVer: "5.0", SystemArch: "i386",
				Library: "MSMSGS", ClientVersion: "4.5.0121", ClientID: "MSMSGS", UserHandle: "a@b.c", Params: 8},
			script: []string{
				"C: VER 1 MSNP9 MSNP7 CVR0", "S: VER 1 MSNP7 CVR0",
				"C: CVR 2 0x0409 winnt 5.0 i386 MSMSGS 4.5.0121 MSMSGS", "S: CVR 2 5.0.0537 5.0.0537 1.0.0863",
			},
			dialect: "MSNP7",
		},
		{
			name:     "CVQ after CVR0",
			dialects: []Dialect{"MSNP10", "MSNP9", CVR0},
			req: Request{Locale: "0x0409", SystemType: "winnt", SystemVer: "5.1", SystemArch: "i386",
				Library: "MSNMSGR", ClientVersion: "6.1.0211", ClientID: "MSMSGS", UserHandle: "a@b.c", Params: 8},
			script: []string{
				"C: VER 1 MSNP10 MSNP9 CVR0", "S: VER 1 CVR0",
				"C: CVQ 2 0x0409 winnt 5.1 i386 MSNMSGR 6.1.0211", "S: CVQ 2 7.0.0813 7.0.0813 6.2.0205 http://a http://b",
			},
			dialect: CVR0,
		},
		{
			name:     "invalid locale",
			dialects: []Dialect{"MSNP8", CVR0},
			req: Request{Locale: "0x1111", SystemType: "winnt", SystemVer: "5.1", SystemArch: "i386",
				Library: "MSNMSGR", ClientVersion: "6.0.0602", ClientID: "MSMSGS", Params: 7},
			script: []string{
				"C: VER 1 MSNP8 CVR0", "S: VER 1 MSNP8",
				"C: CVR 2 0x1111 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS", "S: 710 2",
			},
			dialect: "MSNP8",
			code:    710,
		},
		{
			name:     "wrong TrID",
			dialects: []Dialect{"MSNP8", CVR0},
			req: Request{Locale: "0x0409", SystemType: "winnt", SystemVer: "5.1", SystemArch: "i386",
				Library: "MSNMSGR", ClientVersion: "6.0.0602", ClientID: "MSMSGS", Params: 7},
			script: []string{
				"C: VER 1 MSNP8 CVR0", "S: VER 1 MSNP8",
				"C: CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS", "S: CVR 3 1.0.0000 1.0.0000 1.0.0000",
			},
			dialect: "MSNP8",
			errIs:   ErrTrIDMismatch,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			client, server := net.Pipe()
			done := serveScript(t, server, tt.script)
			c := NewClient(client, ClientConfig{Dialects: tt.dialects})
			defer c.Close()
			if _, err := c.Handshake(ctx); err != nil {
				t.Fatalf("Handshake: %v", err)
			}
			if c.Dialect() != tt.dialect {
				t.Errorf("Dialect() = %q, want %q", c.Dialect(), tt.dialect)
			}
			_, err := c.CVR(ctx, tt.req)
			var e *Error
			switch {
			case tt.errIs != nil:
				if !errors.Is(err, tt.errIs) {
					t.Errorf("CVR error = %v, want %v", err, tt.errIs)
				}
			case tt.code != 0:
				if !errors.As(err, &e) || e.Code != tt.code {
					t.Errorf("CVR error = %v, want code %d", err, tt.code)
				}
			case err != nil:
				t.Errorf("CVR: %v", err)
			}
			if err := <-done; err != nil {
				t.Errorf("server side: %v", err)
			}
		})
	}
}

func TestClientNoDialect(t *testing.T) {
	t.Parallel()
	client, server := net.Pipe()
	done := serveScript(t, server, []string{"C: VER 1 DISREGARDANCE CVR0", "S: VER 1 0"})
	c := NewClient(client, ClientConfig{Dialects: []Dialect{"DISREGARDANCE", CVR0}})
	defer c.Close()
	if _, err := c.Handshake(context.Background()); !errors.Is(err, ErrNoDialect) {
		t.Errorf("Handshake error = %v, want ErrNoDialect", err)
	}
	if err := <-done; err != nil {
		t.Error(err)
	}
}

func TestClientHonoursContext(t *testing.T) {
	t.Parallel()
	client, server := net.Pipe()
	done := serveScript(t, server, []string{"C: VER 1 MSNP8 CVR0", "wait"})
	c := NewClient(client, ClientConfig{Dialects: []Dialect{"MSNP8", CVR0}})
	defer c.Close()

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	if _, err := c.Handshake(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Handshake error = %v, want context.Canceled", err)
	}

	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := c.ReadLine(ctx)
	if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("ReadLine error = %v, want a deadline error", err)
	}
	c.Close()
	<-done
}

func TestDialRefused(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := Dial(ctx, TCPTarget(addr), ClientConfig{}); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("Dial to a closed port: error = %v, want a dial error", err)
	}
}
