package load

import (
	"errors"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/cvrswarm/cvrswarm/msnp"
)

// idleProbeAfter is how long a persistent connection may sit unused
// before it is checked for a close by the server (an idle timeout), so
// that the next request is not blamed for it.
const idleProbeAfter = time.Second

// worker is one simulated client: one connection at a time, serving the
// requests the pacer hands it. It records into one recorder shard.
type worker struct {
	e     *engine
	id    int64
	sh    *recShard
	rng   *rand.Rand
	trids trids

	conn     net.Conn
	rd       *msnp.Reader
	lines    []template
	unhook   func() bool // stops interrupting conn when the run's context ends
	lastUsed time.Time

	buf, mbuf []byte
}

func newWorker(e *engine, id int64) *worker {
	return &worker{e: e, id: id, sh: e.shardFor(id),
		rng:   rand.New(rand.NewPCG(uint64(e.cfg.Seed), e.shardSeed<<40|uint64(id))),
		trids: e.cfg.Shard.trids()}
}

// run serves requests until there are none left. ready, when set, is told
// once the first connection is open (or failed to).
func (w *worker) run(ready *sync.WaitGroup) {
	defer w.e.nworkers.Add(-1)
	defer w.close(false)
	if w.e.depth > 1 {
		newPipe(w).run(ready)
		return
	}
	if ready != nil {
		if !w.e.cfg.Churn {
			w.e.dialSlots <- struct{}{}
			if oc := w.connect(); oc != OutcomeOK {
				w.e.connFailed(oc)
			}
			<-w.e.dialSlots
		}
		ready.Done()
	}
	<-w.e.begin
	for {
		t, ok := w.next()
		if !ok {
			return
		}
		w.serve(t)
	}
}

// next returns the next request: from the pacer, or claimed at once when
// the schedule is unbounded.
func (w *worker) next() (ticket, bool) {
	if w.e.tickets == nil {
		return w.e.claim()
	}
	t, ok := <-w.e.tickets
	return t, ok
}

func (w *worker) kind(mutated bool) int {
	if mutated {
		return kindMutated
	}
	return kindValid
}

// record files one request's outcome unless it was due in the warm-up.
func (w *worker) record(t ticket, mutated bool, oc Outcome, sent, end time.Time) {
	if t.warm {
		return
	}
	if oc != OutcomeInterrupted && w.e.ctx.Err() != nil && oc != OutcomeOK && !oc.isCode() {
		oc = OutcomeInterrupted // the failure was our own interruption
	}
	w.sh.done(w.kind(mutated), oc, t.due, sent, end)
}

// serve sends one CVR (opening a connection first if needed) and records
// its outcome.
func (w *worker) serve(t ticket) {
	start := time.Now()
	if w.conn != nil && !w.e.cfg.Churn && start.Sub(w.lastUsed) > idleProbeAfter && !alive(w.conn) {
		w.close(true) // the server closed it while idle: not this request's fault
	}
	if w.conn == nil {
		if oc := w.connect(); oc != OutcomeOK {
			w.e.connFailed(oc)
			w.record(t, false, oc, start, time.Now())
			return
		}
	}
	mutated := w.e.cfg.Mutate > 0 && w.rng.Float64() < w.e.cfg.Mutate
	trid := w.trids.take()
	line := w.line(trid)
	if mutated {
		line = w.mutated(line)
	}
	sent := time.Now()
	if w.e.cfg.Churn {
		sent = start // a churned request's service time covers its connect and VER
	}
	oc := w.exchange(line, trid, !mutated)
	end := time.Now()
	w.lastUsed = end
	w.record(t, mutated, oc, sent, end)
	switch {
	case w.e.cfg.Churn:
		w.close(false)
	case oc != OutcomeOK || mutated:
		w.close(true)
	}
}

