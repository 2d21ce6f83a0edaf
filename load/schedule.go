package load

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Schedule is the offered load as a pure function of elapsed time: when
// each request is due. It is piecewise linear in rate (a constant rate, a
// linear ramp, a list of steps) or unbounded ("inf": every request is due
// as soon as a connection can take it, asked for with [Unbounded]). The
// zero Schedule offers no request.
//
// A Schedule has no clock: [Schedule.Rate] and [Schedule.Count] are
// closed forms of elapsed time, and [Schedule.Due] maps a request's number
// to its exact offset from the start, so it is tested with plain numbers.
// A run's due times come from its pacer, a golang.org/x/time/rate limiter
// set to the schedule's rate as it changes; they agree with Due to a
// microsecond for constant rates and steps, and with Count to a fraction
// of a request along a ramp.
type Schedule struct {
	segs []segment
	// stride and offset select every stride-th request of the segments,
	// starting at offset: one shard's share of the whole schedule.
	stride, offset int64
	unbounded      bool
	text           string
}

// segment is a stretch of the schedule whose rate goes linearly from
// from to to (per second) over length; length 0 means it never ends (only
// the last segment, always constant).
type segment struct {
	from, to float64
	length   time.Duration
}

// Unbounded returns the schedule with no rate limit ("inf").
func Unbounded() Schedule { return Schedule{unbounded: true, text: "inf"} }

// Constant returns perSec requests per second for ever. A rate that is
// not a positive finite number offers no request (a rate computed as 0
// must not become a flood): no limit is asked for with [Unbounded].
func Constant(perSec float64) Schedule {
	if !(perSec > 0) || math.IsInf(perSec, 0) {
		return Schedule{text: formatRate(perSec)}
	}
	return Schedule{segs: []segment{{from: perSec, to: perSec}}, text: formatRate(perSec)}
}

// Ramp returns a rate that goes linearly from `from` to `to` requests per
// second over d, then ends.
func Ramp(from, to float64, d time.Duration) Schedule {
	return Schedule{segs: []segment{{from: from, to: to, length: d}},
		text: formatRate(from) + ":" + formatRate(to)}
}

// Step is one stretch of constant rate in [Steps].
type Step struct {
	Rate   float64 // requests per second; 0 is a pause
	Length time.Duration
}

// Steps returns the constant rates one after the other; the schedule ends
// after the last.
func Steps(steps ...Step) Schedule {
	s := Schedule{}
	var parts []string
	for _, st := range steps {
		s.segs = append(s.segs, segment{from: st.Rate, to: st.Rate, length: st.Length})
		parts = append(parts, formatRate(st.Rate)+":"+st.Length.String())
	}
	s.text = strings.Join(parts, ",")
	return s
}

// ParseRate reads a constant rate: "500/s", "500" (per second), "30000/1m",
// "3/1.5s", or "inf" for no limit.
func ParseRate(s string) (Schedule, error) {
	r, err := parseRate(s)
	if err != nil {
		return Schedule{}, fieldErr("Schedule", "%v", err)
	}
	if math.IsInf(r, 1) {
		return Unbounded(), nil
	}
	if r == 0 {
		return Schedule{}, fieldErr("Schedule", "rate %q: want a rate above 0, or inf for no limit", strings.TrimSpace(s))
	}
	sc := Constant(r)
	sc.text = strings.TrimSpace(s)
	return sc, nil
}

// ParseRamp reads "100/s:5000/s", a rate that goes linearly from the first
// to the second over d (the run's duration).
func ParseRamp(s string, d time.Duration) (Schedule, error) {
	a, b, ok := strings.Cut(s, ":")
	if !ok {
		return Schedule{}, fieldErr("Schedule", "ramp %q: want FROM:TO, e.g. 100/s:5000/s", s)
	}
	from, err := parseRate(a)
	if err != nil {
		return Schedule{}, fieldErr("Schedule", "ramp %q: %v", s, err)
	}
	to, err := parseRate(b)
	if err != nil {
		return Schedule{}, fieldErr("Schedule", "ramp %q: %v", s, err)
	}
	if math.IsInf(from, 1) || math.IsInf(to, 1) {
		return Schedule{}, fieldErr("Schedule", "ramp %q: both ends must be finite rates", s)
	}
	if d <= 0 {
		return Schedule{}, fieldErr("Schedule", "ramp %q needs a duration to ramp over", s)
	}
	if from == 0 && to == 0 {
		return Schedule{}, fieldErr("Schedule", "ramp %q: both ends are 0", s)
	}
	sc := Ramp(from, to, d)
	sc.text = strings.TrimSpace(s)
	return sc, nil
}

