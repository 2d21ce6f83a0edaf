package msnp

import (
	"context"
	"errors"
	"net"
	"time"
)

// Target is a server a [Client] can connect to.
type Target interface {
	Dial(ctx context.Context) (net.Conn, error)
}

// TCPTarget is a server at a TCP address such as "127.0.0.1:1863".
type TCPTarget string

var _ Target = TCPTarget("")

// Dial connects to the address; ctx bounds the connect.
func (t TCPTarget) Dial(ctx context.Context) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "tcp", string(t))
}

// String returns the address.
func (t TCPTarget) String() string { return string(t) }

// Errors a [Client] returns besides *[Error], *[SyntaxError] and I/O errors.
var (
	// ErrNoDialect means the server answered VER with "VER n 0".
	ErrNoDialect = errors.New("server accepts none of the offered dialects")
	// ErrTrIDMismatch means a reply carried another TrID than the request.
	ErrTrIDMismatch = errors.New("reply TrID does not match the request")
)

// ClientConfig sets up a [Client]. The zero value offers every dialect.
type ClientConfig struct {
	// Dialects is the VER list, newest first; nil means [Dialects]().
	Dialects []Dialect
	// MaxLineLength bounds a reply line; 0 means DefaultMaxLineLength.
	MaxLineLength int
	// FirstTrID is the TrID of the first request; 0 means 1.
	FirstTrID uint32
}

// Client speaks VER and CVR over one connection. It is not safe for
// concurrent use. Every blocking call takes a context, honoured through
// the connection's deadlines.
type Client struct {
	conn    net.Conn
	lines   *Reader
	offered []Dialect
	dialect Dialect
	next    uint32
	out     []byte
}

// Dial connects to t and returns a Client that has not yet negotiated.
func Dial(ctx context.Context, t Target, cfg ClientConfig) (*Client, error) {
	conn, err := t.Dial(ctx)
	if err != nil {
		return nil, err
	}
	return NewClient(conn, cfg), nil
}

// NewClient returns a Client on an open connection, which it then owns.
func NewClient(conn net.Conn, cfg ClientConfig) *Client {
	offered := cfg.Dialects
	if offered == nil {
		offered = Dialects()
	}
	next := cfg.FirstTrID
	if next == 0 {
		next = 1
	}
	return &Client{conn: conn, lines: NewReader(conn, cfg.MaxLineLength), offered: offered, next: next}
}

// Conn returns the underlying connection.
func (c *Client) Conn() net.Conn { return c.conn }

// Dialect returns the dialect negotiated by [Client.Handshake], or "".
func (c *Client) Dialect() Dialect { return c.dialect }

// NextTrID returns a fresh TrID: one more than the last one handed out.
func (c *Client) NextTrID() uint32 {
	t := c.next
	c.next++
	return t
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Handshake sends VER with the configured dialects and waits for the
// answer before anything else is sent, as [Handshake] does.
//
//	C: VER 1 MSNP15 MSNP8 CVR0
//	S: VER 1 MSNP15
//
// It returns the VER reply, parsed when it parses, and the error
// [Negotiation.Err] gives: [ErrNoDialect] for "VER n 0".
func (c *Client) Handshake(ctx context.Context) (Reply, error) {
	req := VERRequest{TrID: c.NextTrID(), Dialects: c.offered}
	c.out = req.Append(c.out[:0])
	stop, err := c.bind(ctx)
	if err != nil {
		return Reply{}, err
	}
	n, err := Handshake(c.conn, c.lines, c.out, req.TrID, c.offered)
	if err = c.unbind(ctx, stop, err); err != nil {
		return Reply{}, err
	}
	reply, _ := ParseReply(n.Line)
	if err := n.Err(); err != nil {
		return reply, err
	}
	c.dialect = n.Dialect
	return reply, nil
}

// CVR sends the request, shaped for the negotiated dialect and given the
// next TrID, and returns the reply, parsed when it parses. A reply that
// does not answer the request returns the same errors as
// [Negotiation.Err]; a numeric one an *[Error].
func (c *Client) CVR(ctx context.Context, req Request) (Reply, error) {
	if v, err := Lookup(c.dialect); err == nil {
		req = req.Shape(v, req.UserHandle)
	}
	req.TrID = c.NextTrID()
	c.out = req.Append(c.out[:0])
	if err := c.WriteLine(ctx, c.out); err != nil {
		return Reply{}, err
	}
	line, err := c.ReadLine(ctx)
	if err != nil && !errors.Is(err, ErrBareLF) {
		return Reply{}, err
	}
	h := ScanReply(line)
	reply, _ := ParseReply(line)
	return reply, classErr(line, &h, h.Class(ReplyCVR, req.TrID), ReplyCVR, req.TrID)
}

// WriteLine writes b as it is: the caller supplies the terminator.
func (c *Client) WriteLine(ctx context.Context, b []byte) error {
	stop, err := c.bind(ctx)
	if err != nil {
		return err
	}
	_, err = c.conn.Write(b)
	return c.unbind(ctx, stop, err)
}

// ReadLine reads one line, terminator removed; see [Reader.ReadLine].
func (c *Client) ReadLine(ctx context.Context) ([]byte, error) {
	stop, err := c.bind(ctx)
	if err != nil {
		return nil, err
	}
	line, err := c.lines.ReadLine()
	return line, c.unbind(ctx, stop, err)
}

// ReadReply reads and parses one reply line.
func (c *Client) ReadReply(ctx context.Context) (Reply, error) {
	line, err := c.ReadLine(ctx)
	if err != nil && !errors.Is(err, ErrBareLF) {
		return Reply{}, err
	}
	return ParseReply(line)
}

// bind makes the connection's deadline follow ctx until stop is called.
func (c *Client) bind(ctx context.Context) (stop func() bool, err error) {
	return BindDeadline(ctx, c.conn, time.Time{})
}

// unbind stops following ctx and, when ctx ended the I/O, reports why.
func (c *Client) unbind(ctx context.Context, stop func() bool, err error) error {
	stop()
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}
