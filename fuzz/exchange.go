package fuzz

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/cvrswarm/cvrswarm/msnp"
)

// endKind says how a phase of an exchange ended.
type endKind uint8

const (
	endOpen    endKind = iota // every line answered, the connection open
	endEOF                    // the server closed the connection
	endReset                  // the connection was reset
	endTimeout                // no reply within the timeout, the connection open
	endTooLong                // a reply line longer than the reader's bound
	endError                  // another I/O error
	endPending                // the probe is sent, its answer not yet waited for (see exchanger.resume)
)

func (k endKind) String() string {
	return [...]string{"open", "eof", "reset", "timeout", "too-long", "error", "pending"}[k]
}

// probeState says whether a valid request sent on the same connection,
// after a line that got no reply, was answered.
type probeState uint8

const (
	probeNone       probeState = iota // no probe was sent
	probeAnswered                     // the probe got a reply
	probeUnanswered                   // the probe got none either
)

// replyLine is one line the server sent.
type replyLine struct {
	Class string // "CVR", "VER", "731"...; "malformed" when it does not parse
	Err   string // why it does not parse
	TrID  uint32
	Text  string // the line, cut to maxQuoted bytes
	Len   int    // its length on the wire
}

// maxQuoted bounds how much of a reply line is kept.
const maxQuoted = 200

// request is one complete line a phase sent, as the oracle judges it.
type request struct {
	Command  string // its command, normalised: VER, CVR, CVQ or "other command"
	TrID     int64  // -1 when it has none
	BareLF   bool   // it ends in LF without CR
	Ended    bool   // the exchange ended it with CRLF before probing: it was sent unterminated
	Line     []byte // the line without its terminator (for an Ended one, only its start)
	Answered bool   // a reply answers it (set by the oracle)
}

// phase is what happened to one write of lines (the VER bytes or the CVR
// bytes) and the replies read for it.
type phase struct {
	Sent     bool
	First    []byte // the first line sent, terminator included
	Requests []request
	Replies  []replyLine
	Extra    int        // reply lines beyond one per request
	Probe    probeState // whether a valid request was sent after an unanswered line, and answered
	// ProbeCommand is the command of the probe the phase would send.
	ProbeCommand string
	Written      int // bytes written, the probe's excluded
	// Carried is the length of the line the write before left
	// unterminated, which this write's first line ends: the replies to
	// that line answer those bytes too.
	Carried int
	Unread  int // bytes of this write, with the start of a line left from the last one
	End     endKind
	Bytes   int           // reply bytes read, the probe's reply excluded
	Wait    time.Duration // how long a reply was waited for
	until   time.Time     // once the probe is sent: when waiting for its answer ends
}

// answered reports whether every line got a reply.
func (p *phase) answered() bool { return len(p.Replies) >= len(p.Requests) }

// ended reports whether the exchange ended an unterminated line of the
// phase with CRLF before probing.
func (p *phase) ended() bool {
	return len(p.Requests) > 0 && p.Requests[len(p.Requests)-1].Ended
}

// observation is everything seen while running one case on a connection.
type observation struct {
	Gen          uint64 // the target's generation when the case started
	DialErr      error
	Dialect      msnp.Dialect // what the server chose in its VER reply
	VER, CVR     phase
	NoDisconnect bool // a 731 was not followed by a disconnect (checked with Strict)
}

// end returns how the case's connection ended.
func (o *observation) end() endKind {
	if o.CVR.Sent {
		return o.CVR.End
	}
	return o.VER.End
}

// anyReply reports whether the target sent any line for the case.
func (o *observation) anyReply() bool {
	return len(o.VER.Replies) > 0 || len(o.CVR.Replies) > 0 || o.VER.Bytes > 0 || o.CVR.Bytes > 0
}

// key is the sequence of reply classes and how the connection ended: the
// state the feedback loop looks for new values of, as AFLNet does.
func (o *observation) key() string {
	var b strings.Builder
	b.WriteString(string(o.Dialect))
	for _, p := range [...]*phase{&o.VER, &o.CVR} {
		if !p.Sent {
			continue
		}
		b.WriteByte('|')
		for i, r := range p.Replies {
			switch {
			case i > 0 && r.Class == p.Replies[i-1].Class:
				if i == 1 || p.Replies[i-2].Class != r.Class {
					b.WriteByte('+') // a run of one class counts once
				}
				continue
			case i > 0:
				b.WriteByte(',')
			}
			b.WriteString(r.Class)
		}
		if p.Extra > 0 {
			b.WriteString(",+")
		}
		if p.Probe == probeAnswered && !p.answered() {
			b.WriteString(",silent")
		}
		// Whether a close comes as a FIN or a reset depends on timing:
		// the key must not.
		end := p.End
		if end == endReset {
			end = endEOF
		}
		b.WriteByte(':')
		b.WriteString(end.String())
	}
	return b.String()
}

