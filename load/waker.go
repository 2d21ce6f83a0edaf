package load

import "time"

// waker is what a lane sleeps on between due times: a runtime timer,
// which also wakes it when poked (room freed up on a busy connection, a
// connection opened, the run interrupted). A poke while the lane is awake
// makes its next sleep return at once, and a wake-up may come early, so
// the sleeper checks what it waits for each time.
//
// On an idle machine the runtime wakes its timers up to a millisecond
// late: while nothing else is runnable it waits for the next timer in the
// network poller, whose timeout counts whole milliseconds. Where the
// kernel offers a high-resolution timer the poller can wait on (a timerfd
// on Linux), nudge arms it for the same instant, so that the poller wakes
// and runs the timer on time. The lane itself always waits on the runtime
// timer, which a test's fake clock (testing/synctest) drives too.
type waker struct {
	t     *time.Timer
	poked chan struct{}
	nudge nudger // nil where there is none
}

// nudger wakes the network poller after a delay (0 disarms it).
type nudger interface {
	after(d time.Duration)
	close()
}

func newWaker() *waker {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &waker{t: t, poked: make(chan struct{}, 1), nudge: newNudger()}
}

// sleepUntil returns at t, or when poked; the zero t waits for a poke.
// It reports whether t came (rather than a poke).
func (w *waker) sleepUntil(t time.Time) bool {
	var fired <-chan time.Time
	if !t.IsZero() {
		d := time.Until(t)
		if d <= 0 {
			return true
		}
		w.t.Reset(d)
		defer w.t.Stop()
		fired = w.t.C
		if w.nudge != nil {
			w.nudge.after(d)
		}
	}
	select {
	case <-fired:
		return true
	case <-w.poked:
		return false
	}
}

func (w *waker) poke() {
	select {
	case w.poked <- struct{}{}:
	default:
	}
}

func (w *waker) close() {
	w.t.Stop()
	if w.nudge != nil {
		w.nudge.close()
	}
}
