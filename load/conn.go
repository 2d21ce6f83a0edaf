package load

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"time"

	"github.com/cvrswarm/cvrswarm/msnp"
)

// conn is one open connection and the requests in flight on it, up to
// depth. One goroutine at a time sends on it (the lane that owns it, or
// its own loop) and one reads from it; the requests in flight are shared
// between them under mu. MSNP servers answer in order, so the oldest
// request in flight bounds the read deadline. The deadline is moved only
// when it passes: then it is set to the oldest request's, or the
// connection is given up, so a reply costs no timer.
type conn struct {
	e      *engine
	ln     *lane // the lane that sends on it, told when room frees up; nil when its own loop sends
	sh     *recShard
	rng    *rand.Rand
	trids  trids
	lines  []template
	nc     net.Conn
	rd     *msnp.Reader
	unhook func() bool // stops interrupting nc when the run's context ends
	// since, when set, is when the service time of a request on this
	// connection starts: a churned request's covers its connect and VER
	since time.Time
	// writeBy is the write deadline set; only the sender touches it
	writeBy time.Time
	// the reader's: when its latest read returned, and the last
	// well-formed CVR reply as its verb and what follows its TrID
	lastRead time.Time
	lastVerb string
	lastTail []byte

	mu       sync.Mutex
	flight   []inflight // a ring: the requests in flight, oldest at head
	head, n  int
	readBy   time.Time // the read deadline set, zero for none
	draining bool      // takes no more requests; closed once none is in flight
	dead     bool      // closed: takes nothing more
	abnormal bool      // closed after a failure or a mutated request: counted as dropped
}

// inflight is one request sent and not yet answered.
type inflight struct {
	t       ticket
	sent    time.Time
	trid    uint32
	mutated bool
}

// ticketSource hands out the requests a connection sends: a lane's due
// ones, or claims on an unbounded schedule.
type ticketSource interface {
	next() (ticket, bool)
}

// sender holds the buffers of the goroutine that sends: the lines of one
// write, and a line to mutate.
type sender struct {
	out, line, mutated []byte
}

// pastDeadline is a deadline in the past: it makes blocked I/O return.
var pastDeadline = time.Unix(1, 0)

// openConn connects, negotiates the dialect with VER and records the
// connect and handshake times. The connection belongs to ln when it is
// not nil.
func (e *engine) openConn(id int64, ln *lane) (*conn, Outcome) {
	start := time.Now()
	nc, oc := e.dial(id)
	if oc != OutcomeOK {
		return nil, oc
	}
	connected := time.Now()
	c := &conn{e: e, ln: ln, sh: e.shardFor(id), nc: nc,
		rng:    rand.New(rand.NewPCG(uint64(e.cfg.Seed), e.shardSeed<<40|uint64(id))),
		trids:  e.cfg.Shard.trids(),
		rd:     msnp.NewReaderSize(nc, e.cfg.MaxLineLength, e.readBuffer),
		flight: make([]inflight, e.depth)}
	e.connOpened()
	unhook, err := msnp.BindDeadline(e.ctx, nc, connected.Add(e.timeout))
	if err == nil {
		c.unhook = unhook
		if oc = c.handshake(); oc == OutcomeOK {
			if err := msnp.SetDeadline(e.ctx, nc, time.Time{}); err != nil {
				oc = OutcomeInterrupted
			}
		}
	} else {
		oc = c.ioOutcome("connect", err)
	}
	done := time.Now()
	c.sh.conn(connected.Sub(start), done.Sub(connected), oc == OutcomeOK)
	if oc != OutcomeOK {
		c.dead = true
		c.release()
		return nil, oc
	}
	return c, OutcomeOK
}

// handshake sends VER and waits for its reply.
func (c *conn) handshake() Outcome {
	trid := c.trids.take()
	req := msnp.VERRequest{TrID: trid, Dialects: c.e.dialects}
	n, err := msnp.Handshake(c.nc, c.rd, req.Append(nil), trid, c.e.dialects)
	if err != nil {
		return c.ioOutcome("", err) // err names the step of the VER exchange
	}
	if n.Class != msnp.ClassOK {
		return c.e.causes.noteReply(replyOutcome(n.Class, n.Reply.Code), "VER reply", n.Line)
	}
	c.lines = c.e.book[n.Dialect]
	return OutcomeOK
}

// ioOutcome classifies an I/O error met doing what, and notes it.
func (c *conn) ioOutcome(what string, err error) Outcome {
	if c.e.ctx.Err() != nil {
		return OutcomeInterrupted
	}
	return c.e.causes.noteErr(classifyIO(err, c.rd.Buffered() > 0), what, err)
}

// at returns the i-th oldest request in flight.
func (c *conn) at(i int) *inflight { return &c.flight[(c.head+i)%len(c.flight)] }

// remove takes the i-th oldest request out of the flight.
func (c *conn) remove(i int) {
	for ; i > 0; i-- { // the later ones keep their order
		*c.at(i) = *c.at(i - 1)
	}
	c.head = (c.head + 1) % len(c.flight)
	c.n--
}