// conn is one connection to the target with its line reader.
type conn struct {
	c         net.Conn
	rd        *msnp.Reader
	ver       []byte // the VER bytes it opened with
	dialect   msnp.Dialect
	gen       uint64 // the target's generation when it was dialled
	pending   []byte // the start of a line sent without its end
	truncated int    // how much of that line is not kept
	// parkable: once a probe is sent, the exchange returns (End
	// endPending) instead of waiting for its answer, for resume to wait.
	parkable bool
}

// maxPending is how much of an unterminated line is kept: enough for
// its command and TrID.
const maxPending = 256

// maxReplyLine bounds a reply line: past it the reply is an
// amplification whatever the request (a request is at most a few MiB).
const maxReplyLine = 16 << 20

func (c *conn) close() {
	if c != nil && c.c != nil {
		c.c.Close()
	}
}

// probeTrID is the TrID of the valid request sent to tell a silent server
// from a stuck one.
const probeTrID = 3735928559

// probeLine returns a valid CVR for the dialect (an MSNP8 one when the
// dialect is unknown), with the probe's TrID.
func probeLine(d msnp.Dialect) []byte {
	v, err := msnp.Lookup(d)
	if err != nil {
		v, _ = msnp.Lookup("MSNP8")
	}
	req := validRequest.Shape(v, "example@hotmail.com")
	req.TrID = probeTrID
	return req.Append(nil)
}

// verProbe is the valid VER sent after a VER line that got no reply.
var verProbe = (&msnp.VERRequest{TrID: probeTrID, Dialects: []msnp.Dialect{"MSNP8", msnp.CVR0}}).Append(nil)

// validRequest is the request the liveness and probe checks send.
var validRequest = msnp.Request{Locale: "0x0409", SystemType: "winnt", SystemVer: "5.1", SystemArch: "i386",
	Library: "MSNMSGR", ClientVersion: "6.0.0602", ClientID: "MSMSGS", UserHandle: "example@hotmail.com", Params: 8}

// exchanger runs cases on connections.
type exchanger struct {
	target  msnp.Target
	timeout time.Duration // the longest wait for a reply
	timer   *replyTimer   // when set, learns shorter waits from the target's reply times
	strict  bool
}

// waits returns how long to wait for a reply, and how long for the reply
// to a line before a probe is sent after it.
func (x *exchanger) waits() (wait, quiet time.Duration) {
	if x.timer != nil {
		if wait, quiet, ok := x.timer.waits(); ok {
			return min(wait, x.timeout), min(quiet, x.timeout/4)
		}
	}
	return x.timeout, min(x.timeout/4, 50*time.Millisecond)
}

func (x *exchanger) dial(ctx context.Context, gen uint64) (*conn, error) {
	ctx, cancel := context.WithTimeout(ctx, x.timeout)
	defer cancel()
	c, err := x.target.Dial(ctx)
	if err != nil {
		return nil, err
	}
	return &conn{c: c, rd: msnp.NewReaderSize(c, maxReplyLine, 4096), gen: gen}, nil
}

// open dials and sends the VER bytes; a VER line that gets no reply
// within the quiet time is followed by a valid VER as a probe.
func (x *exchanger) open(ctx context.Context, ver []byte, gen uint64, obs *observation) *conn {
	c, err := x.dial(ctx, gen)
	if err != nil {
		obs.DialErr = err
		return nil
	}
	c.ver = ver
	if len(ver) > 0 {
		x.run(ctx, c, ver, verProbe, &obs.VER)
		for _, r := range obs.VER.Replies {
			if r.Class == "VER" {
				c.dialect = chosenDialect(r.Text)
				break
			}
		}
	}
	obs.Dialect = c.dialect
	return c
}

// chosenDialect reads the dialect a VER reply line names.
func chosenDialect(line string) msnp.Dialect {
	r, err := msnp.ParseReply([]byte(line))
	if err != nil {
		return ""
	}
	return r.VER.Chosen()
}

