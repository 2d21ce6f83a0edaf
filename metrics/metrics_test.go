package metrics_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"go.uber.org/goleak"

	"github.com/cvrswarm/cvrswarm/fuzz"
	"github.com/cvrswarm/cvrswarm/load"
	"github.com/cvrswarm/cvrswarm/metrics"
	"github.com/cvrswarm/cvrswarm/msnp/msnptest"
	"github.com/cvrswarm/cvrswarm/msnp/refserver"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// canned starts the canned test server for the test.
func canned(t testing.TB) string {
	t.Helper()
	srv, err := msnptest.NewCanned()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv.Addr()
}

// runLoad runs n requests against addr, watched by mon.
func runLoad(t testing.TB, addr string, mon *load.Monitor, n int64) *load.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r, err := load.Run(ctx, load.Config{Target: addr, Schedule: load.Constant(5000), Requests: n, Conns: 4, Monitor: mon})
	if err != nil {
		t.Fatal(err)
	}
	if r.Outcomes[load.OutcomeOK] != n {
		t.Fatalf("got outcomes %v, want %d ok", r.Outcomes, n)
	}
	return r
}

// listen starts an exporter of cs on a free loopback port for the test.
func listen(t testing.TB, labels metrics.Labels, cs ...prometheus.Collector) *metrics.Exporter {
	t.Helper()
	x, err := metrics.Listen("127.0.0.1:0", labels, cs...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := x.Close(); err != nil {
			t.Error(err)
		}
	})
	return x
}

// scrape reads the exporter's metrics as a scraper that takes native
// histograms does (protobuf), or as text.
func scrape(t testing.TB, x *metrics.Exporter, protobuf bool) (families map[string]*dto.MetricFamily, body []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", "http://"+x.Addr()+metrics.Path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if protobuf {
		req.Header.Set("Accept", string(expfmt.NewFormat(expfmt.TypeProtoDelim)))
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s, %v", req.URL, resp.Status, err)
	}
	families = map[string]*dto.MetricFamily{}
	dec := expfmt.NewDecoder(bytes.NewReader(body), expfmt.ResponseFormat(resp.Header))
	for {
		var mf dto.MetricFamily
		if err := dec.Decode(&mf); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decoding the scrape: %v", err)
		}
		families[mf.GetName()] = &mf
	}
	return families, body
}

func labelsOf(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, p := range m.GetLabel() {
		out[p.GetName()] = p.GetValue()
	}
	return out
}

// TestExporterServesARun scrapes a finished run in both formats: every
// series carries the run id and the shard, the counts are the run's, and
// the histograms carry classic and native buckets.
func TestExporterServesARun(t *testing.T) {
	t.Parallel()
	var mon load.Monitor
	x := listen(t, metrics.Labels{RunID: "soak-7", Shard: "2/8"}, metrics.Load(&mon))
	r := runLoad(t, canned(t), &mon, 200)
	for _, protobuf := range []bool{false, true} {
		families, _ := scrape(t, x, protobuf)
		for name, mf := range families {
			for _, m := range mf.GetMetric() {
				if l := labelsOf(m); l["run_id"] != "soak-7" || l["shard"] != "2/8" {
					t.Errorf("protobuf %v: %s%v lacks run_id soak-7 and shard 2/8", protobuf, name, l)
				}
			}
		}
		reqs := families["cvrswarm_requests_total"].GetMetric()
		if len(reqs) != 1 || reqs[0].GetCounter().GetValue() != 200 || labelsOf(reqs[0])["outcome"] != "ok" || labelsOf(reqs[0])["kind"] != "valid" {
			t.Errorf("protobuf %v: got requests %v, want 200 ok valid", protobuf, reqs)
		}
		for _, name := range []string{"cvrswarm_response_seconds", "cvrswarm_service_seconds", "cvrswarm_send_lag_seconds"} {
			h := families[name].GetMetric()[0].GetHistogram()
			onTime := name == "cvrswarm_send_lag_seconds" // a request sent on time adds 0 to the sum
			if h.GetSampleCount() != 200 || len(h.GetBucket()) == 0 || (h.GetSampleSum() <= 0 && !onTime) {
				t.Errorf("protobuf %v: %s: got count %d, %d classic buckets, sum %v; want 200, some, > 0",
					protobuf, name, h.GetSampleCount(), len(h.GetBucket()), h.GetSampleSum())
			}
			if protobuf && (h.GetSchema() != 3 || len(h.GetPositiveSpan()) == 0) {
				t.Errorf("%s: got schema %d, spans %v; want native buckets of schema 3", name, h.GetSchema(), h.GetPositiveSpan())
			}
		}
		if got := families["cvrswarm_response_seconds"].GetMetric()[0].GetHistogram().GetSampleSum(); math.Abs(got-r.Latency.Mean*200/1e6) > 0.01*got {
			t.Errorf("protobuf %v: got response sum %vs, want about the result's mean times 200, %vs", protobuf, got, r.Latency.Mean*200/1e6)
		}
		if families["process_cpu_seconds_total"] == nil && len(families) < 9 {
			t.Errorf("protobuf %v: got families %v, want the process's too", protobuf, families)
		}
	}
}

