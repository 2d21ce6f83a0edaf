package metrics

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cvrswarm/cvrswarm/load"
)

var (
	requestsDesc = prometheus.NewDesc("cvrswarm_requests_total",
		"Requests by outcome (named as in the result JSON) and kind (valid, or mutated).", []string{"outcome", "kind"}, nil)
	responseDesc = prometheus.NewDesc("cvrswarm_response_seconds",
		"Response time: from the request's due time to its reply, so that waiting for a busy connection counts.", nil, nil)
	serviceDesc = prometheus.NewDesc("cvrswarm_service_seconds",
		"Service time: from the request's send to its reply.", nil, nil)
	sendLagDesc = prometheus.NewDesc("cvrswarm_send_lag_seconds",
		"From the request's due time to its send: the generator's own delay, plus a late request's wait for a free connection.", nil, nil)
	openDesc = prometheus.NewDesc("cvrswarm_connections_open",
		"Connections open to the target.", nil, nil)
	requestedDesc = prometheus.NewDesc("cvrswarm_requested_rate_per_second",
		"The rate this process offers now, per second: +Inf when unbounded, 0 between runs.", nil, nil)
	achievedDesc = prometheus.NewDesc("cvrswarm_achieved_rate_per_second",
		"Requests completed in the latest whole second.", nil, nil)
	lateDesc = prometheus.NewDesc("cvrswarm_late_total",
		"Requests that found every connection busy at their due time.", nil, nil)
	unsentDesc = prometheus.NewDesc("cvrswarm_unsent_total",
		"Requests due but never sent before the run ended.", nil, nil)
)

// Load returns a collector of the runs mon watches (every step of a
// capacity search, when they share it). A scrape reads mon.Measurements,
// and nothing else, at most once a second: scrapes closer together get
// the same figures, so that however often the run is scraped, it pays
// for one reading a second.
func Load(mon *load.Monitor) prometheus.Collector {
	return &loadCollector{mon: mon, created: time.Now()}
}

// loadReadEvery is how often a load collector reads the run at most.
const loadReadEvery = time.Second

type loadCollector struct {
	mon     *load.Monitor
	created time.Time

	mu     sync.Mutex
	readAt time.Time           // when last was read
	last   []prometheus.Metric // the metrics of that reading
}

func (c *loadCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{requestsDesc, responseDesc, serviceDesc, sendLagDesc, openDesc, requestedDesc,
		achievedDesc, lateDesc, unsentDesc} {
		ch <- d
	}
}

func (c *loadCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last == nil || time.Since(c.readAt) >= loadReadEvery {
		c.last, c.readAt = c.read(), time.Now()
	}
	for _, m := range c.last {
		ch <- m
	}
}

// read returns the metrics of the monitor's figures now.
func (c *loadCollector) read() []prometheus.Metric {
	m := c.mon.Measurements()
	var out []prometheus.Metric
	add := func(d *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) {
		out = append(out, prometheus.MustNewConstMetric(d, t, v, labels...))
	}
	var unsent int64
	for _, k := range []struct {
		name     string
		outcomes load.Counts
	}{{"valid", m.ByKind.Valid}, {"mutated", m.ByKind.Mutated}} {
		for outcome, n := range k.outcomes {
			add(requestsDesc, prometheus.CounterValue, float64(n), outcome.String(), k.name)
		}
		unsent += k.outcomes[load.OutcomeUnsent]
	}
	if _, ok := m.ByKind.Valid[load.OutcomeOK]; !ok { // a series to take rates of from the start
		add(requestsDesc, prometheus.CounterValue, 0, load.OutcomeOK.String(), "valid")
	}
	out = append(out, histogram(responseDesc, m.Response, c.created), histogram(serviceDesc, m.Service, c.created),
		histogram(sendLagDesc, m.SendLag, c.created))
	add(openDesc, prometheus.GaugeValue, float64(m.Open))
	add(requestedDesc, prometheus.GaugeValue, m.Requested)
	add(achievedDesc, prometheus.GaugeValue, m.Achieved)
	add(lateDesc, prometheus.CounterValue, float64(m.Late))
	add(unsentDesc, prometheus.CounterValue, float64(unsent))
	return out
}
