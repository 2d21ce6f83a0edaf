package load

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// Objective is one service-level objective of -slo, such as "p99<20ms",
// "errors<1%" or "rate>4900". Metrics:
//
//	pN      a percentile of the response time: p50, p99, p99.9 (p999 is p99.9 too)
//	max     the longest response time
//	mean    the mean response time
//	errors  the share of valid (unmutated) requests whose outcome is not "ok"
//	rate    the achieved rate, per second
//
// Times take a Go duration ("20ms", "1.5s", "500us"); the error share a
// percentage ("1%") or a fraction ("0.01"); the rate a number ("4900",
// "4900/s"). The operators are <, <=, > and >=.
type Objective struct {
	Text       string  // as given: "p99<20ms"
	Metric     string  // "p", "max", "mean", "errors" or "rate"
	Percentile float64 // for "p": 99 for p99
	Op         string  // "<", "<=", ">", ">="
	Threshold  float64 // in Unit
	// Unit is what a Threshold of 1 means: for times, microseconds per
	// unit (1000 for "ms"); for errors, 100 for a percentage, 1 for a
	// fraction; 1 for rates.
	Unit float64
}

// ParseSLO reads a comma-separated list of objectives.
func ParseSLO(s string) ([]Objective, error) {
	var objs []Objective
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		o, err := parseObjective(part)
		if err != nil {
			return nil, err
		}
		objs = append(objs, o)
	}
	if len(objs) == 0 {
		return nil, fieldErr("SLO", "%q names no objective", s)
	}
	return objs, nil
}

func parseObjective(s string) (Objective, error) {
	i := strings.IndexAny(s, "<>")
	if i <= 0 {
		return Objective{}, fieldErr("SLO", "objective %q: want METRIC<VALUE or METRIC>VALUE, e.g. p99<20ms", s)
	}
	o := Objective{Text: s, Op: s[i : i+1]}
	value := s[i+1:]
	if strings.HasPrefix(value, "=") {
		o.Op += "="
		value = value[1:]
	}
	metric, value := strings.TrimSpace(s[:i]), strings.TrimSpace(value)
	bad := func(why string) error { return fieldErr("SLO", "objective %q: %s", s, why) }
	switch {
	case metric == "max" || metric == "mean":
		o.Metric = metric
	case metric == "errors" || metric == "error":
		o.Metric = "errors"
	case metric == "rate":
		o.Metric = "rate"
	case strings.HasPrefix(metric, "p"):
		digits := metric[1:]
		if !strings.Contains(digits, ".") && len(digits) > 2 && strings.Trim(digits, "9") == "" {
			digits = digits[:2] + "." + digits[2:] // p999 is p99.9, as the JSON keys name it
		}
		p, err := strconv.ParseFloat(digits, 64)
		if err != nil || p <= 0 || p > 100 {
			return Objective{}, bad("a percentile is p followed by a number above 0 and up to 100")
		}
		o.Metric, o.Percentile = "p", p
	default:
		return Objective{}, bad("unknown metric (want pN, max, mean, errors or rate)")
	}
	switch o.Metric {
	case "errors":
		v, pct := strings.CutSuffix(value, "%")
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || f < 0 || (pct && f > 100) || (!pct && f > 1) {
			return Objective{}, bad("an error share is a percentage (1%) or a fraction (0.01)")
		}
		o.Threshold, o.Unit = f, 1
		if pct {
			o.Unit = 100
		}
	case "rate":
		r, err := parseRate(value)
		if err != nil || math.IsInf(r, 0) {
			return Objective{}, bad("a rate is a number per second, e.g. 4900 or 4900/s")
		}
		o.Threshold, o.Unit = r, 1
	default:
		d, err := time.ParseDuration(value)
		if err != nil || d < 0 {
			return Objective{}, bad("a time is a duration such as 20ms or 1.5s")
		}
		o.Unit = durationUnit(value)
		o.Threshold = float64(d) / float64(time.Microsecond) / o.Unit
	}
	return o, nil
}