// exchange writes line and reads one reply line within the timeout.
func (w *worker) exchange(line []byte, trid uint32, checkTrID bool) Outcome {
	if err := msnp.SetDeadline(w.e.ctx, w.conn, time.Now().Add(w.e.timeout)); err != nil {
		return w.ioOutcome("send CVR", err)
	}
	if _, err := w.conn.Write(line); err != nil {
		return w.ioOutcome("send CVR", err)
	}
	reply, err := w.rd.ReadLine()
	switch {
	case err == nil:
		return w.e.causes.noteReply(classifyReply(reply, trid, checkTrID), "CVR reply", reply)
	case errors.Is(err, msnp.ErrBareLF):
		oc := classifyReply(reply, trid, checkTrID)
		if oc == OutcomeOK {
			oc = OutcomeBareLF
		}
		return w.e.causes.noteReply(oc, "CVR reply", reply)
	}
	return w.ioOutcome("read CVR reply", err)
}

// ioOutcome classifies an I/O error met doing what, and notes it.
func (w *worker) ioOutcome(what string, err error) Outcome {
	if w.e.ctx.Err() != nil {
		return OutcomeInterrupted
	}
	return w.e.causes.noteErr(classifyIO(err, w.rd.Buffered() > 0), what, err)
}

// line returns a CVR line for the negotiated dialect with the given TrID.
func (w *worker) line(trid uint32) []byte {
	tpl := &w.lines[0]
	if len(w.lines) > 1 {
		tpl = &w.lines[w.rng.IntN(len(w.lines))]
	}
	w.buf = tpl.append(w.buf[:0], trid)
	return w.buf
}

// maxKeptBuffer is the largest mutation buffer a worker keeps between
// requests; a mutator may write far longer lines now and then.
const maxKeptBuffer = 64 << 10

// mutated returns a mutated copy of line.
func (w *worker) mutated(line []byte) []byte {
	if cap(w.mbuf) > maxKeptBuffer {
		w.mbuf = nil
	}
	w.mbuf = w.e.mutate(w.mbuf[:0], line, w.rng)
	return w.mbuf
}

// connect opens a connection and negotiates the dialect with VER,
// recording the connect and handshake times.
func (w *worker) connect() Outcome {
	start := time.Now()
	conn, oc := w.e.dial()
	if oc != OutcomeOK {
		return oc
	}
	connected := time.Now()
	w.conn = conn
	w.rd = msnp.NewReaderSize(conn, w.e.cfg.MaxLineLength, w.e.readBuffer)
	w.e.connOpened()
	unhook, err := msnp.BindDeadline(w.e.ctx, conn, connected.Add(w.e.timeout))
	if err != nil {
		oc = w.ioOutcome("connect", err)
	} else {
		w.unhook = unhook
		oc = w.handshake()
	}
	done := time.Now()
	w.sh.conn(connected.Sub(start), done.Sub(connected), oc == OutcomeOK)
	w.lastUsed = done
	if oc != OutcomeOK {
		w.close(false)
	}
	return oc
}

// handshake sends VER and waits for its reply.
func (w *worker) handshake() Outcome {
	trid := w.trids.take()
	req := msnp.VERRequest{TrID: trid, Dialects: w.e.dialects}
	w.buf = req.Append(w.buf[:0])
	n, err := msnp.Handshake(w.conn, w.rd, w.buf, trid, w.e.dialects)
	if err != nil {
		return w.ioOutcome("", err) // err names the step of the VER exchange
	}
	if n.Class != msnp.ClassOK {
		return w.e.causes.noteReply(replyOutcome(n.Class, n.Reply.Code), "VER reply", n.Line)
	}
	w.lines = w.e.book[n.Dialect]
	return OutcomeOK
}

// close closes the connection; dropped counts it as given up.
func (w *worker) close(dropped bool) {
	if w.conn == nil {
		return
	}
	if w.unhook != nil {
		w.unhook()
		w.unhook = nil
	}
	w.conn.Close()
	w.conn, w.rd = nil, nil
	w.e.open.Add(-1)
	if dropped {
		w.e.dropped.Add(1)
	}
}
