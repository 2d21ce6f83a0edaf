package refserver

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/cvrswarm/cvrswarm/msnp"
)

// conn is the state of one served connection.
type conn struct {
	s      *Server
	nc     net.Conn
	ctx    context.Context
	cancel context.CancelFunc
	stop   func() bool  // stops closing nc when ctx ends
	lines  *msnp.Reader // reads from nc through Read, straight into its buffer

	out  []byte // replies not yet written; it grows with them
	werr error  // the first write error

	negotiated bool
	version    msnp.Version // the negotiated dialect's rules
	accepts    bool         // the role takes the dialect's CVR (or CVQ)
	dialect    [1]msnp.Dialect
	timer      *time.Timer // the ServiceTime wait, reused

	answers [numAnswers]atomic.Int64 // CVRs and CVQs by answer, read by Server.Stats
}

// How a CVR or CVQ was answered, as [Stats] counts them.
const (
	answerOK = iota
	answerError
	answerNone
	numAnswers
)

func newConn(s *Server, ctx context.Context, nc net.Conn) *conn {
	ctx, cancel := context.WithCancel(ctx)
	c := &conn{s: s, nc: nc, ctx: ctx, cancel: cancel}
	c.stop = context.AfterFunc(ctx, func() { nc.Close() })
	c.lines = msnp.NewReader(c, s.maxLine)
	return c
}

func (c *conn) close() {
	c.stop()
	c.cancel()
	c.nc.Close()
}

// serve reads and answers lines until a rule, the peer or the context
// ends the connection. Pending replies are written before it returns.
func (c *conn) serve() {
	for {
		line, err := c.lines.ReadLine()
		if err != nil && !errors.Is(err, msnp.ErrBareLF) {
			break
		}
		if !c.handle(line) {
			break
		}
	}
	c.flush()
}

// Read is how the line reader reads from the network, straight into its
// own buffer. Before a network read, which may wait, it writes the
// replies made so far: the replies to every request that arrived in one
// read go out together, in one write, and no reply waits in the buffer
// while the server waits for input (even for the end of a line the client
// has not finished). The idle timeout is the deadline of both.
func (c *conn) Read(p []byte) (int, error) {
	if c.s.idle > 0 {
		deadline := time.Now().Add(c.s.idle)
		if len(c.out) > 0 {
			if err := c.write(deadline); err != nil { // sets both deadlines
				return 0, err
			}
		} else if err := c.nc.SetReadDeadline(deadline); err != nil {
			return 0, err
		}
	} else if err := c.flush(); err != nil {
		return 0, err
	}
	return c.nc.Read(p)
}

// flush writes the pending replies.
func (c *conn) flush() error {
	if len(c.out) == 0 {
		return c.werr
	}
	var deadline time.Time
	if c.s.idle > 0 {
		deadline = time.Now().Add(c.s.idle)
	}
	return c.write(deadline)
}

// write writes the pending replies, with deadline (if not zero) as the
// read and write deadline.
func (c *conn) write(deadline time.Time) error {
	if c.werr != nil {
		return c.werr
	}
	if !deadline.IsZero() {
		if err := c.nc.SetDeadline(deadline); err != nil {
			c.werr = err
			return err
		}
	}
	_, err := c.nc.Write(c.out)
	c.out = c.out[:0]
	c.werr = err
	return err
}

// handle answers one line and reports whether the connection stays open.
func (c *conn) handle(line []byte) bool {
	switch msnp.Verb(line) {
	case "VER":
		return c.ver(line)
	case "CVR", "CVQ":
		if !c.negotiated || !c.accepts {
			return false // out of context: CVR before VER, or one the role does not take
		}
		return c.cvr(line)
	}
	return false // any other command is out of context
}

func (c *conn) ver(line []byte) bool {
	if c.negotiated {
		if trid, ok := msnp.PeekTrID(line); ok {
			c.reply(msnp.Reply{Kind: msnp.ReplyError, Code: msnp.CodeNotExpected, TrID: trid})
		}
		return false
	}
	req, err := msnp.ParseVER(line)
	if err != nil {
		return false
	}
	chosen := msnp.Negotiate(req.Dialects, c.s.dialects)
	if chosen == "" {
		c.dialect[0] = "0"
		c.reply(msnp.Reply{Kind: msnp.ReplyVER, TrID: req.TrID, VER: msnp.VERReply{Dialects: c.dialect[:]}})
		return false
	}
	v, err := msnp.Lookup(chosen)
	if err != nil { // Negotiate picks only dialects Lookup knows
		return false
	}
	c.negotiated, c.version, c.accepts = true, v, v.AcceptsCVR(c.s.role)
	c.dialect[0] = chosen
	c.reply(msnp.Reply{Kind: msnp.ReplyVER, TrID: req.TrID, VER: msnp.VERReply{Dialects: c.dialect[:]}})
	return true
}

func (c *conn) cvr(line []byte) bool {
	ans := msnp.Expect(line, c.version, c.s.role)
	if ans.Parsed && !c.serviceWait() {
		c.answers[answerNone].Add(1)
		return false
	}
	switch {
	case !ans.Reply:
		c.answers[answerNone].Add(1)
	case ans.Code != 0:
		c.answers[answerError].Add(1)
		c.reply(msnp.Reply{Kind: msnp.ReplyError, Code: ans.Code, TrID: ans.TrID})
	default:
		c.answers[answerOK].Add(1)
		c.out = append(c.out, ans.Request.Command...)
		c.out = append(c.out, ' ')
		c.out = strconv.AppendUint(c.out, uint64(ans.TrID), 10)
		c.out = append(c.out, c.s.replyTail...)
	}
	return !ans.Close
}

func (c *conn) reply(r msnp.Reply) { c.out = r.Append(c.out) }

// serviceWait holds one of the server's workers for its ServiceTime. It
// first writes the replies already made, so that they do not wait too.
// It reports false when the connection must close.
//
// A request's service starts when it arrived or when its worker was due
// to be free, whichever is later, never when a late timer happened to
// fire: timer and scheduling lateness on a loaded machine, however large,
// does not add up, and a saturated server serves Workers/ServiceTime
// requests per second.
func (c *conn) serviceWait() bool {
	d := c.s.serviceTime
	if d <= 0 {
		return true
	}
	if c.flush() != nil {
		return false
	}
	arrived := time.Now()
	var free time.Time // when the worker was due to finish its last request
	select {
	case free = <-c.s.slots:
	case <-c.ctx.Done():
		return false
	}
	start := arrived
	if free.After(start) { // the request queued: it starts on the worker's schedule
		start = free
	}
	end := start.Add(d)
	defer func() { c.s.slots <- end }()
	if c.timer == nil {
		c.timer = time.NewTimer(time.Until(end))
	} else {
		c.timer.Reset(time.Until(end))
	}
	select {
	case <-c.timer.C:
		return true
	case <-c.ctx.Done():
		c.timer.Stop()
		return false
	}
}
