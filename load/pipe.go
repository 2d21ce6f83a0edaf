package load

import (
	"errors"
	"net"
	"sync"
	"time"

	"github.com/cvrswarm/cvrswarm/msnp"
)

// pipe runs one worker's connection pipelined: the worker writes up to
// depth CVRs ahead while a reader goroutine matches the replies to them
// by TrID. MSNP servers answer in order, so the oldest request in flight
// sets the read deadline; when it passes, everything in flight is silent.
type pipe struct {
	w       *worker
	credits chan struct{} // one per request in flight

	mu       sync.Mutex
	pending  []inflight // oldest first
	dead     bool       // the connection was given up: write no more
	draining bool       // write no more; close once pending is empty
	abnormal bool       // given up after a failure or a mutated request
	conn     net.Conn
	done     chan struct{} // closed when the reader returns
}

type inflight struct {
	t       ticket
	trid    uint32
	sent    time.Time
	mutated bool
}

func newPipe(w *worker) *pipe {
	return &pipe{w: w, credits: make(chan struct{}, w.e.depth)}
}

func (p *pipe) run(ready *sync.WaitGroup) {
	w := p.w
	if ready != nil {
		w.e.dialSlots <- struct{}{}
		if oc := p.open(); oc != OutcomeOK {
			w.e.connFailed(oc)
		}
		<-w.e.dialSlots
		ready.Done()
	}
	<-w.e.begin
	defer p.finish()
	for {
		p.credits <- struct{}{}
		t, ok := w.next()
		if !ok {
			<-p.credits
			return
		}
		p.mu.Lock()
		usable := p.conn != nil && !p.dead && !p.draining
		p.mu.Unlock()
		if !usable {
			p.finish()
			if oc := p.open(); oc != OutcomeOK {
				w.e.connFailed(oc)
				now := time.Now()
				w.record(t, false, oc, now, now)
				<-p.credits
				continue
			}
		}
		p.send(t)
	}
}

// send writes one CVR on the open connection and files it as in flight.
func (p *pipe) send(t ticket) {
	w := p.w
	mutated := w.e.cfg.Mutate > 0 && w.rng.Float64() < w.e.cfg.Mutate
	trid := w.trids.take()
	line := w.line(trid)
	if mutated {
		line = w.mutated(line)
	}
	sent := time.Now()
	p.mu.Lock()
	p.pending = append(p.pending, inflight{t: t, trid: trid, sent: sent, mutated: mutated})
	if len(p.pending) == 1 {
		p.conn.SetReadDeadline(sent.Add(w.e.timeout))
	}
	if mutated { // what follows a mutated line is anyone's guess: it is the last on this connection
		p.draining, p.abnormal = true, true
	}
	conn := p.conn
	p.mu.Unlock()
	conn.SetWriteDeadline(sent.Add(w.e.timeout))
	if w.e.ctx.Err() != nil {
		p.fail(-1, OutcomeInterrupted, OutcomeInterrupted)
		return
	}
	if _, err := conn.Write(line); err != nil {
		oc := OutcomeInterrupted
		if w.e.ctx.Err() == nil {
			oc = w.e.causes.noteErr(classifyIO(err, false), "send CVR", err)
		}
		p.fail(-1, oc, oc)
	}
}

// open connects and negotiates, then starts the reader.
func (p *pipe) open() Outcome {
	w := p.w
	if oc := w.connect(); oc != OutcomeOK {
		return oc
	}
	p.mu.Lock()
	p.conn, p.dead, p.draining, p.abnormal = w.conn, false, false, false
	p.done = make(chan struct{})
	conn, rd, done := w.conn, w.rd, p.done
	p.mu.Unlock()
	conn.SetDeadline(time.Time{})
	go func() {
		defer close(done)
		p.read(conn, rd)
	}()
	return OutcomeOK
}

// finish lets the requests in flight complete, then closes the
// connection and waits for its reader.
func (p *pipe) finish() {
	p.mu.Lock()
	if p.conn == nil {
		p.mu.Unlock()
		return
	}
	p.draining = true
	if len(p.pending) == 0 {
		p.dead = true
		p.conn.Close()
	}
	done, dropped := p.done, p.abnormal
	p.mu.Unlock()
	<-done
	p.mu.Lock()
	p.conn = nil
	p.mu.Unlock()
	p.w.close(dropped)
}

// read matches replies to requests until the connection is given up.
func (p *pipe) read(conn net.Conn, rd *msnp.Reader) {
	w := p.w
	for {
		line, err := rd.ReadLine()
		end := time.Now()
		if err != nil && !errors.Is(err, msnp.ErrBareLF) {
			oc := OutcomeInterrupted
			if w.e.ctx.Err() == nil {
				oc = w.e.causes.noteErr(classifyIO(err, rd.Buffered() > 0), "read CVR reply", err)
			}
			p.fail(-1, oc, oc)
			return
		}
		p.mu.Lock()
		if p.dead {
			p.mu.Unlock()
			return
		}
		if len(p.pending) == 0 { // a line nobody asked for
			p.dead, p.abnormal = true, true
			conn.Close()
			p.mu.Unlock()
			return
		}
		idx := -1
		if trid, ok := msnp.PeekTrID(line); ok {
			for i := range p.pending {
				if !p.pending[i].mutated && p.pending[i].trid == trid {
					idx = i
					break
				}
			}
		}
		if idx < 0 && p.pending[len(p.pending)-1].mutated { // a mutated line may have mangled its TrID
			idx = len(p.pending) - 1
		}
		var oc Outcome
		if idx < 0 { // nobody's reply: the oldest takes the blame
			idx = 0
			oc = classifyReply(line, p.pending[0].trid, true)
		} else {
			oc = classifyReply(line, p.pending[idx].trid, !p.pending[idx].mutated)
		}
		if oc == OutcomeOK && err != nil {
			oc = OutcomeBareLF
		}
		w.e.causes.noteReply(oc, "CVR reply", line)
		if oc != OutcomeOK && oc != OutcomeBareLF && !p.pending[idx].mutated {
			p.mu.Unlock()
			p.fail(idx, oc, OutcomeAborted)
			return
		}
		f := p.pending[idx]
		p.pending = append(p.pending[:idx], p.pending[idx+1:]...)
		if len(p.pending) > 0 {
			conn.SetReadDeadline(p.pending[0].sent.Add(w.e.timeout))
		} else {
			conn.SetReadDeadline(time.Time{})
		}
		w.record(f.t, f.mutated, oc, f.sent, end)
		<-p.credits
		closing := p.draining && len(p.pending) == 0
		if closing {
			p.dead = true
			conn.Close()
		}
		p.mu.Unlock()
		if closing {
			return
		}
	}
}

// fail gives the connection up: the request in flight at idx (none when
// -1) gets oc and every other one gets others.
func (p *pipe) fail(idx int, oc, others Outcome) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dead {
		return
	}
	p.dead, p.abnormal = true, true
	p.conn.Close()
	end := time.Now()
	for i, f := range p.pending {
		got := others
		if i == idx {
			got = oc
		}
		p.w.record(f.t, f.mutated, got, f.sent, end)
		<-p.credits
	}
	p.pending = p.pending[:0]
}
