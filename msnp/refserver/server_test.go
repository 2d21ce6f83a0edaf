package refserver_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cvrswarm/cvrswarm/corpus"
	"github.com/cvrswarm/cvrswarm/msnp"
	"github.com/cvrswarm/cvrswarm/msnp/refserver"
)

// TestValidSeedsGetACVRReply sends every valid seed to a server of each
// role that takes its dialect's CVR, and checks the reply is a CVR (or
// CVQ) reply carrying the request's TrID.
func TestValidSeedsGetACVRReply(t *testing.T) {
	t.Parallel()
	for _, c := range corpus.Valid() {
		for _, role := range []msnp.Role{msnp.NS, msnp.DS} {
			ver, err := msnp.ParseVER(bytes.TrimSuffix(c.VER, []byte("\r\n")))
			if err != nil {
				t.Fatalf("%s: ParseVER: %v", c.Name, err)
			}
			d := msnp.Negotiate(ver.Dialects, msnp.Dialects())
			if v, _ := msnp.Lookup(d); !v.AcceptsCVR(role) {
				continue
			}
			t.Run(c.Name+"/"+role.String(), func(t *testing.T) {
				t.Parallel()
				req, err := msnp.ParseRequest(bytes.TrimSuffix(c.CVR, []byte("\r\n")))
				if err != nil {
					t.Fatalf("ParseRequest: %v", err)
				}
				got, _ := converse(t, refserver.Config{Role: role}, string(c.VER)+string(c.CVR))
				lines := strings.Split(strings.TrimSuffix(got, "\r\n"), "\r\n")
				if len(lines) != 2 {
					t.Fatalf("server wrote %q, want a VER and a CVR reply", got)
				}
				if want := fmt.Sprintf("VER %d %s", ver.TrID, d); lines[0] != want {
					t.Errorf("VER reply %q, want %q", lines[0], want)
				}
				r, err := msnp.ParseReply([]byte(lines[1]))
				if err != nil {
					t.Fatalf("ParseReply: %v", err)
				}
				if r.Kind != msnp.ReplyCVR || r.Command != req.Command || r.TrID != req.TrID {
					t.Errorf("got %q, want a %s reply with TrID %d", lines[1], req.Command, req.TrID)
				}
			})
		}
	}
}

// servePipe serves the server end of a net.Pipe with srv, through wrap
// when it is not nil, and returns the client end. At cleanup it closes the
// client end, waits for ServeConn to return and closes srv.
func servePipe(t *testing.T, srv *refserver.Server, wrap func(net.Conn) net.Conn) net.Conn {
	cli, sc := net.Pipe()
	if wrap != nil {
		sc = wrap(sc)
	}
	var wg sync.WaitGroup
	wg.Go(func() { srv.ServeConn(context.Background(), sc) })
	t.Cleanup(func() {
		cli.Close()
		wg.Wait()
		srv.Close()
	})
	return cli
}

// pipelinedCVRs returns a VER and n CVRs as one client sends them at once,
// and the server's replies.
func pipelinedCVRs(n int) (send, want string) {
	var s, w strings.Builder
	s.WriteString("VER 1 MSNP8 CVR0\r\n")
	w.WriteString("VER 1 MSNP8\r\n")
	for i := 2; i < n+2; i++ {
		fmt.Fprintf(&s, "CVR %d 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS example@hotmail.com\r\n", i)
		fmt.Fprintf(&w, "CVR %d%s\r\n", i, cvrTail)
	}
	return s.String(), w.String()
}

// countingConn counts the writes made to a connection.
type countingConn struct {
	net.Conn
	writes atomic.Int64
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// TestPipelinedRepliesAreWrittenTogether sends a VER and 40 CVRs in one
// write and checks that every reply arrives in order, in fewer writes
// than there were reads of input.
func TestPipelinedRepliesAreWrittenTogether(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		send, want := pipelinedCVRs(40)
		counted := &countingConn{}
		cli := servePipe(t, refserver.New(refserver.Config{}), func(c net.Conn) net.Conn {
			counted.Conn = c
			return counted
		})
		go cli.Write([]byte(send))
		got := make([]byte, len(want))
		if _, err := io.ReadFull(cli, got); err != nil {
			t.Fatalf("read replies: %v", err)
		}
		if string(got) != want {
			t.Fatalf("replies differ:\n%s\nwant\n%s", got, want)
		}
		// The input (about 3 KiB) fits one read of the 4 KiB line buffer.
		if w := counted.writes.Load(); w != 1 {
			t.Errorf("server made %d writes for one read of pipelined requests, want 1", w)
		}
	})
}

// TestRepliesBeforeAPartialLine checks that the server does not hold back
// replies while it waits for the rest of a line.
func TestRepliesBeforeAPartialLine(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		cli := servePipe(t, refserver.New(refserver.Config{}), nil)
		go cli.Write([]byte("VER 1 MSNP8 CVR0\r\nCVR 2 0x0409"))
		cli.SetReadDeadline(time.Now().Add(time.Second))
		got := make([]byte, len("VER 1 MSNP8\r\n"))
		if _, err := io.ReadFull(cli, got); err != nil {
			t.Fatalf("VER reply not written while the next line is incomplete: %v", err)
		}
	})
}

