// Package metrics serves a running cvrswarm command's measurements to
// Prometheus: `-metrics-addr` on load, capacity, fuzz and serve. It is
// the one package that imports the Prometheus client library, and it sits
// above load, fuzz and msnp/refserver rather than inside any of them, so
// that none of them depends on it and each keeps its own figures as they
// are.
//
// Nothing here runs per request. Each collector reads, at scrape time,
// what the run already keeps: a [load.Monitor]'s cumulative counts and
// HDR histograms, a [fuzz.Fuzzer]'s progress, a refserver's counters.
// The HDR histograms stay the source of truth for the report; a scrape
// exports them as Prometheus histograms in seconds with both classic
// buckets and native (sparse, exponential) ones, to the HDR histograms'
// precision (three significant digits). A Prometheus that takes native
// histograms (--enable-feature=native-histograms before 3.0) stores
// only those: query cvrswarm_response_seconds itself there, as in
// histogram_quantile(0.99, sum(rate(cvrswarm_response_seconds[10s]))),
// not its _bucket series.
//
// Every series carries two labels, so that one query aggregates the
// shards of a run and tells runs apart:
//
//	run_id  the run's name, shared by its shards
//	shard   "2/8", or "1/1" for a run that is not split
//
// The series, with those labels left out:
//
//	cvrswarm_requests_total{outcome,kind}        counter: requests by outcome (the JSON's names), kind valid or mutated
//	cvrswarm_response_seconds                    histogram: from the due time to the reply (coordinated-omission safe)
//	cvrswarm_service_seconds                     histogram: from the send to the reply
//	cvrswarm_send_lag_seconds                    histogram: from the due time to the send (the generator's delay, a late request's wait)
//	cvrswarm_connections_open                    gauge
//	cvrswarm_requested_rate_per_second           gauge: this process's offered rate now (+Inf when unbounded)
//	cvrswarm_achieved_rate_per_second            gauge: requests completed in the latest whole second
//	cvrswarm_late_total                          counter: requests that found every connection busy when due
//	cvrswarm_unsent_total                        counter: requests due but never sent
//	cvrswarm_capacity_step                       gauge: the capacity search's current step, from 1
//	cvrswarm_capacity_offered_rate_per_second    gauge: the rate the current step offers (the whole run's)
//	cvrswarm_capacity_step_passed                gauge: 1 when the latest judged step passed, 0 when it failed
//	cvrswarm_capacity_bracket_rate_per_second{bound}  gauge: the highest rate passed (low) and lowest failed (high)
//	cvrswarm_fuzz_cases_total                    counter
//	cvrswarm_fuzz_findings{kind}                 gauge: distinct findings
//	cvrswarm_fuzz_hits_total{kind}               counter: cases that showed a finding
//	cvrswarm_fuzz_restarts_total                 counter: restarts of an -exec target
//	cvrswarm_server_connections_open             gauge: the reference server's
//	cvrswarm_server_connections_total{result}    counter: accepted, or refused past its connection limit
//	cvrswarm_server_requests_total{answer}       counter: CVR and CVQ requests by answer: ok, error (a code), none
//
// and the process's own (process_cpu_seconds_total and the others of
// the client library's process collector).
package metrics