// ParseSteps reads "1000/s:10s,2000/s:10s": each rate held for its
// duration, one after the other.
func ParseSteps(s string) (Schedule, error) {
	var steps []Step
	for _, part := range strings.Split(s, ",") {
		rs, ds, ok := strings.Cut(strings.TrimSpace(part), ":")
		if !ok {
			return Schedule{}, fieldErr("Schedule", "step %q: want RATE:DURATION, e.g. 1000/s:10s", part)
		}
		r, err := parseRate(rs)
		if err != nil {
			return Schedule{}, fieldErr("Schedule", "step %q: %v", part, err)
		}
		if math.IsInf(r, 1) {
			return Schedule{}, fieldErr("Schedule", "step %q: a step needs a finite rate", part)
		}
		d, err := time.ParseDuration(ds)
		if err != nil || d <= 0 {
			return Schedule{}, fieldErr("Schedule", "step %q: %q is not a positive duration", part, ds)
		}
		steps = append(steps, Step{Rate: r, Length: d})
	}
	sc := Steps(steps...)
	if sc.Count(sc.Length()) == 0 {
		return Schedule{}, fieldErr("Schedule", "steps %q offer no request", s)
	}
	sc.text = strings.TrimSpace(s)
	return sc, nil
}

// parseRate reads "N/unit" or "N" as requests per second; "inf" is +Inf.
func parseRate(s string) (float64, error) {
	s = strings.TrimSpace(s)
	if s == "inf" || s == "max" {
		return math.Inf(1), nil
	}
	num, per, hasPer := strings.Cut(s, "/")
	n, err := strconv.ParseFloat(num, 64)
	if err != nil || n < 0 || math.IsInf(n, 0) || math.IsNaN(n) {
		return 0, fmt.Errorf("rate %q: want N/s, N/1m, N/100ms or inf", s)
	}
	if !hasPer {
		return n, nil
	}
	if per != "" && (per[0] < '0' || per[0] > '9') && per[0] != '.' {
		per = "1" + per // "s" means "1s"
	}
	d, err := time.ParseDuration(per)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("rate %q: %q is not a positive duration", s, per)
	}
	return n / d.Seconds(), nil
}

// FormatRate writes a rate per second the way reports show it: "4000/s",
// "3312.5/s".
func FormatRate(r float64) string {
	if r == math.Trunc(r) && math.Abs(r) < 1e15 {
		return fmt.Sprintf("%d/s", int64(r))
	}
	return fmt.Sprintf("%.1f/s", r)
}

func formatRate(r float64) string {
	return strconv.FormatFloat(r, 'f', -1, 64) + "/s"
}

// String returns the schedule as it was given: "500/s", "inf",
// "100/s:5000/s" (a ramp), "1000/s:10s,2000/s:10s" (steps); "none" for
// the zero Schedule.
func (s Schedule) String() string {
	if s.text == "" {
		return "none"
	}
	return s.text
}

// Unbounded reports whether the schedule has no rate limit: only
// [Unbounded] and "inf" make one.
func (s Schedule) Unbounded() bool { return s.unbounded }

// offersNone reports whether the schedule is bounded and its rate never
// rises above 0.
func (s Schedule) offersNone() bool {
	if s.unbounded {
		return false
	}
	for _, g := range s.segs {
		if g.from > 0 || g.to > 0 {
			return false
		}
	}
	return true
}

// Length returns how long the schedule lasts, or 0 when it never ends.
func (s Schedule) Length() time.Duration {
	var total time.Duration
	for _, g := range s.segs {
		if g.length == 0 {
			return 0
		}
		total += g.length
	}
	return total
}

