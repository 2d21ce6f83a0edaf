package load

import (
	"slices"
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Monitor shows a run's progress while [Run] runs: set Config.Monitor and
// call Progress or Measurements from another goroutine. One Monitor may
// watch several runs, one after the other (the steps of a capacity
// search). It is safe for concurrent use; the zero value is ready.
type Monitor struct {
	mu    sync.Mutex
	e     *engine
	final Progress // the state when the run ended
	past  measured // the totals of the runs that ended
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
	e.addMeasured(&m.past)
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
			if Outcome(i).sent() {
				p.Sent += n
			}
			if Outcome(i) == OutcomeOK {
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

// Measurements are the cumulative figures of every run a [Monitor] has
// watched, the running one's so far, and the running one's state now:
// what a live exporter reads at each scrape. They cost the runs nothing
// while nobody asks: they are read from the recorder's own counts and
// histograms.
type Measurements struct {
	// ByKind counts the requests with an outcome, by outcome name, as
	// [Result.ByKind] does (warm-up not included).
	ByKind OutcomesByKind
	// Response and Service hold the response and service times, in
	// microseconds, of the requests sent (as [Result.Histograms]); SendLag
	// how late each was sent after its due time (as [Result.SendLag]).
	Response, Service, SendLag *hdrhistogram.Histogram
	// Late counts the requests that found every connection busy at their
	// due time, as [Result.Late].
	Late int64
	// Open is the running run's open connections; 0 between runs.
	Open int64
	// Requested is the running run's offered rate at this moment, this
	// process's share, per second: +Inf when unbounded, 0 between runs.
	Requested float64
	// Achieved is the running run's requests completed in its latest whole
	// second; 0 between runs.
	Achieved float64
}

// Measurements returns the figures of the runs watched so far; see
// [Measurements]. Each call merges the recorder's histograms: call it
// about once a second, not per request.
func (m *Monitor) Measurements() Measurements {
	m.mu.Lock()
	defer m.mu.Unlock()
	total := m.past
	total.response, total.service, total.sendLag = slices.Clone(m.past.response), slices.Clone(m.past.service), slices.Clone(m.past.sendLag)
	var out Measurements
	if e := m.e; e != nil {
		e.addMeasured(&total)
		out.Open = e.open.Load()
		select {
		case <-e.begin:
			if since := time.Since(e.start); e.end == 0 || since < e.end {
				out.Requested = e.sched.Rate(since)
			}
			b := &e.rec.series
			b.mu.Lock()
			out.Achieved = float64(b.last.Achieved)
			b.mu.Unlock()
		default:
		}
	}
	out.ByKind = OutcomesByKind{Valid: outcomeMap(&total.byKind[kindValid]), Mutated: outcomeMap(&total.byKind[kindMutated])}
	out.Response, out.Service, out.SendLag = histogramOf(total.response), histogramOf(total.service), histogramOf(total.sendLag)
	out.Late = total.late
	return out
}

// measured is what [Measurements] adds up over runs.
type measured struct {
	byKind                     [2]counts
	response, service, sendLag []int64 // the histograms' counts, as [hdrhistogram.Histogram.Export] has them; nil for none
	late                       int64
}

// addMeasured adds the engine's counts and histograms so far to t. It
// holds each recorder shard's lock only to copy its counts, so that the
// requests recording into it barely wait.
func (e *engine) addMeasured(t *measured) {
	for _, s := range e.rec.shards {
		s.mu.Lock()
		for k := range t.byKind {
			for i, n := range s.byKind[k] {
				t.byKind[k][i] += n
			}
		}
		lat, svc, lag := s.latency.Export(), s.service.Export(), s.sendLag.Export()
		s.mu.Unlock()
		addBins(&t.response, lat.Counts)
		addBins(&t.service, svc.Counts)
		addBins(&t.sendLag, lag.Counts)
	}
	t.late += e.late.Load()
}

// addBins adds the counts of a histogram of [NewHistogram]'s geometry.
func addBins(dst *[]int64, src []int64) {
	if *dst == nil {
		*dst = make([]int64, len(src))
	}
	for i, n := range src {
		(*dst)[i] += n
	}
}

// histogramOf returns a histogram of [NewHistogram]'s geometry with the
// given counts (none when nil).
func histogramOf(counts []int64) *hdrhistogram.Histogram {
	h := NewHistogram()
	if counts != nil {
		// Import sets the counts but not the extremes; a merge sets both
		h.Merge(hdrhistogram.Import(&hdrhistogram.Snapshot{LowestTrackableValue: HistogramLowest,
			HighestTrackableValue: HistogramHighest, SignificantFigures: HistogramDigits, Counts: counts}))
	}
	return h
}
