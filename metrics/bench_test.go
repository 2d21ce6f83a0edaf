package metrics_test

import (
	"context"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/cvrswarm/cvrswarm/load"
	"github.com/cvrswarm/cvrswarm/metrics"
)

// benchScrapeEvery is how often the scraped runs of BenchmarkRunScraped
// are scraped: ten times as often as a fast Prometheus job would.
const benchScrapeEvery = 100 * time.Millisecond

// BenchmarkRunScraped compares load runs at -rate inf with and without
// an exporter being scraped, in alternating rounds against the same
// canned server, so that noise from a shared machine falls on both
// alike: "plain-req/s" and "scraped-req/s" are their throughputs, and
// "ratio" the second over the first (the goal: at least 0.95). Each
// iteration is one request of each.
func BenchmarkRunScraped(b *testing.B) {
	for _, bc := range []struct {
		name         string
		conns, depth int
		minPerRound  int64 // requests, enough for a round to last about a second
	}{{"conns64", 64, 1, 20_000}, {"conns64-depth16", 64, 16, 300_000}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			addr := canned(b)
			const rounds = 10
			per := max(int64(b.N)/rounds, bc.minPerRound)
			var plainTime, scrapedTime float64 // seconds for per requests, summed
			var scrapes int
			for range rounds {
				cfg := load.Config{Target: addr, Schedule: load.Unbounded(), Requests: per, Conns: bc.conns, Depth: bc.depth}
				plainTime += float64(per) / benchRun(b, cfg)
				var mon load.Monitor
				cfg.Monitor = &mon
				x, err := metrics.Listen("127.0.0.1:0", metrics.Labels{RunID: "bench"}, metrics.Load(&mon))
				if err != nil {
					b.Fatal(err)
				}
				stop := scrapeEvery(b, x, benchScrapeEvery, &scrapes)
				scrapedTime += float64(per) / benchRun(b, cfg)
				stop()
				x.Close()
			}
			plain, scraped := float64(rounds*per)/plainTime, float64(rounds*per)/scrapedTime
			b.ReportMetric(plain, "plain-req/s")
			b.ReportMetric(scraped, "scraped-req/s")
			b.ReportMetric(scraped/plain, "ratio")
			b.ReportMetric(float64(scrapes)/rounds, "scrapes/round")
		})
	}
}

func benchRun(b *testing.B, cfg load.Config) float64 {
	r, err := load.Run(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	if r.Outcomes[load.OutcomeOK] != cfg.Requests {
		b.Fatalf("got outcomes %v, want %d ok", r.Outcomes, cfg.Requests)
	}
	return r.Rate.Achieved
}

// scrapeEvery scrapes x every d, counting the scrapes, until stop.
func scrapeEvery(b *testing.B, x *metrics.Exporter, d time.Duration, scrapes *int) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 5 * time.Second}
	wg.Go(func() {
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			resp, err := client.Get("http://" + x.Addr() + metrics.Path)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			*scrapes++
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	return func() { close(done); wg.Wait(); client.CloseIdleConnections() }
}