func TestIdleTimeout(t *testing.T) {
	t.Parallel()
	for _, idle := range []time.Duration{0, 10 * time.Second} {
		t.Run(fmt.Sprint(idle), func(t *testing.T) {
			t.Parallel()
			want := idle
			if want == 0 {
				want = refserver.DefaultIdleTimeout
			}
			synctest.Test(t, func(t *testing.T) {
				cli := servePipe(t, refserver.New(refserver.Config{IdleTimeout: idle}), nil)
				if _, err := cli.Write([]byte("VER 1 MSNP8 CVR0\r\n")); err != nil {
					t.Fatal(err)
				}
				start := time.Now()
				buf := make([]byte, 64)
				n, err := cli.Read(buf)
				if err != nil || string(buf[:n]) != "VER 1 MSNP8\r\n" {
					t.Fatalf("got %q, %v; want the VER reply", buf[:n], err)
				}
				if _, err := cli.Read(buf); err != io.EOF {
					t.Fatalf("read after silence: %v, want EOF", err)
				}
				if got := time.Since(start); got != want {
					t.Errorf("closed after %v of silence, want %v", got, want)
				}
			})
		})
	}
}

// TestIdleTimeoutCountsUnreadReplies checks that a client that never reads
// cannot hold a handler beyond the idle timeout.
func TestIdleTimeoutCountsUnreadReplies(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		srv := refserver.New(refserver.Config{IdleTimeout: 5 * time.Second})
		defer srv.Close()
		cli, sc := net.Pipe()
		defer cli.Close()
		start := time.Now()
		var wg sync.WaitGroup
		defer wg.Wait()
		wg.Go(func() { cli.Write([]byte("VER 1 MSNP8 CVR0\r\n")) })
		srv.ServeConn(context.Background(), sc) // net.Pipe has no buffer: the reply is never taken
		if got := time.Since(start); got != 5*time.Second {
			t.Errorf("handler returned after %v, want 5s", got)
		}
	})
}

func TestNoIdleTimeout(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		cli := servePipe(t, refserver.New(refserver.Config{IdleTimeout: -1}), nil)
		cli.SetReadDeadline(time.Now().Add(24 * time.Hour))
		if _, err := cli.Read(make([]byte, 1)); !isTimeout(err) {
			t.Fatalf("read: %v, want the client's own timeout after a day", err)
		}
	})
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestMaxConnsOverPipes(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		srv := refserver.New(refserver.Config{MaxConns: 2})
		var wg sync.WaitGroup
		var clients []net.Conn
		for range 2 {
			cli, sc := net.Pipe()
			clients = append(clients, cli)
			wg.Go(func() { srv.ServeConn(context.Background(), sc) })
		}
		synctest.Wait() // both are being served
		cli, sc := net.Pipe()
		wg.Go(func() { srv.ServeConn(context.Background(), sc) })
		if _, err := cli.Read(make([]byte, 1)); err != io.EOF {
			t.Errorf("third connection: read %v, want EOF at once", err)
		}
		cli.Close()
		// The first two are still served.
		for _, c := range clients {
			if _, err := c.Write([]byte("VER 1 MSNP8 CVR0\r\n")); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 64)
			if n, err := c.Read(buf); err != nil || string(buf[:n]) != "VER 1 MSNP8\r\n" {
				t.Errorf("served connection: got %q, %v", buf[:n], err)
			}
		}
		// Closing one frees a slot.
		clients[0].Close()
		synctest.Wait()
		cli, sc = net.Pipe()
		wg.Go(func() { srv.ServeConn(context.Background(), sc) })
		cli.Write([]byte("VER 1 MSNP8 CVR0\r\n"))
		buf := make([]byte, 64)
		if n, err := cli.Read(buf); err != nil || string(buf[:n]) != "VER 1 MSNP8\r\n" {
			t.Errorf("connection after one closed: got %q, %v", buf[:n], err)
		}
		srv.Close()
		for _, c := range append(clients, cli) {
			c.Close()
		}
		wg.Wait()
	})
}

// dialVER connects to addr and completes a VER exchange.
func dialVER(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("VER 1 MSNP8 CVR0\r\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	if n, err := c.Read(buf); err != nil || string(buf[:n]) != "VER 1 MSNP8\r\n" {
		t.Fatalf("VER reply %q, %v", buf[:n], err)
	}
	return c
}