// Rate returns the rate at elapsed time t, per second; +Inf when the
// schedule is unbounded and 0 after its end.
func (s Schedule) Rate(t time.Duration) float64 {
	if s.Unbounded() {
		return math.Inf(1)
	}
	for _, g := range s.segs {
		if g.length == 0 || t < g.length {
			r := g.from
			if g.length > 0 {
				r += (g.to - g.from) * t.Seconds() / g.length.Seconds()
			}
			return r / float64(s.strideOr1())
		}
		t -= g.length
	}
	return 0
}

// Peak returns the highest rate of the schedule (this shard's share),
// per second; +Inf when the schedule is unbounded.
func (s Schedule) Peak() float64 {
	if s.Unbounded() {
		return math.Inf(1)
	}
	var peak float64
	for _, g := range s.segs {
		peak = max(peak, g.from, g.to)
	}
	return peak / float64(s.strideOr1())
}

func (s Schedule) strideOr1() int64 {
	if s.stride <= 0 {
		return 1
	}
	return s.stride
}

// count returns how many requests of the whole (unsharded) schedule are
// due before t, as a real number.
func (s Schedule) count(t time.Duration) float64 {
	var n float64
	for _, g := range s.segs {
		if g.length == 0 || t < g.length {
			sec := t.Seconds()
			if g.length == 0 {
				return n + g.from*sec
			}
			return n + g.from*sec + (g.to-g.from)*sec*sec/(2*g.length.Seconds())
		}
		n += (g.from + g.to) / 2 * g.length.Seconds()
		t -= g.length
	}
	return n
}

// Count returns how many requests are due before elapsed time t (this
// shard's share, for a sharded schedule); -1 when the schedule is
// unbounded (every request is due at once).
func (s Schedule) Count(t time.Duration) int64 {
	if s.Unbounded() {
		return -1
	}
	if t <= 0 {
		return 0
	}
	// whole-schedule requests k are due at or after the real count k;
	// those before t are k < count(t), i.e. ceil(count(t)) of them
	whole := int64(math.Ceil(s.count(t) - 1e-9))
	stride := s.strideOr1()
	if whole <= s.offset {
		return 0
	}
	return (whole - s.offset + stride - 1) / stride
}

// errEnded is what due reports past the end of the schedule.
var errEnded = errors.New("schedule ended")

// Due returns the offset from the start at which request n (counting from
// 0) is due, and false when the schedule ends before it. Every request of
// an unbounded schedule is due at 0.
func (s Schedule) Due(n int64) (time.Duration, bool) {
	if n < 0 {
		return 0, false
	}
	if s.Unbounded() {
		return 0, true
	}
	d, err := s.wholeDue(float64(n*s.strideOr1() + s.offset))
	return d, err == nil
}

// wholeDue inverts count: the offset at which the whole schedule's count
// reaches k.
func (s Schedule) wholeDue(k float64) (time.Duration, error) {
	var base time.Duration
	for _, g := range s.segs {
		var full float64 // requests in this segment
		if g.length > 0 {
			full = (g.from + g.to) / 2 * g.length.Seconds()
		}
		if g.length == 0 || k < full {
			var sec float64
			switch {
			case g.length == 0 && g.from <= 0:
				return 0, errEnded
			case g.length == 0 || g.from == g.to:
				sec = k / g.from
			default:
				// solve from*t + (to-from)*t²/(2L) = k in the form that
				// stays exact when from is 0
				slope := (g.to - g.from) / g.length.Seconds()
				sec = 2 * k / (g.from + math.Sqrt(g.from*g.from+2*slope*k))
			}
			off := base + time.Duration(sec*float64(time.Second))
			if g.length > 0 && off >= base+g.length { // rounding at the boundary
				off = base + g.length - 1
			}
			return off, nil
		}
		k -= full
		base += g.length
	}
	return 0, errEnded
}

// Shard returns this shard's share of the schedule: of every n requests of
// the whole schedule, request i-1 (i counts from 1). The n shards together
// offer exactly the whole schedule, with no request in two of them.
func (s Schedule) Shard(sh Shard) Schedule {
	if sh.Count <= 1 || s.Unbounded() {
		return s
	}
	s.stride = int64(sh.Count)
	s.offset = int64(sh.Index - 1)
	return s
}
