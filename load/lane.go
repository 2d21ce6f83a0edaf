package load

import (
	"context"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// lane sends one interleaved share of this process's requests at their
// due times, on connections of its own. With L lanes, lane j takes the
// schedule's requests j, j+L, j+2L, ..., as shards take theirs of the
// whole run, so that no request is handed from one goroutine to another.
// When it wakes it writes every request due by then, as many at once on
// one connection as that has room for in flight. A request that finds no
// room waits in the lane's queue, and a connection is opened for it, up
// to the lane's share of MaxConns; past that it is late. The replies on
// each connection are read by a goroutine of its own.
type lane struct {
	e               *engine
	pc              *pacer
	nextDue         time.Duration // when the pacer's next request is due
	more            bool          // false once the schedule, or its bound, is done
	stopAt          time.Duration // where the schedule is cut: its end or the request bound; 0 for none
	conns, maxConns int           // the lane's share: connections kept open, and the cap
	sh              *recShard     // where its offered and unsent requests are counted
	wake            *waker
	open            []*conn     // its connections; only the lane's goroutine touches the slice
	cursor          int         // where the search for room starts, so that connections take turns
	queue           ticketQueue // requests due and not yet sent, oldest first
	dialing         int         // connections being opened for it
	churning        atomic.Int64
	s               sender
	waiting         atomic.Bool   // the queue waits for room: freeing some pokes the lane
	lastWake        time.Time     // when the lane last meant to wake for a due time
	early           time.Duration // how late its timer wakes it, of late: it sets the timer that much earlier

	mu      sync.Mutex // guards what the goroutines opening connections hand over
	arrived []*conn
	failed  []Outcome // dials that failed, not yet charged to a waiting request
	ended   bool
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// laneRate is the most requests a second one lane is given: a lane that
// sends a burst per wake-up has plenty of room below it, and every lane
// more wakes up as often.
const laneRate = 200_000

// newLanes splits this process's share of the run between lanes: one per
// laneRate of its peak rate, at most one per processor and per connection.
func (e *engine) newLanes() []*lane {
	n := int(math.Ceil(e.sched.Peak() / laneRate))
	n = max(min(n, runtime.GOMAXPROCS(0), e.conns), 1)
	stopAt := e.end
	if e.limitEnds && (stopAt == 0 || e.limitEnd < stopAt) {
		stopAt = e.limitEnd
	}
	lanes := make([]*lane, n)
	for j := range lanes {
		share := Shard{Index: j + 1, Count: n}
		l := &lane{e: e, pc: newLanePacer(e.sched, j, n), stopAt: stopAt,
			conns: share.Share(e.conns, 1), maxConns: share.Share(e.maxConns, 1),
			sh: e.shardFor(int64(j)), wake: newWaker()}
		l.advance()
		lanes[j] = l
	}
	return lanes
}

// advance peeks at the pacer's next request.
func (l *lane) advance() {
	l.nextDue, l.more = l.pc.next()
	if l.more && l.stopAt > 0 && l.nextDue >= l.stopAt {
		l.more = false
	}
}

// run sends the lane's requests until its share of the schedule is done,
// the schedule's end, or ctx's; it reports whether ctx stopped it.
func (l *lane) run() (interrupted bool) {
	e := l.e
	stop := context.AfterFunc(e.ctx, l.wake.poke)
	defer stop()
	var endAt time.Time
	if e.end > 0 {
		endAt = e.start.Add(e.end)
	}
	for {
		now := time.Now()
		if e.ctx.Err() != nil {
			l.unsent(now)
			return true
		}
		l.adopt(now)
		fresh := l.pull(now)
		if !endAt.IsZero() && !now.Before(endAt) { // the schedule's end: what still waits was never sent
			l.unsentQueue(endAt)
			return false
		}
		l.dispatch()
		// the requests just due that found no room: a connection is opened
		// for each, or it is late; the older ones keep theirs coming
		left := l.queue.len()
		for i := left - min(fresh, left); i < left; i++ {
			if !l.grow() && !l.queue.at(i).warm {
				e.late.Add(1)
			}
		}
		for l.grow() {
		}
		if !l.more && left == 0 {
			return false
		}
		wakeAt, onTime := endAt, false
		if due := e.start.Add(l.nextDue); l.more && (wakeAt.IsZero() || due.Before(wakeAt)) {
			// a request due at least the batch window after the last
			// wake-up's aim gets a wake-up of its own; those due closer
			// together go out together, a window after this wake-up: above
			// one request per window, each wake-up sends every request due
			// by then, where a wake-up per request would cost the machine
			// more than the write
			wakeAt, onTime = due, true
			if window := e.batchWindow; due.Before(l.lastWake.Add(window)) {
				wakeAt, onTime = maxTime(due, now.Add(window)), false
			}
		}
		if left > 0 {
			l.waiting.Store(true)
			if l.anyRoom() {
				l.waiting.Store(false)
				continue
			}
		}
		l.sleepUntil(wakeAt, onTime)
	}
}

// maxEarly bounds how early a lane sets its timer before a due time:
// lateness beyond it is the machine's, not the timer's.
const maxEarly = 200 * time.Microsecond

// sleepUntil sleeps until at (the zero at: until poked). For a request
// due at at (onTime), it aims its timer early by the lateness its timer
// wake-ups have shown, then yields the processor to other goroutines
// until at: the request then goes out on time rather than late by the
// wake-up itself. Requests due closer together than the batch window are late
// by design: for them it only sleeps.
func (l *lane) sleepUntil(at time.Time, onTime bool) {
	if !at.IsZero() {
		l.lastWake = at
	}
	if at.IsZero() || !onTime {
		l.wake.sleepUntil(at)
		return
	}
	target := at.Add(-l.early)
	now := time.Now()
	if target.After(now) {
		if !l.wake.sleepUntil(target) {
			return // poked
		}
		now = time.Now()
		late := min(max(now.Sub(target), 0), maxEarly)
		l.early += (late - l.early) / 8
	}
	for ; now.Before(at); now = time.Now() {
		runtime.Gosched()
	}
}

// pull moves the requests due by now into the queue, counting them as
// offered; it returns how many.
func (l *lane) pull(now time.Time) (n int) {
	e := l.e
	var sec, offered int64
	for l.more {
		due := e.start.Add(l.nextDue)
		if due.After(now) {
			break
		}
		t := ticket{due: due, warm: l.nextDue < e.cfg.WarmUp}
		l.queue.push(t)
		n++
		if !t.warm {
			if s := due.Unix(); s != sec && offered > 0 {
				l.sh.offered(time.Unix(sec, 0), offered)
				offered = 0
			}
			sec = due.Unix()
			offered++
		}
		l.advance()
	}
	if offered > 0 {
		l.sh.offered(time.Unix(sec, 0), offered)
	}
	return n
}

// next hands the oldest waiting request to a connection.
func (l *lane) next() (ticket, bool) { return l.queue.pop() }

// dispatch sends the waiting requests on the connections with room.
func (l *lane) dispatch() {
	if l.e.cfg.Churn {
		for l.queue.len() > 0 && l.churning.Load() < int64(l.maxConns) {
			t, _ := l.queue.pop()
			l.churning.Add(1)
			id := l.e.nextID.Add(1) - 1
			l.e.dialers.Go(func() {
				var s sender
				l.e.churn(t, id, &s)
				l.churning.Add(-1)
				l.roomFreed()
			})
		}
		return
	}
	for l.queue.len() > 0 {
		c := l.roomy()
		if c == nil {
			return
		}
		c.send(l, &l.s)
	}
}

// roomy returns the next connection, in turn, with room for a request;
// nil when none has. It drops the closed ones, replacing them up to the
// lane's share of Conns.
func (l *lane) roomy() *conn {
	for range len(l.open) {
		if l.cursor >= len(l.open) {
			l.cursor = 0
		}
		c := l.open[l.cursor]
		if c.hasRoom() {
			l.cursor++
			return c
		}
		if c.closed() {
			last := len(l.open) - 1
			l.open[l.cursor], l.open[last] = l.open[last], nil
			l.open = l.open[:last]
			if len(l.open)+l.dialing < l.conns {
				l.startDial()
			}
			continue
		}
		l.cursor++
	}
	return nil
}

// anyRoom reports whether a waiting request could be sent now.
func (l *lane) anyRoom() bool {
	if l.e.cfg.Churn {
		return l.churning.Load() < int64(l.maxConns)
	}
	for _, c := range l.open {
		if c.hasRoom() {
			return true
		}
	}
	return false
}

// grow opens a connection for the waiting requests when those being
// opened have no room for them all (each brings room for depth) and the
// lane's cap allows. It opens at most a quarter as many again as are open
// (and two when few are) at a time: a stall of a few milliseconds frees
// up the busy connections again before new ones would open, and dials
// in the hundreds would only lengthen it; a server that stays slow gets
// its connections a quarter more at each round.
func (l *lane) grow() bool {
	if l.e.cfg.Churn || !l.mayDial(l.e.depth) {
		return false
	}
	l.startDial()
	return true
}

// mayDial reports whether grow may open one more connection of depth.
func (l *lane) mayDial(depth int) bool {
	return l.dialing*depth < l.queue.len() && len(l.open)+l.dialing < l.maxConns && l.dialing < max(len(l.open)/4, 2)
}

func (l *lane) startDial() {
	l.dialing++
	l.e.dialers.Go(l.dial)
}

// dial opens a connection for the lane and hands it over, or the failure.
func (l *lane) dial() {
	e := l.e
	c, oc := e.openConn(e.nextID.Add(1)-1, l)
	if c != nil {
		e.readers.Go(c.readReplies)
	} else {
		e.connFailed(oc)
	}
	if !l.handOver(c, oc) {
		return
	}
	l.wake.poke()
}

// handOver gives the lane a connection opened for it, or a failed dial's
// Outcome; false when the lane has ended (the connection is then closed).
func (l *lane) handOver(c *conn, oc Outcome) bool {
	l.mu.Lock()
	ended := l.ended
	switch {
	case ended:
	case c != nil:
		l.arrived = append(l.arrived, c)
	default:
		l.failed = append(l.failed, oc)
	}
	l.mu.Unlock()
	if ended && c != nil {
		c.finish()
	}
	return !ended
}

// adopt takes the connections opened for the lane; each failed dial is
// charged to the oldest waiting request, which needed it.
func (l *lane) adopt(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open = append(l.open, l.arrived...)
	l.dialing = max(l.dialing-len(l.arrived)-len(l.failed), 0)
	for _, oc := range l.failed {
		if t, ok := l.queue.pop(); ok {
			l.e.record(l.sh, t, kindValid, oc, now, now)
		}
	}
	clear(l.arrived)
	l.arrived, l.failed = l.arrived[:0], l.failed[:0]
}

// roomFreed pokes the lane when its queue waits for room.
func (l *lane) roomFreed() {
	if l.waiting.Load() && l.waiting.CompareAndSwap(true, false) {
		l.wake.poke()
	}
}

// unsent counts, when the run is interrupted at now, the waiting requests
// and those due before now that were not taken yet.
func (l *lane) unsent(now time.Time) {
	l.unsentQueue(now)
	for ; l.more; l.advance() {
		due := l.e.start.Add(l.nextDue)
		if !due.Before(now) {
			return
		}
		if l.nextDue >= l.e.cfg.WarmUp {
			l.sh.offered(due, 1)
			l.sh.done(kindValid, OutcomeUnsent, due, time.Time{}, now)
		}
	}
}

// unsentQueue counts the waiting requests as never sent, at until.
func (l *lane) unsentQueue(until time.Time) {
	for t, ok := l.queue.pop(); ok; t, ok = l.queue.pop() {
		if !t.warm {
			l.sh.done(kindValid, OutcomeUnsent, t.due, time.Time{}, until)
		}
	}
}

// shutdown ends the lane: its connections close once their requests in
// flight are done, and those still being opened as soon as they are.
func (l *lane) shutdown() {
	l.mu.Lock()
	l.ended = true
	arrived := l.arrived
	l.arrived = nil
	l.mu.Unlock()
	for _, c := range append(l.open, arrived...) {
		c.finish()
	}
	l.open = nil
}

// ticketQueue is a FIFO of requests that reuses its memory.
type ticketQueue struct {
	items []ticket
	head  int
}

func (q *ticketQueue) len() int { return len(q.items) - q.head }

// at returns the i-th oldest request.
func (q *ticketQueue) at(i int) ticket { return q.items[q.head+i] }

func (q *ticketQueue) push(t ticket) {
	if q.head > 0 && q.head >= len(q.items)/2 { // move the live part to the front
		n := copy(q.items, q.items[q.head:])
		q.items, q.head = q.items[:n], 0
	}
	q.items = append(q.items, t)
}

func (q *ticketQueue) pop() (ticket, bool) {
	if q.head == len(q.items) {
		return ticket{}, false
	}
	t := q.items[q.head]
	q.head++
	if q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
	}
	return t, true
}