func TestMaxConnsOverTCP(t *testing.T) {
	t.Parallel()
	srv, err := refserver.Listen("127.0.0.1:0", refserver.Config{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	a, b := dialVER(t, srv.Addr()), dialVER(t, srv.Addr())
	defer a.Close()
	defer b.Close()
	c, err := net.DialTimeout("tcp", srv.Addr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write([]byte("VER 1 MSNP8 CVR0\r\n")) // may fail: the server may have closed already
	if n, err := c.Read(make([]byte, 64)); err == nil || isTimeout(err) {
		t.Errorf("third connection: read %d bytes, %v; want it closed", n, err)
	}
}

func TestListenBindsLoopback(t *testing.T) {
	t.Parallel()
	for _, addr := range []string{"", ":0", "127.0.0.1:0"} {
		srv, err := refserver.Listen(addr, refserver.Config{})
		if err != nil {
			t.Fatalf("Listen(%q): %v", addr, err)
		}
		if got := srv.Addr(); !strings.HasPrefix(got, "127.0.0.1:") || strings.HasSuffix(got, ":0") {
			t.Errorf("Listen(%q).Addr() = %q, want 127.0.0.1 and a port", addr, got)
		}
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}
	if _, err := refserver.Listen("127.0.0.1", refserver.Config{}); err == nil {
		t.Error("Listen without a port: no error")
	}
}

// TestClientAgainstListen runs msnp.Client against a listening server.
func TestClientAgainstListen(t *testing.T) {
	t.Parallel()
	srv, err := refserver.Listen("127.0.0.1:0", refserver.Config{Role: msnp.DS, Recommended: "8.5.1302"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := msnp.Dial(ctx, msnp.TCPTarget(srv.Addr()), msnp.ClientConfig{Dialects: []msnp.Dialect{"MSNP15", "MSNP8", msnp.CVR0}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Handshake(ctx); err != nil {
		t.Fatalf("Handshake: %v", err)
	}
	req := msnp.Request{Locale: "0x0409", SystemType: "winnt", SystemVer: "5.1", SystemArch: "i386",
		Library: "MSNMSGR", ClientVersion: "8.5.1302", ClientID: "BC01", UserHandle: "a@example.com", Params: 8}
	for range 3 {
		r, err := c.CVR(ctx, req)
		if err != nil {
			t.Fatalf("CVR: %v", err)
		}
		if r.CVR.Recommended != "8.5.1302" || r.CVR.Recommended2 != "8.5.1302" || r.CVR.Minimum != refserver.DefaultMinimum {
			t.Errorf("reply %q, want recommended 8.5.1302 twice and the default minimum", r.String())
		}
	}
	req.ClientVersion = "99.9.9999"
	var e *msnp.Error
	if _, err := c.CVR(ctx, req); !errors.As(err, &e) || e.Code != msnp.CodeInvalidClient {
		t.Errorf("CVR with version 99.9.9999: %v, want error 420", err)
	}
}

// stallConn blocks its reads, once the connection is closed, until
// release is closed: a handler that is slow to notice.
type stallConn struct {
	net.Conn
	release chan struct{}
}

func (c *stallConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if err != nil {
		<-c.release
	}
	return n, err
}

func TestCloseWaitsForHandlers(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		srv := refserver.New(refserver.Config{})
		cli, sc := net.Pipe()
		defer cli.Close()
		conn := &stallConn{Conn: sc, release: make(chan struct{})}
		var wg sync.WaitGroup
		wg.Go(func() { srv.ServeConn(context.Background(), conn) })
		synctest.Wait()
		var closed atomic.Bool
		wg.Go(func() {
			srv.Close()
			closed.Store(true)
		})
		synctest.Wait()
		if closed.Load() {
			t.Fatal("Close returned while a handler was still running")
		}
		if _, err := cli.Read(make([]byte, 1)); err != io.EOF {
			t.Errorf("client read after Close: %v, want EOF", err)
		}
		close(conn.release)
		wg.Wait()
		if !closed.Load() {
			t.Error("Close did not return")
		}
	})
}

func TestCloseEndsListenAndConnections(t *testing.T) {
	t.Parallel()
	srv, err := refserver.Listen("127.0.0.1:0", refserver.Config{})
	if err != nil {
		t.Fatal(err)
	}
	c := dialVER(t, srv.Addr())
	defer c.Close()
	if err := srv.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("read after Close: %v, want EOF", err)
	}
	if _, err := net.DialTimeout("tcp", srv.Addr(), time.Second); err == nil {
		t.Error("dial after Close succeeded")
	}
	if err := srv.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	// ServeConn and Serve after Close close what they are given.
	cli, sc := net.Pipe()
	srv.ServeConn(context.Background(), sc)
	if _, err := cli.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("ServeConn after Close: read %v, want EOF", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(ln); err != nil {
		t.Errorf("Serve after Close: %v", err)
	}
	if _, err := ln.Accept(); err == nil {
		t.Error("Serve after Close left the listener open")
	}
}

func TestServeConnStopsWithContext(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		srv := refserver.New(refserver.Config{})
		defer srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		cli, sc := net.Pipe()
		defer cli.Close()
		start := time.Now()
		srv.ServeConn(ctx, sc)
		if got := time.Since(start); got != 3*time.Second {
			t.Errorf("ServeConn returned after %v, want 3s (the context's end)", got)
		}
	})
}

func TestServeReturnsAcceptErrors(t *testing.T) {
	t.Parallel()
	srv := refserver.New(refserver.Config{})
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close() // closed by someone else than the server
	if err := srv.Serve(ln); err == nil || !strings.HasPrefix(err.Error(), "accept: ") {
		t.Errorf("Serve on a closed listener: %v, want an accept error", err)
	}
}
