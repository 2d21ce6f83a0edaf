package main

import (
	"cmp"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cvrswarm/cvrswarm/load"
	"github.com/cvrswarm/cvrswarm/metrics"
)

// metricsFlags are -metrics-addr and -run-id, which load, capacity, fuzz
// and serve share.
type metricsFlags struct {
	addr, runID string
}

func (f *metricsFlags) bind(fs *flag.FlagSet) {
	fs.StringVar(&f.addr, "metrics-addr", "", "serve Prometheus metrics at http://`host:port`/metrics while the command runs (no host: 127.0.0.1; default: none)")
	fs.StringVar(&f.runID, "run-id", "", "with -metrics-addr: the run_id label of every series (default: -start-at when given, which the shards of a run share, else the start time)")
}

// check refuses -run-id without -metrics-addr, where it would label nothing.
func (f *metricsFlags) check() error {
	if f.runID != "" && f.addr == "" {
		return badFlag("run-id", "labels the metrics: give -metrics-addr too")
	}
	return nil
}

// serve starts serving the collectors' metrics when -metrics-addr asks
// for it, labelled with the run id and shard, and says where on stderr
// as the named command; stop stops it. startAt is the run's shared
// start, zero for none. An address that cannot be bound is bad input
// naming the flag.
func (f *metricsFlags) serve(name string, stderr io.Writer, shard load.Shard, startAt time.Time, cs ...prometheus.Collector) (stop func(), err error) {
	if f.addr == "" {
		return func() {}, nil
	}
	runID := f.runID
	if runID == "" {
		runID = cmp.Or(startAt, time.Now()).UTC().Format(time.RFC3339)
	}
	x, err := metrics.Listen(f.addr, metrics.Labels{RunID: runID, Shard: shard.String()}, cs...)
	if err != nil {
		return nil, &flagError{Flag: "metrics-addr", Err: err}
	}
	fmt.Fprintf(stderr, "cvrswarm %s: metrics at http://%s%s (run_id %q)\n", name, x.Addr(), metrics.Path, runID)
	return func() { x.Close() }, nil
}
