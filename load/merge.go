package load

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// MergedRun identifies one of the runs a merged result combines.
type MergedRun struct {
	Shard     string    `json:"shard,omitempty"` // "i/n", or "" for a run without shards
	Start     time.Time `json:"start"`
	DurationS float64   `json:"duration_s"`
	Requests  int64     `json:"requests"`
	Partial   bool      `json:"partial,omitempty"`
}

// MergeOptions says how [MergeOptions.Merge] treats results that differ.
// The zero value refuses any difference.
type MergeOptions struct {
	// Force merges results whose targets or settings differ. The merged
	// result then carries the first result's settings and every distinct
	// target, comma-separated. Duplicate shards and unreadable histograms
	// are refused even so.
	Force bool
}

// A MergeError says which result stopped a merge and why. With is the
// earlier result it conflicts with, or -1 when the fault lies in the
// result alone. Indexes count from 0 in the order given to Merge.
type MergeError struct {
	Index int
	With  int
	Err   error
}

// Error returns the message, counting results from 1.
func (e *MergeError) Error() string {
	if e.With >= 0 {
		return fmt.Sprintf("merge: result %d differs from result %d: %v", e.Index+1, e.With+1, e.Err)
	}
	return fmt.Sprintf("merge: result %d: %v", e.Index+1, e.Err)
}

// Unwrap returns the underlying error.
func (e *MergeError) Unwrap() error { return e.Err }

// ErrMismatch is wrapped by the [MergeError] of results whose targets or
// settings differ; [MergeOptions.Force] merges them anyway.
var ErrMismatch = errors.New("results differ")

// mismatch names the fields in which two results' targets or settings
// differ; it is an [ErrMismatch].
type mismatch string

func (m mismatch) Error() string { return string(m) }

func (m mismatch) Is(target error) bool { return target == ErrMismatch }

// Merge combines the results of runs made at the same time (the shards of
// one load, or independent runs of the same settings) into the result of
// the whole, with the zero [MergeOptions].
func Merge(results ...*Result) (*Result, error) {
	return MergeOptions{}.Merge(results...)
}

// Merge combines results into the result of the whole:
//
//   - each outcome's first error text is the first result's that has one;
//   - counts add up: requests, late requests, outcomes (overall and by
//     kind), connections opened, failed (by outcome) and dropped, and the
//     most connections open at once (summed, since the runs overlap, so
//     it is an upper bound);
//   - histograms merge bucket by bucket and every percentile is read off
//     the merged histograms, so it is exactly what one process recording
//     every value would report, never an average of percentiles;
//   - the per-second series align on wall-clock seconds: offered, achieved
//     and outcome counts add up and the per-second histograms merge;
//   - the requested rates add up (each shard's is its share of the whole);
//     the achieved rate is the requests completed by all the runs,
//     each run's achieved rate times its duration, divided by the length of
//     the union of the runs' wall-clock spans [start, start+duration],
//     which is also the merged DurationS; Start is the earliest start;
//   - the result is partial if any run was, and Merged lists the runs
//     (merging merged results flattens their lists), ordered by shard;
//   - the objectives of the settings' SLO, if any, are judged again on the
//     merged result (a shard's verdicts judge only its share).
//
// Merge refuses, with a [*MergeError] naming the difference, results of
// other targets or settings (unless o.Force), the same shard twice, a
// shard label that contradicts the settings' shard count, and histograms
// that are unreadable, of another geometry or disagree with their
// summaries.
func (o MergeOptions) Merge(results ...*Result) (*Result, error) {
	if err := o.check(results); err != nil {
		return nil, err
	}
	runs, err := mergedRuns(results)
	if err != nil {
		return nil, err
	}
	m := addUp(results)
	m.Merged = runs
	if err := mergeHistograms(m, results); err != nil {
		return nil, err
	}
	if m.Series, err = mergeSeries(results); err != nil {
		return nil, err
	}
	if m.Settings.SLO != "" {
		objs, err := ParseSLO(m.Settings.SLO)
		if err != nil {
			return nil, &MergeError{Index: 0, With: -1, Err: fmt.Errorf("settings.slo: %w", err)}
		}
		m.SLO = EvaluateSLO(objs, m)
	}
	return m, nil
}