// TestScrapesAtOnce gathers a run's metrics from several goroutines at
// once, as scrapes that overlap do: they share one reading (a data race
// is the failure, under -race).
func TestScrapesAtOnce(t *testing.T) {
	t.Parallel()
	var mon load.Monitor
	runLoad(t, canned(t), &mon, 50)
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.Load(&mon))
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 10 {
				families, err := reg.Gather()
				if err != nil || len(families) == 0 {
					t.Errorf("got %d families, %v", len(families), err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestHistogramBuckets checks the classic and the native buckets of
// values in microseconds against the bounds they must fall within.
func TestHistogramBuckets(t *testing.T) {
	t.Parallel()
	values := []int64{0, 5, 15, 1000, 1500, 2_000_000, 20_000_000} // µs; the last above every classic bound
	h := load.NewHistogram()
	for _, v := range values {
		h.RecordValue(v)
	}
	m := metrics.ExportHistogram(h)
	var out dto.Metric
	if err := m.Write(&out); err != nil {
		t.Fatal(err)
	}
	hist := out.GetHistogram()
	if hist.GetSampleCount() != uint64(len(values)) || math.Abs(hist.GetSampleSum()-22.002520) > 0.02 {
		t.Errorf("got count %d sum %v, want %d and 22.00252", hist.GetSampleCount(), hist.GetSampleSum(), len(values))
	}
	want := map[float64]uint64{1e-5: 2, 1.25e-5: 2, 1.5e-5: 3, 8e-4: 3, 1e-3: 4, 1.5e-3: 5, 1.5: 5, 2: 6, 10: 6}
	for _, b := range hist.GetBucket() {
		if n, ok := want[b.GetUpperBound()]; ok && b.GetCumulativeCount() != n {
			t.Errorf("bucket le=%v: got %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), n)
		}
		delete(want, b.GetUpperBound())
	}
	if len(want) > 0 {
		t.Errorf("no buckets with bounds %v", want)
	}
	// native: one zero, and each other value in the bucket whose bounds
	// hold it: bucket i holds (2^((i-1)/8), 2^(i/8)]
	if hist.GetZeroCount() != 1 {
		t.Errorf("got zero bucket %d, want 1", hist.GetZeroCount())
	}
	var idx, count int64
	var got []int64 // bucket index per value, in order
	for _, span := range hist.GetPositiveSpan() {
		idx += int64(span.GetOffset())
		for range span.GetLength() {
			got = append(got, idx)
			idx++
		}
	}
	deltas := hist.GetPositiveDelta()
	if len(deltas) != len(got) || len(got) != len(values)-1 {
		t.Fatalf("got native buckets %v with deltas %v, want one per non-zero value", got, deltas)
	}
	for i, v := range values[1:] {
		count += deltas[i]
		s := float64(v) / 1e6
		lo, hi := math.Exp2(float64(got[i]-1)/8), math.Exp2(float64(got[i])/8)
		if count != 1 || !(lo < s*1.0001 && s <= hi*1.0001) {
			t.Errorf("value %vs: in bucket %d (%v, %v] with count %d, want it within, alone", s, got[i], lo, hi, count)
		}
	}
}

// TestLint lints every collector's names, help, labels and types, with
// the client library's linter and, where it is installed, promtool.
func TestLint(t *testing.T) {
	t.Parallel()
	var mon load.Monitor
	runLoad(t, canned(t), &mon, 50)
	srv, err := refserver.Listen("127.0.0.1:0", refserver.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	capacity := metrics.Capacity(func() metrics.CapacityState {
		return metrics.CapacityState{Step: 4, Offered: 4000, Judged: true, Low: 2000, High: 4000}
	})
	fuzzing := metrics.Fuzz(func() fuzz.Progress {
		return fuzz.Progress{Cases: 900, ByKind: map[fuzz.Kind]int{fuzz.KindHang: 1}, HitsByKind: map[fuzz.Kind]int{fuzz.KindHang: 4}}
	})
	collectors := map[string]prometheus.Collector{"load": metrics.Load(&mon), "capacity": capacity, "server": metrics.Server(srv),
		"fuzz": fuzzing}
	for name, c := range collectors {
		problems, err := testutil.CollectAndLint(c)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, p := range problems {
			t.Errorf("%s: %s: %s", name, p.Metric, p.Text)
		}
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Log("promtool is not installed: linted with the client library alone")
		return
	}
	x := listen(t, metrics.Labels{RunID: "lint"}, collectors["load"], capacity, collectors["server"], fuzzing)
	_, body := scrape(t, x, false)
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

func TestCapacityState(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		state metrics.CapacityState
		want  string
	}{
		{"before the first step", metrics.CapacityState{}, ""},
		{"first step running", metrics.CapacityState{Step: 1, Offered: 500}, `
# HELP cvrswarm_capacity_offered_rate_per_second The rate the current step offers, per second, all shards together.
# TYPE cvrswarm_capacity_offered_rate_per_second gauge
cvrswarm_capacity_offered_rate_per_second 500
# HELP cvrswarm_capacity_step The capacity search's current step, from 1.
# TYPE cvrswarm_capacity_step gauge
cvrswarm_capacity_step 1
`},
		{"a failure bisected", metrics.CapacityState{Step: 5, Offered: 3000, Judged: true, Passed: false, Low: 2000, High: 4000}, `
# HELP cvrswarm_capacity_bracket_rate_per_second The search's bracket: the highest rate passed (bound low) and the lowest failed (bound high), per second.
# TYPE cvrswarm_capacity_bracket_rate_per_second gauge
cvrswarm_capacity_bracket_rate_per_second{bound="high"} 4000
cvrswarm_capacity_bracket_rate_per_second{bound="low"} 2000
# HELP cvrswarm_capacity_offered_rate_per_second The rate the current step offers, per second, all shards together.
# TYPE cvrswarm_capacity_offered_rate_per_second gauge
cvrswarm_capacity_offered_rate_per_second 3000
# HELP cvrswarm_capacity_step The capacity search's current step, from 1.
# TYPE cvrswarm_capacity_step gauge
cvrswarm_capacity_step 5
# HELP cvrswarm_capacity_step_passed 1 when the latest judged step passed, 0 when it failed.
# TYPE cvrswarm_capacity_step_passed gauge
cvrswarm_capacity_step_passed 0
`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := metrics.Capacity(func() metrics.CapacityState { return tc.state })
			if err := testutil.CollectAndCompare(c, strings.NewReader(tc.want)); err != nil {
				t.Error(err)
			}
			if n := testutil.CollectAndCount(c); tc.want == "" && n != 0 {
				t.Errorf("got %d series, want none", n)
			}
		})
	}
}

// TestServerCounts reads a reference server's counters after one VER
// and one CVR on a connection left open.
func TestServerCounts(t *testing.T) {
	t.Parallel()
	srv, err := refserver.Listen("127.0.0.1:0", refserver.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c, err := net.DialTimeout("tcp", srv.Addr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write([]byte("VER 1 MSNP8 CVR0\r\nCVR 2 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS example@hotmail.com\r\n"))
	var got []byte
	for buf := make([]byte, 512); bytes.Count(got, []byte("\r\n")) < 2; {
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("got %q, then %v", got, err)
		}
		got = append(got, buf[:n]...)
	}
	want := `
# HELP cvrswarm_server_connections_open Connections the reference server is serving.
# TYPE cvrswarm_server_connections_open gauge
cvrswarm_server_connections_open 1
# HELP cvrswarm_server_connections_total Connections the reference server accepted, or refused past its connection limit.
# TYPE cvrswarm_server_connections_total counter
cvrswarm_server_connections_total{result="accepted"} 1
cvrswarm_server_connections_total{result="refused"} 0
# HELP cvrswarm_server_requests_total CVR and CVQ requests the reference server took after VER, by answer: ok (the version reply), error (a code), none (closed instead).
# TYPE cvrswarm_server_requests_total counter
cvrswarm_server_requests_total{answer="error"} 0
cvrswarm_server_requests_total{answer="none"} 0
cvrswarm_server_requests_total{answer="ok"} 1
`
	if err := testutil.CollectAndCompare(metrics.Server(srv), strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}

// TestFuzzProgress checks the fuzz metrics of a run with two hangs (one
// signature) and a restart of its target: every kind has its series.
func TestFuzzProgress(t *testing.T) {
	t.Parallel()
	c := metrics.Fuzz(func() fuzz.Progress {
		return fuzz.Progress{Cases: 1234, Findings: 1, Hits: 2, ByKind: map[fuzz.Kind]int{fuzz.KindHang: 1},
			HitsByKind: map[fuzz.Kind]int{fuzz.KindHang: 2}, Restarts: 1}
	})
	var want strings.Builder
	want.WriteString(`
# HELP cvrswarm_fuzz_cases_total Fuzz cases run.
# TYPE cvrswarm_fuzz_cases_total counter
cvrswarm_fuzz_cases_total 1234
# HELP cvrswarm_fuzz_restarts_total Restarts of the -exec target after it died.
# TYPE cvrswarm_fuzz_restarts_total counter
cvrswarm_fuzz_restarts_total 1
# HELP cvrswarm_fuzz_findings Distinct findings (by signature), by kind.
# TYPE cvrswarm_fuzz_findings gauge
`)
	for _, k := range fuzz.Kinds() {
		fmt.Fprintf(&want, "cvrswarm_fuzz_findings{kind=%q} %d\n", k, map[bool]int{true: 1}[k == fuzz.KindHang])
	}
	want.WriteString("# HELP cvrswarm_fuzz_hits_total Cases that showed a finding's signature, by the finding's kind.\n# TYPE cvrswarm_fuzz_hits_total counter\n")
	for _, k := range fuzz.Kinds() {
		fmt.Fprintf(&want, "cvrswarm_fuzz_hits_total{kind=%q} %d\n", k, map[bool]int{true: 2}[k == fuzz.KindHang])
	}
	if err := testutil.CollectAndCompare(c, strings.NewReader(want.String())); err != nil {
		t.Error(err)
	}
}

func TestListenRefusesBadAddresses(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for _, addr := range []string{"", "9464", "127.0.0.1", taken.Addr().String(), "256.0.0.1:0"} {
		if x, err := metrics.Listen(addr, metrics.Labels{RunID: "r"}); err == nil {
			x.Close()
			t.Errorf("Listen(%q): no error", addr)
		}
	}
	if _, err := metrics.Listen("127.0.0.1:0", metrics.Labels{}); err == nil {
		t.Error("Listen without a run id: no error")
	}
	x, err := metrics.Listen(":0", metrics.Labels{RunID: "r"})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if !strings.HasPrefix(x.Addr(), "127.0.0.1:") {
		t.Errorf("Listen(\":0\") bound %s, want 127.0.0.1", x.Addr())
	}
}
