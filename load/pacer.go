package load

import (
	"time"

	"golang.org/x/time/rate"
)

// rampSlice is the longest stretch of a ramp held at one rate: the pacer
// follows a ramp as a staircase of slices, each at the ramp's mean rate
// over it, so the count is exact at every slice's end and off by a small
// fraction of a request inside one.
const rampSlice = 10 * time.Millisecond

// pacer turns a Schedule into due times with a token bucket
// (golang.org/x/time/rate, burst 1) driven on a virtual timeline: no clock
// and no sleeping, so a run, a test and a benchmark see the same sequence.
//
// Each due time is the previous one plus the delay of a reservation made
// at it: the bucket's one token is spent there and the next request is due
// when the limiter has earned it back. Wherever the schedule's rate
// changes (a step, or each slice of a ramp) the limiter's limit is set at
// that instant, so a request's wait is paid at each rate for the time it
// spends in it; a pause (rate 0) earns nothing.
//
// A sharded schedule's pacer walks the whole schedule's timeline and
// emits every stride-th due time from its offset on, so that the shards'
// pacers together emit exactly the whole sequence, each time once.
type pacer struct {
	lim   *rate.Limiter
	whole Schedule  // the rates, unsharded
	t0    time.Time // offset 0 of the virtual timeline
	now   time.Time // the whole schedule's last due time

	// the current piece: a stretch of constant rate from pieceStart to
	// pieceEnd (zero when it never ends)
	rate                 float64
	pieceStart, pieceEnd time.Duration
	// endBy is 1ns before pieceEnd on the timeline: the limiter truncates
	// a wait to whole nanoseconds, so a due time after it is taken as at
	// the piece's end
	endBy    time.Time
	seg      int           // the segment it lies in
	segStart time.Duration // that segment's offset

	stride, skip int64 // emit one due time in stride, after skipping skip
	started      bool
	ended        bool
}

// newPacer returns a pacer at the start of s: of s's shard, for a
// sharded s.
func newPacer(s Schedule) *pacer {
	p := &pacer{whole: s, t0: time.Unix(0, 0), stride: s.strideOr1(), skip: s.offset}
	p.whole.stride, p.whole.offset = 0, 0
	p.now = p.t0
	if s.Unbounded() {
		return p
	}
	p.lim = rate.NewLimiter(0, 1)
	if !p.enter(0) {
		p.ended = true
	}
	return p
}

// next returns the offset from the schedule's start at which this shard's
// next request is due, and false once the schedule has ended. Every
// request of an unbounded schedule is due at 0.
func (p *pacer) next() (time.Duration, bool) {
	if p.lim == nil {
		return 0, true
	}
	for {
		off, ok := p.step()
		if !ok {
			return 0, false
		}
		if p.skip == 0 {
			p.skip = p.stride - 1
			return off, true
		}
		p.skip--
	}
}

// step returns the whole schedule's next due time.
func (p *pacer) step() (time.Duration, bool) {
	if p.ended {
		return 0, false
	}
	if !p.started {
		// the first request takes the full bucket's token: it is due at
		// the first instant the rate is above 0
		p.started = true
		if p.rate == 0 && !p.nextPiece() {
			return 0, false
		}
		p.now = p.t0.Add(p.pieceStart)
		p.lim.ReserveN(p.now, 1)
		return p.pieceStart, true
	}
	due := p.now.Add(p.lim.ReserveN(p.now, 1).DelayFrom(p.now))
	for p.pieceEnd > 0 && !due.Before(p.endBy) {
		// the token is not earned back within this piece: the rest of it
		// is earned at the next piece's rate, from the piece's start
		if !p.nextPiece() {
			return 0, false
		}
		at := p.t0.Add(p.pieceStart)
		// a reservation of no token: how long until the debt is paid
		due = at.Add(p.lim.ReserveN(at, 0).DelayFrom(at))
	}
	p.now = due
	return due.Sub(p.t0), true
}

// nextPiece moves to the first piece after the current one whose rate is
// above 0, setting the limiter's rate at each piece's start on the way;
// false (and ended) when the schedule ends first.
func (p *pacer) nextPiece() bool {
	for {
		if p.pieceEnd == 0 || !p.enter(p.pieceEnd) {
			p.ended = true
			return false
		}
		if p.rate > 0 {
			return true
		}
	}
}

// enter makes the piece that contains offset off (where the previous one
// ended) the current one and sets the limiter's rate at its start; false
// when the schedule has ended by off.
func (p *pacer) enter(off time.Duration) bool {
	for ; p.seg < len(p.whole.segs); p.seg++ {
		g := p.whole.segs[p.seg]
		if g.length == 0 || off < p.segStart+g.length {
			break
		}
		p.segStart += g.length
	}
	if p.seg == len(p.whole.segs) {
		return false
	}
	g := p.whole.segs[p.seg]
	p.pieceStart, p.pieceEnd = off, 0
	mid := off
	switch {
	case g.length == 0: // constant for ever
	case g.from == g.to:
		p.pieceEnd = p.segStart + g.length
	default: // a ramp: the slice of it that off starts
		slice := min(rampSlice, max(g.length/1000, time.Microsecond))
		p.pieceEnd = min(p.segStart+(off-p.segStart)/slice*slice+slice, p.segStart+g.length)
		mid = off + (p.pieceEnd-off)/2
	}
	p.endBy = p.t0.Add(p.pieceEnd - time.Nanosecond)
	p.rate = p.whole.Rate(mid) // a ramp's mean over the slice
	p.lim.SetLimitAt(p.t0.Add(off), rate.Limit(p.rate))
	return true
}

// newLanePacer returns the pacer of lane j of lanes that split s between
// them the way shards split a whole schedule: every lanes-th of s's
// requests, from its j-th on.
func newLanePacer(s Schedule, j, lanes int) *pacer {
	stride := s.strideOr1()
	s.offset += stride * int64(j)
	s.stride = stride * int64(lanes)
	return newPacer(s)
}
