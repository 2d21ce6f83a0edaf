package load

import (
	"slices"
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Request kinds: drawn from the corpus as they are, or sent mutated.
const (
	kindValid = iota
	kindMutated
)

type counts [numOutcomes]int64

// recorder collects a run's measurements in a fixed number of shards, so
// that memory does not depend on the number of connections: each
// connection records into one shard, under that shard's lock. A harvester
// folds the per-second slots into the series once a second.
type recorder struct {
	shards []*recShard
	series seriesBuilder
}

// slotsPerShard is how many wall-clock seconds a shard holds before the
// harvester takes them; the harvester runs every second, so four leave
// room for a late one.
const slotsPerShard = 4

type recShard struct {
	mu                                   sync.Mutex
	latency, service, connect, handshake *hdrhistogram.Histogram
	sendLag                              *hdrhistogram.Histogram // from the due time to the send
	byKind                               [2]counts
	inWindow                             int64 // well-formed replies by the window's end
	slots                                [slotsPerShard]slot
	windowEnd                            time.Time // when the measured window ends; zero for the run\'s end
}

// slot is one wall-clock second of one shard.
type slot struct {
	sec               int64
	live              bool
	offered, achieved int64
	outcomes          counts
	latency           *hdrhistogram.Histogram
}

func newRecorder(n int) *recorder {
	r := &recorder{shards: make([]*recShard, n)}
	for i := range r.shards {
		r.shards[i] = &recShard{latency: NewHistogram(), service: NewHistogram(),
			connect: NewHistogram(), handshake: NewHistogram(), sendLag: NewHistogram()}
	}
	return r
}

// micros converts a duration to whole microseconds within the histograms'
// range.
func micros(d time.Duration) int64 {
	us := int64(d / time.Microsecond)
	return min(max(us, 0), HistogramHighest)
}

func (s *recShard) slot(t time.Time) *slot {
	sec := t.Unix()
	sl := &s.slots[sec%slotsPerShard]
	if !sl.live { // a harvested slot takes the new second; a live one keeps its own (the harvester is late)
		sl.sec, sl.live = sec, true
	}
	if sl.latency == nil {
		sl.latency = NewHistogram()
	}
	return sl
}

// done records one request: its outcome at end, how late it was sent
// (when it was), and, when it was answered, its response time from due
// and its service time from sent.
func (s *recShard) done(kind int, oc Outcome, due, sent, end time.Time) {
	s.mu.Lock()
	s.byKind[kind][oc]++
	if !sent.IsZero() {
		s.sendLag.RecordValue(micros(sent.Sub(due)))
	}
	sl := s.slot(end)
	sl.outcomes[oc]++
	if oc.answered() {
		lat := micros(end.Sub(due))
		s.latency.RecordValue(lat)
		sl.latency.RecordValue(lat)
		s.service.RecordValue(micros(end.Sub(sent)))
	}
	if oc.wellFormed() {
		sl.achieved++
		if s.windowEnd.IsZero() || !end.After(s.windowEnd) {
			s.inWindow++
		}
	}
	s.mu.Unlock()
}

// offered counts n requests due in the second of due.
func (s *recShard) offered(due time.Time, n int64) {
	s.mu.Lock()
	s.slot(due).offered += n
	s.mu.Unlock()
}

// conn records a connection's connect time and, when it got that far,
// its VER handshake time.
func (s *recShard) conn(connect, handshake time.Duration, shook bool) {
	s.mu.Lock()
	s.connect.RecordValue(micros(connect))
	if shook {
		s.handshake.RecordValue(micros(handshake))
	}
	s.mu.Unlock()
}

// totals adds up the shards' counts.
func (r *recorder) totals() (byKind [2]counts) {
	for _, s := range r.shards {
		s.mu.Lock()
		for k := range byKind {
			for i, n := range s.byKind[k] {
				byKind[k][i] += n
			}
		}
		s.mu.Unlock()
	}
	return byKind
}

// completedInWindow counts the requests the server answered with a
// well-formed reply by the end of the measured window.
func (r *recorder) completedInWindow() int64 {
	var n int64
	for _, s := range r.shards {
		s.mu.Lock()
		n += s.inWindow
		s.mu.Unlock()
	}
	return n
}

// setWindowEnd sets when the measured window ends (zero: when the run
// does); it must be called before anything is recorded.
func (r *recorder) setWindowEnd(t time.Time) {
	for _, s := range r.shards {
		s.windowEnd = t
	}
}

// histograms are a run's histograms so far.
type histograms struct {
	latency, service, sendLag, connect, handshake *hdrhistogram.Histogram
}

// merged returns the shards' histograms merged.
func (r *recorder) merged() histograms {
	h := histograms{NewHistogram(), NewHistogram(), NewHistogram(), NewHistogram(), NewHistogram()}
	for _, s := range r.shards {
		s.mu.Lock()
		h.latency.Merge(s.latency)
		h.service.Merge(s.service)
		h.sendLag.Merge(s.sendLag)
		h.connect.Merge(s.connect)
		h.handshake.Merge(s.handshake)
		s.mu.Unlock()
	}
	return h
}

// harvest moves every slot of a second before upTo into the series.
func (r *recorder) harvest(upTo int64) {
	for _, s := range r.shards {
		s.mu.Lock()
		for i := range s.slots {
			sl := &s.slots[i]
			if !sl.live || sl.sec >= upTo {
				continue
			}
			r.series.add(sl)
			sl.live, sl.offered, sl.achieved = false, 0, 0
			clear(sl.outcomes[:])
			if sl.latency != nil {
				sl.latency.Reset()
			}
		}
		s.mu.Unlock()
	}
	r.series.flush(upTo)
}

// seriesBuilder turns harvested slots into [Second]s. Only the harvester
// (and, at the end, Run) uses it; soFar and last are read under mu by the
// progress display.
type seriesBuilder struct {
	pending map[int64]*secondAcc
	out     []Second
	mu      sync.Mutex
	soFar   *hdrhistogram.Histogram // every completed request's response time so far
	last    Second                  // the latest complete second
	enc     histogramEncoder        // encodes each second's histogram, reusing its buffers
}

type secondAcc struct {
	offered, achieved int64
	outcomes          counts
	latency           *hdrhistogram.Histogram
}

func (b *seriesBuilder) add(sl *slot) {
	if b.pending == nil {
		b.pending = map[int64]*secondAcc{}
	}
	acc := b.pending[sl.sec]
	if acc == nil {
		acc = &secondAcc{latency: NewHistogram()}
		b.pending[sl.sec] = acc
	}
	acc.offered += sl.offered
	acc.achieved += sl.achieved
	for i, n := range sl.outcomes {
		acc.outcomes[i] += n
	}
	if sl.latency != nil {
		acc.latency.Merge(sl.latency)
	}
}

// flush turns the pending seconds before upTo into Seconds.
func (b *seriesBuilder) flush(upTo int64) {
	secs := make([]int64, 0, len(b.pending))
	for sec := range b.pending {
		if sec < upTo {
			secs = append(secs, sec)
		}
	}
	slices.Sort(secs)
	for _, sec := range secs {
		acc := b.pending[sec]
		delete(b.pending, sec)
		s := Second{Unix: sec, Offered: acc.offered, Achieved: acc.achieved,
			Outcomes: outcomeMap(&acc.outcomes), Latency: Summarize(acc.latency), Hist: b.enc.encode(acc.latency)}
		b.mu.Lock()
		if b.soFar == nil {
			b.soFar = NewHistogram()
		}
		b.soFar.Merge(acc.latency)
		b.last = s
		b.mu.Unlock()
		b.out = append(b.out, s)
	}
}

// seconds returns the series in time order, with the quiet seconds
// between from and to (Unix seconds) filled in.
func (b *seriesBuilder) seconds(from, to int64) []Second {
	have := map[int64]Second{}
	for _, s := range b.out {
		if prev, ok := have[s.Unix]; ok { // a second harvested twice (a very late record): add up
			s = mergeSeconds(prev, s)
		}
		have[s.Unix] = s
	}
	for sec := from; sec <= to; sec++ {
		if _, ok := have[sec]; !ok {
			enc, _ := EncodeHistogram(NewHistogram())
			have[sec] = Second{Unix: sec, Outcomes: Counts{}, Hist: enc}
		}
	}
	out := make([]Second, 0, len(have))
	for _, s := range have {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b Second) int { return int(a.Unix - b.Unix) })
	return out
}

func mergeSeconds(a, b Second) Second {
	ha, _ := DecodeHistogram(a.Hist)
	hb, _ := DecodeHistogram(b.Hist)
	ha.Merge(hb)
	enc, _ := EncodeHistogram(ha)
	out := Second{Unix: a.Unix, Offered: a.Offered + b.Offered, Achieved: a.Achieved + b.Achieved,
		Outcomes: Counts{}, Latency: Summarize(ha), Hist: enc}
	out.Outcomes.Add(a.Outcomes)
	out.Outcomes.Add(b.Outcomes)
	return out
}

// outcomeMap returns the non-zero counts.
func outcomeMap(c *counts) Counts {
	m := Counts{}
	for i, n := range c {
		if n != 0 {
			m[Outcome(i)] = n
		}
	}
	return m
}
