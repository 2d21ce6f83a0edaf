package load

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// timerfd is a kernel high-resolution timer registered with the runtime's
// network poller: when it fires, the poller wakes within microseconds and
// runs the runtime timers that are due. Nothing reads it.
type timerfd struct {
	f  *os.File // non-blocking, so that os.NewFile registers it with the poller
	fd int
}

var _ nudger = (*timerfd)(nil)

// newNudger returns a timerfd, or nil when the kernel refuses one (out of
// file descriptors): the lane then wakes on the runtime timer alone.
func newNudger() nudger {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil
	}
	return &timerfd{f: os.NewFile(uintptr(fd), "timerfd"), fd: fd}
}

func (t *timerfd) after(d time.Duration) {
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(int64(d))}
	unix.TimerfdSettime(t.fd, 0, &spec, nil)
}

func (t *timerfd) close() { t.f.Close() }
