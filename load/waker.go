package load

import "time"

// waker is what a lane sleeps on between due times: it wakes at a given
// instant, or sooner when poked (room freed up on a busy connection, a
// connection opened, the run interrupted). A poke while it is awake makes
// its next sleep return at once; a wake-up may also come early, so the
// sleeper checks what it waits for each time.
type waker interface {
	// sleepUntil returns at t, or when poked; the zero t waits for a poke.
	sleepUntil(t time.Time)
	poke()
	close()
}

// timerWaker is the portable waker: a runtime timer, which on an idle
// machine wakes up to a millisecond late.
type timerWaker struct {
	t     *time.Timer
	poked chan struct{}
}

var _ waker = (*timerWaker)(nil)

func newTimerWaker() *timerWaker {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &timerWaker{t: t, poked: make(chan struct{}, 1)}
}

func (w *timerWaker) sleepUntil(t time.Time) {
	var fired <-chan time.Time
	if !t.IsZero() {
		d := time.Until(t)
		if d <= 0 {
			return
		}
		w.t.Reset(d)
		defer w.t.Stop()
		fired = w.t.C
	}
	select {
	case <-fired:
	case <-w.poked:
	}
}

func (w *timerWaker) poke() {
	select {
	case w.poked <- struct{}{}:
	default:
	}
}

func (w *timerWaker) close() { w.t.Stop() }