// check refuses what cannot be merged: no result, a result of another
// format version or whose shard labels contradict its shard count, and
// (unless o.Force) targets or settings that differ from the first's.
func (o MergeOptions) check(results []*Result) error {
	if len(results) == 0 {
		return errors.New("merge: no results")
	}
	for i, r := range results {
		if r == nil {
			return &MergeError{Index: i, With: -1, Err: errors.New("nil result")}
		}
		if r.Version != ResultVersion {
			return &MergeError{Index: i, With: -1, Err: fmt.Errorf("result format version %d, want %d", r.Version, ResultVersion)}
		}
		if err := checkShards(r); err != nil {
			return &MergeError{Index: i, With: -1, Err: err}
		}
		if i > 0 && !o.Force {
			if diff := differences(results[0], r); diff != "" {
				return &MergeError{Index: i, With: 0, Err: mismatch(diff)}
			}
		}
	}
	return nil
}

// addUp returns the merge of the results' counts, rates, targets and
// spans, with the first result's settings.
func addUp(results []*Result) *Result {
	first := results[0]
	m := &Result{
		Version:     ResultVersion,
		Target:      first.Target,
		Embedded:    first.Embedded,
		Settings:    first.Settings,
		Outcomes:    Counts{},
		FirstErrors: map[Outcome]string{},
		ByKind:      OutcomesByKind{Valid: Counts{}, Mutated: Counts{}},
		Connections: Connections{Failures: Counts{}},
	}
	m.Settings.Dialects = slices.Clone(first.Settings.Dialects)
	spans := make([]span, 0, len(results))
	var completed float64
	for _, r := range results {
		if !strings.Contains(","+m.Target+",", ","+r.Target+",") {
			m.Target += "," + r.Target
		}
		m.Embedded = m.Embedded || r.Embedded
		if r.End.After(m.End) {
			m.End = r.End
		}
		m.Partial = m.Partial || r.Partial
		m.Requests += r.Requests
		m.Late += r.Late
		m.Rate.Requested += r.Rate.Requested
		completed += r.Rate.Achieved * r.DurationS
		m.Outcomes.Add(r.Outcomes)
		for name, text := range r.FirstErrors {
			if _, ok := m.FirstErrors[name]; !ok { // the earliest result's, in the order given
				m.FirstErrors[name] = text
			}
		}
		m.ByKind.Valid.Add(r.ByKind.Valid)
		m.ByKind.Mutated.Add(r.ByKind.Mutated)
		m.Connections.Opened += r.Connections.Opened
		m.Connections.MaxOpen += r.Connections.MaxOpen
		m.Connections.Failed += r.Connections.Failed
		m.Connections.Dropped += r.Connections.Dropped
		m.Connections.SetupS = max(m.Connections.SetupS, r.Connections.SetupS) // the shards open theirs side by side
		m.Connections.SetupOpened += r.Connections.SetupOpened
		m.Connections.Failures.Add(r.Connections.Failures)
		spans = append(spans, spanOf(r.Start, r.DurationS))
	}
	m.Start, m.DurationS = unionSpan(spans)
	if m.DurationS > 0 {
		m.Rate.Achieved = completed / m.DurationS
	}
	return m
}

// mergeHistograms merges the results' histograms into m's, bucket by
// bucket, and reads m's summaries off them.
func mergeHistograms(m *Result, results []*Result) error {
	for _, h := range []struct {
		name string
		enc  func(*Result) (string, Summary)
		out  *string
		sum  *Summary
	}{
		{"latency", func(r *Result) (string, Summary) { return r.Histograms.Latency, r.Latency }, &m.Histograms.Latency, &m.Latency},
		{"service", func(r *Result) (string, Summary) { return r.Histograms.Service, r.Service }, &m.Histograms.Service, &m.Service},
		{"send lag", func(r *Result) (string, Summary) { return r.Histograms.SendLag, r.SendLag }, &m.Histograms.SendLag, &m.SendLag},
		{"connect", func(r *Result) (string, Summary) { return r.Histograms.Connect, r.Connect }, &m.Histograms.Connect, &m.Connect},
		{"handshake", func(r *Result) (string, Summary) { return r.Histograms.Handshake, r.Handshake }, &m.Histograms.Handshake, &m.Handshake},
	} {
		acc := NewHistogram()
		for i, r := range results {
			enc, sum := h.enc(r)
			if err := mergeHistogram(acc, enc, sum.Count); err != nil {
				return &MergeError{Index: i, With: -1, Err: fmt.Errorf("%s histogram: %w", h.name, err)}
			}
		}
		var err error
		if *h.out, err = EncodeHistogram(acc); err != nil {
			return err
		}
		*h.sum = Summarize(acc)
	}
	return nil
}

