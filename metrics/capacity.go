package metrics

import "github.com/prometheus/client_golang/prometheus"

var (
	stepDesc = prometheus.NewDesc("cvrswarm_capacity_step",
		"The capacity search's current step, from 1.", nil, nil)
	offeredDesc = prometheus.NewDesc("cvrswarm_capacity_offered_rate_per_second",
		"The rate the current step offers, per second, all shards together.", nil, nil)
	passedDesc = prometheus.NewDesc("cvrswarm_capacity_step_passed",
		"1 when the latest judged step passed, 0 when it failed.", nil, nil)
	bracketDesc = prometheus.NewDesc("cvrswarm_capacity_bracket_rate_per_second",
		"The search's bracket: the highest rate passed (bound low) and the lowest failed (bound high), per second.",
		[]string{"bound"}, nil)
)

// CapacityState is what the capacity metrics show of a search.
type CapacityState struct {
	Step    int     // the step running, or the last one run, from 1; 0 before the first
	Offered float64 // its offered rate, per second, all shards together
	Judged  bool    // a step has been judged: Passed holds its verdict
	Passed  bool    // the latest judged step passed
	// Low and High are the bracket: the highest rate passed and the
	// lowest failed, 0 while there is none.
	Low, High float64
}

// Capacity returns a collector of a capacity search's progress, which
// it reads from state at each scrape. The steps' load is [Load]'s.
func Capacity(state func() CapacityState) prometheus.Collector {
	return capacityCollector(state)
}

type capacityCollector func() CapacityState

func (c capacityCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{stepDesc, offeredDesc, passedDesc, bracketDesc} {
		ch <- d
	}
}

func (c capacityCollector) Collect(ch chan<- prometheus.Metric) {
	s := c()
	if s.Step == 0 {
		return
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	gauge(stepDesc, float64(s.Step))
	gauge(offeredDesc, s.Offered)
	if s.Judged {
		passed := 0.0
		if s.Passed {
			passed = 1
		}
		gauge(passedDesc, passed)
	}
	if s.Low > 0 {
		gauge(bracketDesc, s.Low, "low")
	}
	if s.High > 0 {
		gauge(bracketDesc, s.High, "high")
	}
}
