package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cvrswarm/cvrswarm/fuzz"
)

var (
	casesDesc = prometheus.NewDesc("cvrswarm_fuzz_cases_total",
		"Fuzz cases run.", nil, nil)
	findingsDesc = prometheus.NewDesc("cvrswarm_fuzz_findings",
		"Distinct findings (by signature), by kind.", []string{"kind"}, nil)
	hitsDesc = prometheus.NewDesc("cvrswarm_fuzz_hits_total",
		"Cases that showed a finding's signature, by the finding's kind.", []string{"kind"}, nil)
	restartsDesc = prometheus.NewDesc("cvrswarm_fuzz_restarts_total",
		"Restarts of the -exec target after it died.", nil, nil)
)

// Fuzz returns a collector of a fuzzing run, which it reads from
// progress (a [fuzz.Fuzzer]'s Progress) at each scrape. Every kind of
// finding has its series from the start, at 0 until one shows.
func Fuzz(progress func() fuzz.Progress) prometheus.Collector { return fuzzCollector(progress) }

type fuzzCollector func() fuzz.Progress

func (c fuzzCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{casesDesc, findingsDesc, hitsDesc, restartsDesc} {
		ch <- d
	}
}

func (c fuzzCollector) Collect(ch chan<- prometheus.Metric) {
	p := c()
	ch <- prometheus.MustNewConstMetric(casesDesc, prometheus.CounterValue, float64(p.Cases))
	for _, k := range fuzz.Kinds() {
		ch <- prometheus.MustNewConstMetric(findingsDesc, prometheus.GaugeValue, float64(p.ByKind[k]), string(k))
		ch <- prometheus.MustNewConstMetric(hitsDesc, prometheus.CounterValue, float64(p.HitsByKind[k]), string(k))
	}
	ch <- prometheus.MustNewConstMetric(restartsDesc, prometheus.CounterValue, float64(p.Restarts))
}