// MergeWarnings says what makes merged, the merge of results, cover less
// than one whole run: two results whose runs did not overlap in time
// (shards of different runs, most likely), and shards of the run that no
// result holds. names labels the results, such as the files they were
// read from.
func MergeWarnings(merged *Result, results []*Result, names []string) []string {
	var warnings []string
	label := func(i int) string {
		if i < len(names) {
			return names[i]
		}
		return fmt.Sprintf("result %d", i+1)
	}
apart:
	for i, a := range results {
		for j, b := range results[:i] {
			sa, sb := spanOf(a.Start, a.DurationS), spanOf(b.Start, b.DurationS)
			if sa.start.After(sb.end) || sb.start.After(sa.end) {
				warnings = append(warnings, fmt.Sprintf("%s (from %s) and %s (from %s) did not run at the same time: the per-second series and the achieved rate leave out the time between them",
					label(j), b.Start.UTC().Format(time.RFC3339), label(i), a.Start.UTC().Format(time.RFC3339)))
				break apart
			}
		}
	}
	if missing := merged.MissingShards(); len(missing) > 0 {
		warnings = append(warnings, fmt.Sprintf("%d of %d shards missing (%s): the figures cover only the shards given",
			len(missing), merged.Settings.Shards, strings.Join(missing, ", ")))
	}
	return warnings
}

// MissingShards returns the shards ("i/n") of r's run that r does not
// hold: none for a run without shards or a merge of all of them.
func (r *Result) MissingShards() []string {
	n := r.Settings.Shards
	if n <= 0 {
		return nil
	}
	have := map[string]bool{r.Shard: true}
	for _, run := range r.Merged {
		have[run.Shard] = true
	}
	var missing []string
	for i := 1; i <= n; i++ {
		if s := fmt.Sprintf("%d/%d", i, n); !have[s] {
			missing = append(missing, s)
		}
	}
	return missing
}

// checkShards checks that r's shard labels agree with its shard count.
func checkShards(r *Result) error {
	labels := []string{r.Shard}
	if len(r.Merged) > 0 {
		if r.Shard != "" {
			return fmt.Errorf("shard %q but also a list of merged runs", r.Shard)
		}
		labels = labels[:0]
		for _, run := range r.Merged {
			labels = append(labels, run.Shard)
		}
	}
	for _, s := range labels {
		if s == "" {
			if r.Settings.Shards > 1 {
				return fmt.Errorf("a run without a shard label in a run of %d shards", r.Settings.Shards)
			}
			continue
		}
		sh, err := ParseShard(s)
		if err != nil {
			return fmt.Errorf("shard %q: want i/n with 1 <= i <= n", s)
		}
		if n := sh.Count; n != r.Settings.Shards {
			return fmt.Errorf("shard %s, but settings.shards is %d", s, r.Settings.Shards)
		}
	}
	return nil
}

// mergedRuns lists the runs results combine, refusing a shard seen twice.
func mergedRuns(results []*Result) ([]MergedRun, error) {
	var runs []MergedRun
	from := map[string]int{} // shard label -> result index
	for i, r := range results {
		own := r.Merged
		if len(own) == 0 {
			own = []MergedRun{{Shard: r.Shard, Start: r.Start, DurationS: r.DurationS, Requests: r.Requests, Partial: r.Partial}}
		}
		for _, run := range own {
			if run.Shard != "" {
				if j, dup := from[run.Shard]; dup {
					if j == i {
						return nil, &MergeError{Index: i, With: -1, Err: fmt.Errorf("shard %s is listed twice", run.Shard)}
					}
					return nil, &MergeError{Index: i, With: j, Err: fmt.Errorf("both hold shard %s", run.Shard)}
				}
				from[run.Shard] = i
			}
			runs = append(runs, run)
		}
	}
	slices.SortStableFunc(runs, func(a, b MergedRun) int {
		sa, _ := ParseShard(a.Shard)
		sb, _ := ParseShard(b.Shard)
		if sa.Index != sb.Index {
			return sa.Index - sb.Index
		}
		return a.Start.Compare(b.Start)
	})
	return runs, nil
}