// runCVR sends the CVR bytes on c, which must be open, and reads their
// replies; a CVR line that gets no reply within the quiet time is
// followed by a probe.
func (x *exchanger) runCVR(ctx context.Context, c *conn, cvr []byte, obs *observation) {
	obs.Dialect = c.dialect
	x.run(ctx, c, cvr, probeLine(c.dialect), &obs.CVR)
	if x.strict && obs.CVR.End == endOpen && len(obs.CVR.Replies) > 0 &&
		obs.CVR.Replies[len(obs.CVR.Replies)-1].Class == strconv.Itoa(msnp.CodeMalformedCVR) {
		// The server must disconnect after 731.
		_, quiet := x.waits()
		c.c.SetReadDeadline(time.Now().Add(quiet))
		_, err := c.rd.ReadLine()
		if k := classify(err); k == endEOF || k == endReset {
			obs.CVR.End = k
		} else {
			obs.NoDisconnect = true
		}
	}
}

// run writes data on c and reads one reply per complete line. When probe
// is not nil and a line gets no reply within the quiet time, probe is
// sent on a line of its own (after a CRLF that ends a line data left
// unterminated) and the replies are read until its answer, so that a
// server that ignores a line is told apart from one that is stuck.
func (x *exchanger) run(ctx context.Context, c *conn, data, probe []byte, p *phase) {
	p.Sent = true
	c.frame(data, p)
	if probe != nil {
		p.ProbeCommand = commandOf(probe)
	}
	wait, quiet := x.waits()
	p.Wait = wait
	stop, err := msnp.BindDeadline(ctx, c.c, time.Now().Add(wait))
	if err != nil {
		p.End = endError
		return
	}
	defer stop()
	sent := time.Now()
	n, err := c.c.Write(data)
	p.Written = n
	if err != nil {
		p.End = classify(err)
		return
	}
	if probe == nil || bytes.Equal(probe, verProbe) {
		// A second VER changes the session: it is sent only after a VER
		// line got no reply within the whole wait.
		quiet = wait
	}
	if !x.readReplies(ctx, c, probe, p, sent, wait, quiet) {
		return
	}
	p.End = endOpen
	if p.Probe == probeNone {
		// Lines beyond one reply per request; after a probe, its reply
		// may be on its way, and the connection is not used again.
		x.readExtra(c, p, quiet)
	}
}

// frame records the request lines of data, which goes on the line left
// unterminated by the previous write, and keeps the start of a line data
// leaves unterminated for the next one.
func (c *conn) frame(data []byte, p *phase) {
	stream, truncated := data, c.truncated
	if len(c.pending) > 0 {
		stream = append(append([]byte(nil), c.pending...), data...)
	}
	p.Carried = len(c.pending) + truncated
	c.truncated = 0
	p.First = firstLine(stream)
	p.Requests = p.Requests[:0]
	c.pending = c.pending[:0]
	for rest := stream; len(rest) > 0; {
		line := firstLine(rest)
		rest = rest[len(line):]
		if line[len(line)-1] != '\n' {
			c.pending = append(c.pending, line[:min(len(line), maxPending)]...)
			c.truncated += len(line) - len(c.pending)
			break
		}
		body, eol := splitEOL(line)
		p.Requests = append(p.Requests, newRequest(body, len(eol) == 1))
	}
	p.Unread = p.Carried + len(data)
}

func newRequest(line []byte, bareLF bool) request {
	r := request{Command: commandOf(line), TrID: -1, BareLF: bareLF, Line: line}
	if t, ok := msnp.PeekTrID(line); ok {
		r.TrID = int64(t)
	}
	return r
}

// commandOf names a line's command for signatures: its first word with
// surrounding space and control bytes removed and in upper case, so that
// "cvr", " CVR" and "C\x00VR" name one command; anything but VER, CVR and
// CVQ is "other command", so that a fuzzed name does not make a new
// signature of a known defect.
func commandOf(line []byte) string {
	var word [3]byte
	n := 0
	for _, b := range line {
		if b < ' ' || b == 0x7f {
			continue
		}
		if b == ' ' {
			if n > 0 {
				break
			}
			continue
		}
		if n == len(word) {
			return "other command"
		}
		if b >= 'a' && b <= 'z' {
			b -= 'a' - 'A'
		}
		word[n] = b
		n++
	}
	switch string(word[:n]) {
	case "VER", "CVR", "CVQ":
		return string(word[:n])
	}
	return "other command"
}

