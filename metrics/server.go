package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cvrswarm/cvrswarm/msnp/refserver"
)

var (
	serverOpenDesc = prometheus.NewDesc("cvrswarm_server_connections_open",
		"Connections the reference server is serving.", nil, nil)
	serverConnsDesc = prometheus.NewDesc("cvrswarm_server_connections_total",
		"Connections the reference server accepted, or refused past its connection limit.", []string{"result"}, nil)
	serverRequestsDesc = prometheus.NewDesc("cvrswarm_server_requests_total",
		"CVR and CVQ requests the reference server took after VER, by answer: ok (the version reply), error (a code), none (closed instead).",
		[]string{"answer"}, nil)
)

// Server returns a collector of what a reference server has served,
// read from its Stats at each scrape.
func Server(s *refserver.Server) prometheus.Collector { return serverCollector{s} }

type serverCollector struct{ s *refserver.Server }

func (c serverCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- serverOpenDesc
	ch <- serverConnsDesc
	ch <- serverRequestsDesc
}

func (c serverCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.Stats()
	ch <- prometheus.MustNewConstMetric(serverOpenDesc, prometheus.GaugeValue, float64(st.Open))
	for _, v := range []struct {
		desc  *prometheus.Desc
		n     int64
		label string
	}{
		{serverConnsDesc, st.Accepted, "accepted"}, {serverConnsDesc, st.Refused, "refused"},
		{serverRequestsDesc, st.OK, "ok"}, {serverRequestsDesc, st.Errors, "error"}, {serverRequestsDesc, st.Unanswered, "none"},
	} {
		ch <- prometheus.MustNewConstMetric(v.desc, prometheus.CounterValue, float64(v.n), v.label)
	}
}
