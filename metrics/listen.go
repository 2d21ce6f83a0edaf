package metrics

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Path is where [Listen] serves the metrics.
const Path = "/metrics"

// Labels name the process's series: every series carries both.
type Labels struct {
	RunID string // the run's name, the same in each of its shards
	Shard string // "2/8"; "" means "1/1", a run that is not split
}

// Exporter serves metrics over HTTP from [Listen] until [Exporter.Close].
type Exporter struct {
	ln   net.Listener
	srv  *http.Server
	wg   sync.WaitGroup
	addr string
}

// Listen binds addr, "host:port" (no host means 127.0.0.1: the metrics
// reach other machines only when asked, as with "0.0.0.0:9464"), and
// serves the collectors at [Path] in the background, with the process's
// own metrics, every series labelled with labels. A bad address or a
// port already taken fails here, before the run.
func Listen(addr string, labels Labels, cs ...prometheus.Collector) (*Exporter, error) {
	if labels.RunID == "" {
		return nil, errors.New("no run id")
	}
	if labels.Shard == "" {
		labels.Shard = "1/1"
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("%q: want host:port", addr)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	reg := prometheus.NewRegistry()
	wrapped := prometheus.WrapRegistererWith(prometheus.Labels{"run_id": labels.RunID, "shard": labels.Shard}, reg)
	for _, c := range append(cs, collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})) {
		if err := wrapped.Register(c); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, port))
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	// The run's CPU is the scarce thing here, not the network: two
	// scrapes at once at most, and no compression.
	mux.Handle(Path, promhttp.HandlerFor(reg, promhttp.HandlerOpts{MaxRequestsInFlight: 2, Timeout: 10 * time.Second,
		DisableCompression: true}))
	x := &Exporter{ln: ln, addr: ln.Addr().String(),
		srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}}
	x.wg.Go(func() { x.srv.Serve(ln) })
	return x, nil
}

// Addr returns the address the exporter listens on ("127.0.0.1:9464").
func (x *Exporter) Addr() string { return x.addr }

// Close stops serving, closes every connection and waits for the
// server to return.
func (x *Exporter) Close() error {
	err := x.srv.Close()
	x.wg.Wait()
	if err != nil {
		return err
	}
	return nil
}