// durationUnit returns microseconds per unit of the duration's last
// unit ("20ms" is in ms: 1000).
func durationUnit(s string) float64 {
	end := len(s)
	start := end
	for start > 0 && !(s[start-1] >= '0' && s[start-1] <= '9' || s[start-1] == '.') {
		start--
	}
	switch s[start:end] {
	case "ns":
		return 0.001
	case "us", "µs", "μs":
		return 1
	case "ms":
		return 1000
	case "m":
		return 60e6
	case "h":
		return 3600e6
	}
	return 1e6
}

// Measure returns the objective's metric in r, in the objective's unit.
func (o Objective) Measure(r *Result) float64 {
	switch o.Metric {
	case "rate":
		return r.Rate.Achieved
	case "errors":
		return o.Unit * ValidErrorShare(r)
	case "mean":
		return r.Latency.Mean / o.Unit
	case "max":
		return float64(r.Latency.Max) / o.Unit
	}
	var us int64
	if h, err := DecodeHistogram(r.Histograms.Latency); err == nil && h.TotalCount() > 0 {
		us = h.ValueAtQuantile(o.Percentile)
	} else { // no histogram: the summary's nearest percentile at or above
		s := r.Latency
		switch {
		case o.Percentile <= 50:
			us = s.P50
		case o.Percentile <= 90:
			us = s.P90
		case o.Percentile <= 99:
			us = s.P99
		case o.Percentile <= 99.9:
			us = s.P999
		default:
			us = s.Max
		}
	}
	return float64(us) / o.Unit
}

// Met reports whether a measured value meets the objective.
func (o Objective) Met(v float64) bool {
	switch o.Op {
	case "<":
		return v < o.Threshold
	case "<=":
		return v <= o.Threshold
	case ">":
		return v > o.Threshold
	}
	return v >= o.Threshold
}

// ValidErrorShare is the share of valid (unmutated) requests whose
// outcome is not "ok"; 0 when there were none. Without a split by kind it
// is the share of all requests.
func ValidErrorShare(r *Result) float64 {
	valid := r.ByKind.Valid
	if len(valid) == 0 && len(r.ByKind.Mutated) == 0 {
		valid = r.Outcomes
	}
	n := valid.Total()
	if n == 0 {
		return 0
	}
	return float64(n-valid[OutcomeOK]) / float64(n)
}

// EvaluateSLO judges r against each objective.
func EvaluateSLO(objs []Objective, r *Result) []SLOVerdict {
	vs := make([]SLOVerdict, len(objs))
	for i, o := range objs {
		v := o.Measure(r)
		vs[i] = SLOVerdict{Objective: o.Text, Value: v, Met: o.Met(v)}
	}
	return vs
}

// String says what was checked, what was measured, with its unit, and
// the verdict: "p99<100us: 1.20ms, breached".
func (v SLOVerdict) String() string {
	verdict := "met"
	if !v.Met {
		verdict = "breached"
	}
	return v.Objective + ": " + v.Measured() + ", " + verdict
}

// Measured is the measured value with its unit: "1.20ms", "0.50%",
// "4900/s"; the bare number when the objective does not parse.
func (v SLOVerdict) Measured() string {
	o, err := parseObjective(v.Objective)
	if err != nil {
		return strconv.FormatFloat(v.Value, 'g', 4, 64)
	}
	switch o.Metric {
	case "rate":
		return FormatRate(math.Round(v.Value*10) / 10)
	case "errors":
		return strconv.FormatFloat(100*v.Value/o.Unit, 'f', 2, 64) + "%"
	}
	return FormatMicros(v.Value * o.Unit)
}

// FormatMicros formats a time in microseconds with a unit that keeps
// three significant digits or so: "850µs", "1.25ms", "2.50s".
func FormatMicros(us float64) string {
	switch {
	case us < 999.5:
		return strconv.FormatFloat(us, 'g', 3, 64) + "µs"
	case us < 1_000_000:
		return strconv.FormatFloat(us/1e3, 'f', 2, 64) + "ms"
	}
	return strconv.FormatFloat(us/1e6, 'f', 2, 64) + "s"
}

// Breached returns the verdicts that were not met.
func Breached(vs []SLOVerdict) []SLOVerdict {
	var out []SLOVerdict
	for _, v := range vs {
		if !v.Met {
			out = append(out, v)
		}
	}
	return out
}
