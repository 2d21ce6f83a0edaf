package load

import (
	"os"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// timerfdWaker sleeps on a timerfd read through the runtime's network
// poller: the kernel's high-resolution timer wakes it within microseconds
// of the due time, where the runtime's own timers, on an idle machine,
// wait in whole milliseconds.
type timerfdWaker struct {
	f     *os.File // the timerfd, non-blocking, so that reads park in the poller
	fd    int
	poked atomic.Bool
	buf   [8]byte
}

var _ waker = (*timerfdWaker)(nil)

// newWaker returns a timerfd waker, or the portable one when the kernel
// refuses a timerfd (out of file descriptors).
func newWaker() waker {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return newTimerWaker()
	}
	return &timerfdWaker{f: os.NewFile(uintptr(fd), "timerfd"), fd: fd}
}

// arm sets the timer to fire after d; 0 disarms it.
func (w *timerfdWaker) arm(d time.Duration) {
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(int64(d))}
	unix.TimerfdSettime(w.fd, 0, &spec, nil)
}

func (w *timerfdWaker) sleepUntil(t time.Time) {
	d := time.Duration(0)
	if !t.IsZero() {
		if d = time.Until(t); d <= 0 {
			return
		}
	}
	w.arm(d)
	// a poke that came before the timer was set again is not lost: it
	// set poked first
	if w.poked.Swap(false) {
		return
	}
	w.f.Read(w.buf[:])
	w.poked.Store(false)
}

func (w *timerfdWaker) poke() {
	if !w.poked.Swap(true) {
		w.arm(time.Nanosecond)
	}
}

func (w *timerfdWaker) close() { w.f.Close() }