// hasRoom reports whether the connection takes another request now.
func (c *conn) hasRoom() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.dead && !c.draining && c.n < len(c.flight)
}

// idle reports whether nothing is in flight.
func (c *conn) idle() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n == 0
}

// closed reports whether the connection takes nothing more.
func (c *conn) closed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dead
}

// send writes, in one write, the requests src hands out, as many as there
// is room for in flight; a mutated one is the last on the connection. It
// returns how many it sent: 0 when the connection takes no more.
func (c *conn) send(src ticketSource, s *sender) int {
	e := c.e
	c.mu.Lock()
	if c.dead || c.draining {
		c.mu.Unlock()
		return 0
	}
	s.out = s.out[:0]
	k := 0
	for c.n < len(c.flight) {
		t, ok := src.next()
		if !ok {
			break
		}
		f := c.at(c.n)
		*f = inflight{t: t, trid: c.trids.take(), mutated: e.cfg.Mutate > 0 && c.rng.Float64() < e.cfg.Mutate}
		c.n++
		k++
		s.out = c.appendLine(s, f.trid, f.mutated)
		if f.mutated { // what follows a mutated line is anyone's guess: it is the last on this connection
			c.draining, c.abnormal = true, true
			break
		}
	}
	if k == 0 {
		c.mu.Unlock()
		return 0
	}
	sent := time.Now()
	from := sent
	if !c.since.IsZero() {
		from = c.since
	}
	for i := c.n - k; i < c.n; i++ {
		c.at(i).sent = from
	}
	if c.readBy.IsZero() {
		c.setReadDeadline(sent.Add(e.timeout))
	}
	c.mu.Unlock()
	if err := c.write(s.out, sent); err != nil {
		oc := OutcomeInterrupted
		if e.ctx.Err() == nil {
			oc = e.causes.noteErr(classifyIO(err, false), "send CVR", err)
		}
		c.fail(-1, oc, oc)
	}
	return k
}

// appendLine appends a CVR line with the TrID to s.out, mutated or not.
func (c *conn) appendLine(s *sender, trid uint32, mutated bool) []byte {
	tpl := &c.lines[0]
	if len(c.lines) > 1 {
		tpl = &c.lines[c.rng.IntN(len(c.lines))]
	}
	if !mutated {
		return tpl.append(s.out, trid)
	}
	s.line = tpl.append(s.line[:0], trid)
	if cap(s.mutated) > maxKeptBuffer {
		s.mutated = nil
	}
	s.mutated = c.e.mutate(s.mutated[:0], s.line, c.rng)
	return append(s.out, s.mutated...)
}

// maxKeptBuffer is the largest mutation buffer a sender keeps between
// requests; a mutator may write far longer lines now and then.
const maxKeptBuffer = 64 << 10

// write writes b, keeping a write deadline at least half the timeout
// ahead: a server that reads nothing stops the sender within the timeout.
func (c *conn) write(b []byte, now time.Time) error {
	if c.writeBy.Sub(now) < c.e.timeout/2 {
		c.writeBy = now.Add(c.e.timeout)
		c.nc.SetWriteDeadline(c.writeBy)
		if c.e.ctx.Err() != nil { // do not undo the interruption
			c.nc.SetDeadline(pastDeadline)
		}
	}
	_, err := c.nc.Write(b)
	return err
}

// setReadDeadline sets the read deadline to t (zero for none); mu held.
func (c *conn) setReadDeadline(t time.Time) {
	c.readBy = t
	c.nc.SetReadDeadline(t)
	if c.e.ctx.Err() != nil { // do not undo the interruption
		c.nc.SetDeadline(pastDeadline)
	}
}

// readReply reads one reply and handles it; false once the connection is
// closed.
func (c *conn) readReply() bool {
	before := c.rd.Buffered()
	line, err := c.rd.ReadLine()
	if err != nil && !errors.Is(err, msnp.ErrBareLF) {
		return c.readFailed(err)
	}
	// a line that was whole in the buffer came with the latest read: it
	// arrived when that read returned
	if err != nil || before-c.rd.Buffered() != len(line)+2 {
		c.lastRead = time.Now()
	}
	return c.take(line, err, c.lastRead)
}