// differences names every field in which b's target or settings differ
// from a's, or returns "".
func differences(a, b *Result) string {
	var diffs []string
	if a.Target != b.Target {
		diffs = append(diffs, fmt.Sprintf("target is %q, not %q", b.Target, a.Target))
	}
	if a.Embedded != b.Embedded {
		diffs = append(diffs, fmt.Sprintf("embedded is %t, not %t", b.Embedded, a.Embedded))
	}
	t := reflect.TypeFor[Settings]()
	va, vb := reflect.ValueOf(a.Settings), reflect.ValueOf(b.Settings)
	for i := range t.NumField() {
		ja, jb := settingJSON(va.Field(i)), settingJSON(vb.Field(i))
		if !bytes.Equal(ja, jb) {
			name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
			diffs = append(diffs, fmt.Sprintf("settings.%s is %s, not %s", name, jb, ja))
		}
	}
	return strings.Join(diffs, "; ")
}

// settingJSON returns a setting as JSON, an empty list as null, so that
// values compare as they would after a round trip through a file.
func settingJSON(v reflect.Value) []byte {
	if (v.Kind() == reflect.Slice || v.Kind() == reflect.Map) && v.Len() == 0 {
		return []byte("null")
	}
	b, err := json.Marshal(v.Interface())
	if err != nil {
		return []byte(fmt.Sprintf("%#v", v.Interface()))
	}
	return b
}

// mergeHistogram adds the histogram enc to acc, checking that it has the
// shared geometry and holds count values.
func mergeHistogram(acc *hdrhistogram.Histogram, enc string, count int64) error {
	h, err := DecodeHistogram(enc)
	if err != nil {
		return err
	}
	if h.LowestTrackableValue() != HistogramLowest || h.HighestTrackableValue() != HistogramHighest ||
		h.SignificantFigures() != HistogramDigits {
		return fmt.Errorf("geometry %d..%d, %d digits, want %d..%d, %d digits",
			h.LowestTrackableValue(), h.HighestTrackableValue(), h.SignificantFigures(),
			HistogramLowest, HistogramHighest, HistogramDigits)
	}
	if h.TotalCount() != count {
		return fmt.Errorf("holds %d values but its summary counts %d", h.TotalCount(), count)
	}
	if dropped := acc.Merge(h); dropped != 0 {
		return fmt.Errorf("%d values out of range", dropped)
	}
	return nil
}

// mergeSeries aligns the results' series on wall-clock seconds. It merges
// one second at a time so that only one histogram per second is alive.
func mergeSeries(results []*Result) ([]Second, error) {
	type entry struct {
		index int
		sec   *Second
	}
	bySecond := map[int64][]entry{}
	for i, r := range results {
		for j := range r.Series {
			s := &r.Series[j]
			bySecond[s.Unix] = append(bySecond[s.Unix], entry{i, s})
		}
	}
	if len(bySecond) == 0 {
		return nil, nil
	}
	seconds := make([]int64, 0, len(bySecond))
	for t := range bySecond {
		seconds = append(seconds, t)
	}
	slices.Sort(seconds)
	series := make([]Second, 0, len(seconds))
	for _, t := range seconds {
		out := Second{Unix: t, Outcomes: Counts{}}
		acc := NewHistogram()
		for _, e := range bySecond[t] {
			out.Offered += e.sec.Offered
			out.Achieved += e.sec.Achieved
			out.Outcomes.Add(e.sec.Outcomes)
			if err := mergeHistogram(acc, e.sec.Hist, e.sec.Latency.Count); err != nil {
				return nil, &MergeError{Index: e.index, With: -1, Err: fmt.Errorf("latency histogram of second %d: %w", t, err)}
			}
		}
		var err error
		if out.Hist, err = EncodeHistogram(acc); err != nil {
			return nil, err
		}
		out.Latency = Summarize(acc)
		series = append(series, out)
	}
	return series, nil
}

// span is a run's wall-clock interval.
type span struct{ start, end time.Time }

func spanOf(start time.Time, durationS float64) span {
	return span{start, start.Add(time.Duration(durationS * float64(time.Second)))}
}

// unionSpan returns the earliest start and the length, in seconds, of the
// union of the spans (overlaps counted once, gaps not at all).
func unionSpan(spans []span) (start time.Time, seconds float64) {
	if len(spans) == 0 {
		return time.Time{}, 0
	}
	slices.SortFunc(spans, func(a, b span) int { return a.start.Compare(b.start) })
	start = spans[0].start
	var total time.Duration
	cur := spans[0]
	for _, s := range spans[1:] {
		if !s.start.After(cur.end) {
			if s.end.After(cur.end) {
				cur.end = s.end
			}
			continue
		}
		total += cur.end.Sub(cur.start)
		cur = s
	}
	total += cur.end.Sub(cur.start)
	return start, total.Seconds()
}