// readReplies reads a reply per request line, probing when one is
// missing after the quiet time (with a probe to send); it reports
// whether the connection is still open with every line answered or the
// probe answered.
func (x *exchanger) readReplies(ctx context.Context, c *conn, probe []byte, p *phase, sent time.Time, wait, quiet time.Duration) bool {
	readUntil := sent.Add(quiet)
	probed, timed := p.Probe != probeNone, false
	if probed {
		readUntil = p.until
	}
	for {
		// Done when every line is answered (if the probe is still on its
		// way, the connection is not reused), or when the probe is: a
		// server answers in order, so a line before it was ignored.
		if p.Probe == probeAnswered || p.answered() {
			return true
		}
		if ctx.Err() != nil {
			p.End = endError
			return false
		}
		c.c.SetReadDeadline(readUntil)
		line, err := c.rd.ReadLine()
		if err != nil && !errors.Is(err, msnp.ErrBareLF) {
			k := classify(err)
			if k == endTimeout && probe != nil && !probed && ctx.Err() == nil {
				probed = true
				p.Probe = probeUnanswered
				if err := x.sendProbe(c, probe, p, wait); err != nil {
					p.End = classify(err)
					return false
				}
				readUntil = time.Now().Add(wait)
				p.until = readUntil
				if c.parkable {
					p.End = endPending
					return false
				}
				continue
			}
			c.end(p, err)
			return false
		}
		r := parseReplyLine(line, err)
		if probed && r.TrID == probeTrID && r.Class != "malformed" {
			p.Probe = probeAnswered
			continue
		}
		if !timed && !probed && x.timer != nil {
			timed = true
			x.timer.observe(time.Since(sent))
		}
		p.Bytes += r.Len
		if p.answered() {
			p.Extra++
		} else {
			p.Replies = append(p.Replies, r)
		}
	}
}

// resume waits for the answer to the probe a parkable exchange sent, on
// the connection it left pending, and ends the phase as run would have.
func (x *exchanger) resume(ctx context.Context, c *conn, p *phase) {
	stop, err := msnp.BindDeadline(ctx, c.c, p.until)
	if err != nil {
		p.End = endError
		return
	}
	defer stop()
	if x.readReplies(ctx, c, nil, p, time.Time{}, p.Wait, 0) {
		p.End = endOpen
	}
}

// sendProbe writes the probe on a line of its own: a line the phase left
// unterminated is ended with CRLF first, and becomes a request of the
// phase.
func (x *exchanger) sendProbe(c *conn, probe []byte, p *phase, wait time.Duration) error {
	out := probe
	if len(c.pending) > 0 {
		r := newRequest(c.pending, false)
		r.Ended = true
		p.Requests = append(p.Requests, r)
		c.pending, c.truncated = nil, 0
		out = append([]byte("\r\n"), probe...)
	}
	c.c.SetWriteDeadline(time.Now().Add(wait))
	_, err := c.c.Write(out)
	return err
}

// readExtra counts the lines already buffered beyond one reply per
// request.
func (x *exchanger) readExtra(c *conn, p *phase, quiet time.Duration) {
	for c.rd.Buffered() > 0 && p.Bytes <= maxReplyLine {
		c.c.SetReadDeadline(time.Now().Add(quiet))
		line, err := c.rd.ReadLine()
		if err != nil && !errors.Is(err, msnp.ErrBareLF) {
			c.end(p, err)
			return
		}
		p.Bytes += len(line) + 2
		p.Extra++
	}
}

// end ends the phase by the read error err. A reply line too long to
// read counts as the bytes read of it, the reader's bound: fewer than it
// has.
func (c *conn) end(p *phase, err error) {
	p.End = classify(err)
	if p.End == endTooLong {
		p.Bytes += c.rd.MaxLineLength()
	}
}

// parseReplyLine classifies a line the server sent by the grammar of
// msnp.ScanReply, the one the load engine and the check use.
func parseReplyLine(line []byte, readErr error) replyLine {
	r := replyLine{Text: string(line[:min(len(line), maxQuoted)]), Len: len(line) + 2}
	h := msnp.ScanReply(line)
	if h.HasTrID {
		r.TrID = h.TrID
	}
	switch {
	case h.Problem != "":
		r.Class, r.Err = "malformed", h.Problem
	case readErr != nil: // well formed, but ends in a bare LF
		r.Class, r.Err, r.Len = "malformed", "reply ends in a bare LF", len(line)+1
	case h.Kind == msnp.ReplyError:
		r.Class = strconv.Itoa(h.Code)
	default:
		r.Class = h.Command
	}
	return r
}

// classify names an I/O error.
func classify(err error) endKind {
	switch msnp.EndOf(err) {
	case msnp.EndNone:
		return endOpen
	case msnp.EndClosed:
		return endEOF
	case msnp.EndReset, msnp.EndBrokenPipe:
		return endReset
	case msnp.EndTimeout:
		return endTimeout
	case msnp.EndTooLong:
		return endTooLong
	}
	return endError
}