// take handles one line that arrived at end; false once the connection
// is closed. err is nil or msnp.ErrBareLF.
func (c *conn) take(line []byte, err error, end time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dead {
		return false
	}
	if c.n == 0 { // a line nobody asked for
		c.giveUp(true)
		return false
	}
	var h msnp.ReplyHead // for a line unlike the last reply
	trid, like := c.sameAsLast(line)
	hasTrID := like
	if !like {
		h = msnp.ScanReply(line)
		c.remember(line, &h)
		trid, hasTrID = h.TrID, h.HasTrID
	}
	idx := -1
	if hasTrID {
		for i := range c.n {
			if f := c.at(i); !f.mutated && f.trid == trid {
				idx = i
				break
			}
		}
	}
	if idx < 0 && c.at(c.n-1).mutated { // a mutated line may have mangled its TrID
		idx = c.n - 1
	}
	if idx < 0 { // nobody's reply: the oldest takes the blame
		idx = 0
	}
	f := *c.at(idx)
	want := f.trid
	if f.mutated { // any TrID will do
		want = trid
	}
	oc := OutcomeOK
	switch {
	case !like:
		oc = replyOutcome(h.Class(msnp.ReplyCVR, want), h.Code)
	case trid != want:
		oc = OutcomeTrIDMismatch
	}
	if oc == OutcomeOK && err != nil {
		oc = OutcomeBareLF
	}
	c.e.causes.noteReply(oc, "CVR reply", line)
	if oc != OutcomeOK && !f.mutated {
		c.failLocked(idx, oc, OutcomeAborted, end)
		return false
	}
	c.remove(idx)
	c.record(&f, oc, end)
	if c.draining && c.n == 0 {
		c.giveUp(false)
		return false
	}
	if c.ln != nil {
		c.ln.roomFreed()
	}
	return true
}

// sameAsLast reports whether line is the last well-formed CVR reply but
// for its TrID, which it returns: ScanReply would find it a well-formed
// CVR reply too. Servers answer every CVR of a dialect alike, so that most
// replies need no scan.
func (c *conn) sameAsLast(line []byte) (trid uint32, ok bool) {
	if c.lastTail == nil || len(line) < len(c.lastVerb) || string(line[:len(c.lastVerb)]) != c.lastVerb {
		return 0, false
	}
	trid, tail, ok := splitTrID(line)
	return trid, ok && bytes.Equal(tail, c.lastTail)
}

// remember keeps a well-formed CVR reply for sameAsLast.
func (c *conn) remember(line []byte, h *msnp.ReplyHead) {
	if h.Kind != msnp.ReplyCVR || h.Problem != "" {
		return
	}
	if _, tail, ok := splitTrID(line); ok {
		c.lastVerb, c.lastTail = h.Command+" ", append(c.lastTail[:0], tail...)
	}
}

// splitTrID splits a line "VERB TrID rest" after its TrID, for a line of
// single spaces with a TrID of digits; ok false for any other.
func splitTrID(line []byte) (trid uint32, rest []byte, ok bool) {
	if len(line) < 4 || line[3] != ' ' {
		return 0, nil, false
	}
	end := bytes.IndexByte(line[4:], ' ')
	if end <= 0 {
		return 0, nil, false
	}
	trid, ok = msnp.PeekTrID(line)
	return trid, line[4+end:], ok
}

// readFailed handles a read error; false once the connection is closed.
// A deadline that passed before the oldest request in flight was overdue
// (it was set for an older one) is moved to that request's.
func (c *conn) readFailed(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) && c.e.ctx.Err() == nil && c.rearm() {
		return true
	}
	oc := c.ioOutcome("read CVR reply", err)
	c.fail(-1, oc, oc)
	return false
}

// rearm sets the read deadline to the oldest request's in flight (none
// when nothing is); false when that one is overdue.
func (c *conn) rearm() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dead {
		return false
	}
	var by time.Time
	if c.n > 0 {
		if by = c.at(0).sent.Add(c.e.timeout); !by.After(time.Now()) {
			return false
		}
	}
	c.setReadDeadline(by)
	return true
}

// fail gives the connection up: the request in flight at idx (none when
// -1) gets oc, every other one others.
func (c *conn) fail(idx int, oc, others Outcome) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failLocked(idx, oc, others, time.Now())
}

func (c *conn) failLocked(idx int, oc, others Outcome, end time.Time) {
	if c.dead {
		return
	}
	c.giveUp(true)
	for i := range c.n {
		got := others
		if i == idx {
			got = oc
		}
		c.record(c.at(i), got, end)
	}
	c.n = 0
	if c.ln != nil {
		c.ln.roomFreed()
	}
}

// record files one request's Outcome unless it was due in the warm-up.
func (c *conn) record(f *inflight, oc Outcome, end time.Time) {
	kind := kindValid
	if f.mutated {
		kind = kindMutated
	}
	c.e.record(c.sh, f.t, kind, oc, f.sent, end)
}

// giveUp closes the connection, which ends a blocked read; mu held.
// abnormal counts it as dropped.
func (c *conn) giveUp(abnormal bool) {
	if c.dead {
		return
	}
	c.dead = true
	c.abnormal = c.abnormal || abnormal
	c.nc.Close()
}

// finish lets the requests in flight complete, then closes the connection.
func (c *conn) finish() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.draining = true
	if c.n == 0 {
		c.giveUp(false)
	}
}

// release counts a closed connection out, once its reader is done with it.
func (c *conn) release() {
	if c.unhook != nil {
		c.unhook()
	}
	c.nc.Close()
	c.e.open.Add(-1)
	if c.abnormal {
		c.e.dropped.Add(1)
	}
}

// readReplies reads and handles replies until the connection is closed.
func (c *conn) readReplies() {
	defer c.release()
	for c.readReply() {
	}
}
