package load

import (
	"sync"
	"time"
)

// Monitor shows a run's progress while [Run] runs: set Config.Monitor and
// call Progress from another goroutine. It is safe for concurrent use; the
// zero value is ready.
type Monitor struct {
	mu    sync.Mutex
	e     *engine
	final Progress // the state when the run ended
}

// Progress is a run's state so far.
type Progress struct {
	Running bool          // the schedule has started and Run has not returned
	Elapsed time.Duration // since the measurement started (after the warm-up)
	Total   time.Duration // the planned measured length; 0 when only a request count bounds it
	Done    int64         // requests with an outcome so far (measured ones)
	Planned int64         // the requests this process will offer, when known; 0 otherwise
	Sent    int64         // requests sent (or tried) so far
	OK      int64         // requests answered with a CVR reply
	Errors  int64         // requests with any other outcome
	Rate    float64       // well-formed replies in the latest whole second; once the run ended, the Result's achieved rate
	P99     time.Duration // response time p99 so far, as of the latest whole second
}

func (m *Monitor) attach(e *engine) {
	m.mu.Lock()
	m.e = e
	m.mu.Unlock()
}

// detach ends the monitoring with the run's result r.
func (m *Monitor) detach(r *Result) {
	m.mu.Lock()
	e := m.e
	m.e = nil
	m.mu.Unlock()
	final := snapshot(e)
	final.Running = false
	final.Rate = r.Rate.Achieved // the latest second is cut short by the end: the report's figure
	m.mu.Lock()
	m.final = final
	m.mu.Unlock()
}

// Progress returns the state of the run being monitored: the zero
// Progress before it starts, and its final state (not Running) after it
// ends.
func (m *Monitor) Progress() Progress {
	m.mu.Lock()
	e, final := m.e, m.final
	m.mu.Unlock()
	if e == nil {
		return final
	}
	select {
	case <-e.begin:
	default:
		return Progress{}
	}
	return snapshot(e)
}

func snapshot(e *engine) Progress {
	p := Progress{Running: true, Planned: e.limit}
	if e.end > 0 {
		p.Total = e.end - e.cfg.WarmUp
		if !e.sched.Unbounded() {
			planned := e.sched.Count(e.end) - e.sched.Count(e.cfg.WarmUp)
			if p.Planned == 0 || planned < p.Planned {
				p.Planned = planned
			}
		}
	}
	if since := time.Since(e.measure); since > 0 {
		p.Elapsed = since
	}
	byKind := e.rec.totals()
	for k := range byKind {
		for i, n := range byKind[k] {
			p.Done += n
			if outcome(i).sent() {
				p.Sent += n
			}
			if outcome(i) == ocOK {
				p.OK += n
			} else {
				p.Errors += n
			}
		}
	}
	b := &e.rec.series
	b.mu.Lock()
	p.Rate = float64(b.last.Achieved)
	if b.soFar != nil {
		p.P99 = time.Duration(b.soFar.ValueAtQuantile(99)) * time.Microsecond
	}
	b.mu.Unlock()
	return p
}
