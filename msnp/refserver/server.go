package refserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/cvrswarm/cvrswarm/msnp"
)

// Defaults for the zero values of [Config].
const (
	// DefaultIdleTimeout is how long a connection may stay silent (or
	// leave the server's replies unread) before the server closes it.
	DefaultIdleTimeout = 60 * time.Second
	// DefaultMaxConns is how many connections the server holds open at
	// once; it is above the 10,000 a large load run opens.
	DefaultMaxConns = 16384
)

// Defaults of the CVR reply fields: the pre-login (MSNP8 and later)
// example of msnp/PROTOCOL.md §2.4.
//
//	S: CVR 2 7.0.0813 7.0.0813 6.2.0205 http://msgr.dlservice.microsoft.com/download/5/d/9/5d9bb5b2-49c7-4890-94ab-d1d5e44a0e6d/Install_MSN_Messenger.exe http://messenger.msn.com
const (
	DefaultRecommended = "7.0.0813"
	DefaultMinimum     = "6.2.0205"
	DefaultDownloadURL = "http://msgr.dlservice.microsoft.com/download/5/d/9/5d9bb5b2-49c7-4890-94ab-d1d5e44a0e6d/Install_MSN_Messenger.exe"
	DefaultFallbackURL = "http://messenger.msn.com"
)

// DefaultAddr is where [Listen] binds when given no address, and the host
// it binds when the address names none (":1863").
const DefaultAddr = "127.0.0.1:0"

// Config sets up a [Server]. The zero value is a Notification Server that
// speaks every dialect and answers with the versions and URLs of
// msnp/PROTOCOL.md §2.4.
type Config struct {
	// Role is msnp.NS (the default: CVR in every dialect) or msnp.DS (CVR
	// from MSNP8 on, CVQ after a CVR0-only negotiation).
	Role msnp.Role
	// Dialects is what the server speaks; nil means msnp.Dialects()
	// (MSNP2 to MSNP23 and CVR0). Names that are not dialects never
	// match; an empty, non-nil list answers every VER with "VER n 0".
	Dialects []msnp.Dialect
	// The CVR reply fields. "" means DefaultRecommended, Recommended (for
	// Recommended2), DefaultMinimum, DefaultDownloadURL and
	// DefaultFallbackURL. They are written as given, so they must not
	// contain spaces or control bytes.
	Recommended, Recommended2, Minimum, DownloadURL, FallbackURL string
	// MaxLineLength bounds a request line, terminator excluded; 0 means
	// msnp.DefaultMaxLineLength. A longer line closes the connection.
	MaxLineLength int
	// IdleTimeout closes a connection that sends nothing, or reads none
	// of the server's replies, for this long; 0 means DefaultIdleTimeout,
	// a negative value no limit.
	IdleTimeout time.Duration
	// MaxConns is how many connections are served at once; past it a new
	// connection is closed at once. 0 means DefaultMaxConns, a negative
	// value no limit.
	MaxConns int
	// ServiceTime makes each CVR or CVQ hold one of Workers for this long
	// before it is answered, so that the server's capacity is
	// Workers/ServiceTime requests per second; 0 means no wait.
	ServiceTime time.Duration
	// Workers is how many CVRs are served at once when ServiceTime is
	// set; 0 means 1.
	Workers int
}

// Server is the reference CVR server. It is shaped like
// net/http/httptest.Server: [Listen] starts one in the background, [New]
// and [Server.Serve] or [Server.ServeConn] let the caller bring the
// listener or the connection, and [Server.Close] stops everything and
// waits for it.
type Server struct {
	role        msnp.Role
	dialects    []msnp.Dialect
	replyTail   []byte // the CVR reply after its TrID: " rec rec2 min url fallback\r\n"
	maxLine     int
	idle        time.Duration
	maxConns    int
	serviceTime time.Duration
	slots       chan time.Time // one token per idle worker: when it was last due to be free; nil without ServiceTime

	done chan struct{} // closed by Close

	mu        sync.Mutex
	closed    bool
	addr      string
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	wg        sync.WaitGroup // every handler and background Serve
	served    Stats          // of the connections closed, and every accepted and refused one
}

// Stats counts what a [Server] has served since it started.
type Stats struct {
	Open     int64 // connections being served
	Accepted int64 // connections served, open or closed
	Refused  int64 // connections closed at once, past MaxConns
	// CVR and CVQ requests after VER, by answer: the version reply, an
	// error code, or none (the connection was closed instead).
	OK, Errors, Unanswered int64
}

// Stats returns what the server has served so far. It reads counters
// each connection keeps for itself, so that counting costs the requests
// nothing but an uncontended increment.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.served
	st.Open = int64(len(s.conns))
	for c := range s.conns {
		st.OK += c.answers[answerOK].Load()
		st.Errors += c.answers[answerError].Load()
		st.Unanswered += c.answers[answerNone].Load()
	}
	return st
}

