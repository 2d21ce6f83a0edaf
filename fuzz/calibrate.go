package fuzz

import (
	"slices"
	"sync"
	"time"
)

// Bounds of the waits a [replyTimer] learns.
const (
	// minWait is the shortest wait for a reply, however fast the
	// target: a scheduler hiccup on a busy machine is shorter.
	minWait = 20 * time.Millisecond
	// minQuiet is the shortest wait for a reply before a probe is sent
	// after the line.
	minQuiet = 2 * time.Millisecond
	// waitFactor and quietFactor scale the target's p99 reply time.
	waitFactor  = 50
	quietFactor = 5
	// calibrationSamples is how many reply times the first estimate
	// takes, and how many each estimate looks back on.
	calibrationSamples = 256
)

// replyTimer learns how long the target takes to answer a line, to wait
// for a reply max(20 ms, 50 × its p99 reply time) instead of the whole
// timeout, and to probe after max(2 ms, 5 × p99): a common input that
// wedges the target then costs milliseconds, not a second. It is safe
// for concurrent use.
type replyTimer struct {
	mu      sync.Mutex
	samples [calibrationSamples]time.Duration
	n       int // samples taken, ever
	sorted  []time.Duration
	wait    time.Duration // 0 until calibrated
	quiet   time.Duration
}

// observe takes the time a line took to be answered.
func (t *replyTimer) observe(d time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.samples[t.n%calibrationSamples] = d
	t.n++
	if t.n%(calibrationSamples/4) != 0 || t.n < calibrationSamples {
		return
	}
	t.sorted = append(t.sorted[:0], t.samples[:]...)
	slices.Sort(t.sorted)
	p99 := t.sorted[len(t.sorted)*99/100]
	t.wait = max(minWait, waitFactor*p99)
	t.quiet = max(minQuiet, quietFactor*p99)
}

// waits returns the learned waits; ok is false until calibrated.
func (t *replyTimer) waits() (wait, quiet time.Duration, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.wait, t.quiet, t.wait > 0
}