// New returns a server that serves nothing until given a listener
// ([Server.Serve]) or a connection ([Server.ServeConn]).
func New(cfg Config) *Server {
	s := &Server{
		role:        cfg.Role,
		dialects:    cfg.Dialects,
		maxLine:     cfg.MaxLineLength,
		idle:        cfg.IdleTimeout,
		maxConns:    cfg.MaxConns,
		serviceTime: max(cfg.ServiceTime, 0),
		done:        make(chan struct{}),
		listeners:   map[net.Listener]struct{}{},
		conns:       map[*conn]struct{}{},
	}
	if s.dialects == nil {
		s.dialects = msnp.Dialects()
	}
	if s.maxLine <= 0 {
		s.maxLine = msnp.DefaultMaxLineLength
	}
	if s.idle == 0 {
		s.idle = DefaultIdleTimeout
	}
	if s.maxConns == 0 {
		s.maxConns = DefaultMaxConns
	}
	if s.serviceTime > 0 {
		workers := max(cfg.Workers, 1)
		s.slots = make(chan time.Time, workers)
		for range workers {
			s.slots <- time.Time{}
		}
	}
	r := msnp.CVRReply{
		Recommended:  or(cfg.Recommended, DefaultRecommended),
		Recommended2: cfg.Recommended2,
		Minimum:      or(cfg.Minimum, DefaultMinimum),
		DownloadURL:  or(cfg.DownloadURL, DefaultDownloadURL),
		FallbackURL:  or(cfg.FallbackURL, DefaultFallbackURL),
		Params:       5,
	}
	r.Recommended2 = or(r.Recommended2, r.Recommended)
	// Every CVR reply is the same but for its command and TrID: encode it
	// once with TrID 0 and keep what follows "CVR 0".
	line := (&msnp.Reply{Kind: msnp.ReplyCVR, Command: "CVR", CVR: r}).Append(nil)
	s.replyTail = line[len("CVR 0"):]
	return s
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Listen listens on addr and serves in the background until
// [Server.Close]. An empty addr means [DefaultAddr]; an addr without a
// host (":1863") binds 127.0.0.1, so that the server is reachable from
// elsewhere only when asked: "0.0.0.0:1863" or "[::]:1863".
func Listen(addr string, cfg Config) (*Server, error) {
	if addr == "" {
		addr = DefaultAddr
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	if host == "" {
		addr = net.JoinHostPort("127.0.0.1", port)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	s := New(cfg)
	s.addr = ln.Addr().String()
	s.wg.Go(func() { s.Serve(ln) })
	return s, nil
}

// Addr returns the address of the first listener the server was given
// ("127.0.0.1:41234"), or "" before [Server.Serve].
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Serve accepts connections on ln and serves each in its own goroutine
// until [Server.Close], which closes ln; it then returns nil. Past
// MaxConns open connections, a new one is closed as soon as it is
// accepted. Running out of file descriptors pauses accepting for a
// moment; any other accept error is returned.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return nil
	}
	s.listeners[ln] = struct{}{}
	if s.addr == "" {
		s.addr = ln.Addr().String()
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
		ln.Close()
	}()

	var backoff time.Duration
	var pause *time.Timer
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.isClosed() {
				return nil
			}
			if !errors.Is(err, syscall.EMFILE) && !errors.Is(err, syscall.ENFILE) {
				return fmt.Errorf("accept: %w", err)
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			if pause == nil {
				pause = time.NewTimer(backoff)
			} else {
				pause.Reset(backoff)
			}
			select {
			case <-pause.C:
				continue
			case <-s.done:
				pause.Stop()
				return nil
			}
		}
		backoff = 0
		c := s.track(context.Background(), nc)
		if c == nil {
			nc.Close()
			continue
		}
		go func() {
			defer s.untrack(c)
			c.serve()
		}()
	}
}

// ServeConn serves one connection in the caller's goroutine and closes
// it when done: after the client closes, on a rule that closes the
// connection, when ctx ends, or at [Server.Close]. A connection offered
// past MaxConns, or after Close, is closed at once.
func (s *Server) ServeConn(ctx context.Context, nc net.Conn) {
	c := s.track(ctx, nc)
	if c == nil {
		nc.Close()
		return
	}
	defer s.untrack(c)
	c.serve()
}

// track registers a connection that is about to be served, or returns nil
// when the server is closed or full.
func (s *Server) track(ctx context.Context, nc net.Conn) *conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	if s.maxConns > 0 && len(s.conns) >= s.maxConns {
		s.served.Refused++
		return nil
	}
	c := newConn(s, ctx, nc)
	s.conns[c] = struct{}{}
	s.served.Accepted++
	s.wg.Add(1)
	return c
}

func (s *Server) untrack(c *conn) {
	c.close()
	s.mu.Lock()
	delete(s.conns, c)
	s.served.OK += c.answers[answerOK].Load()
	s.served.Errors += c.answers[answerError].Load()
	s.served.Unanswered += c.answers[answerNone].Load()
	s.mu.Unlock()
	s.wg.Done()
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Close stops accepting, closes every connection (replies already
// written stay written) and waits for every handler, and for the
// background Serve of [Listen], to return. It returns the first error
// from closing a listener. Calling it again waits and returns nil.
func (s *Server) Close() error {
	var err error
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.done)
		for ln := range s.listeners {
			if e := ln.Close(); e != nil && err == nil && !errors.Is(e, net.ErrClosed) {
				err = fmt.Errorf("close: %w", e)
			}
		}
		for c := range s.conns {
			c.cancel()
		}
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}
