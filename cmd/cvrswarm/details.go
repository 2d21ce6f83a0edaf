package main

// What `cvrswarm COMMAND -h` says beyond the summary, the example and the
// flags: how to read a command's figures and verdicts, and how its runs
// combine. fuzzDetails is in fuzz.go.

const serveDetails = `It answers as a conforming server does: VER gets the highest dialect both sides
list ("VER n 0" and a close when none); a second VER gets 715 and a close; 420 (unknown
client version or library) and 710 (invalid locale) keep the connection open, 731 (malformed
CVR) closes it; a command out of context (CVR before VER, USR, INF, anything else) closes it
without a reply. -role ns takes CVR in every dialect; -role ds from MSNP8 on, and CVQ after a
"VER n CVR0" answer. A bare LF ends a line as CRLF does. Every rule, with transcripts:
'go doc github.com/cvrswarm/cvrswarm/msnp/refserver'.

Output: one line on stderr when it listens (address, role, dialects, and the capacity
-workers/-service-time gives it) and one when it has stopped; nothing on stdout. Ctrl-C
closes every connection and waits for each. Its own speed, against a canned-reply server:
go test -run '^$' -bench ServeRatio -count 5 ./msnp/refserver (the ratio column).
`

const loadDetails = `How it runs: an open model, as wrk2 and vegeta. A pacer (a token bucket following the
schedule) decides when each request is due, whatever the server does. When every connection is
busy at a due time another is opened, up to -max-conns; past that the request waits and counts as
late, its wait counting in its response time. Every due request ends with exactly one outcome. The
CVR lines are the corpus's requests of the dialect the server chose (or of the nearest one,
reshaped); a connection is replaced after any outcome but ok, and after every mutated request.

The figures: response runs from the due time to the reply (queueing counts: no coordinated
omission); service from the send (with -churn, from the connect); send lag from the due time to
the send, the generator's own delay plus, for a late request, its wait for a free connection;
connect and handshake (VER to its reply) are per connection.
Only answered requests count in the latencies. achieved counts well-formed replies (error codes
included) in the measured window. Histograms are HdrHistogram, 1us to 1h, 3 significant digits.

Outcomes (the keys of "outcomes" in the JSON):
  ok                 a well-formed CVR (or CVQ) reply carrying the request's TrID
  420, 710, 731, ..  a numeric error reply, each code its own key (to the CVR, or to the VER)
  ver0               the server accepts none of the offered dialects (VER n 0)
  silent / partial   no reply / part of a reply line within -timeout, the connection open
  closed / reset     the server closed / reset the connection before replying
  refused, dial_timeout, dial_error   the connect was refused, timed out, or failed otherwise
  no_fds / no_ports  out of file descriptors / local ports (load warns beforehand with the fix:
                     ulimit -n, net.ipv4.ip_local_port_range, or more machines with -shard)
  malformed          a reply that breaks the grammar; bare_lf: a good reply ended by LF alone
  unexpected         a well-formed reply that does not answer the request
  trid_mismatch      a reply with another TrID than the request's
  line_too_long      a reply line longer than -max-line
  io_error           another read or write error
  aborted            in flight on a pipelined connection given up after another's bad reply
  unsent             due, but every connection stayed busy until the run ended
  interrupted        in flight when Ctrl-C stopped the run

-slo: objectives separated by commas, each METRIC<VALUE (or <=, >, >=): pN any percentile of
the response time (p50, p99, p99.9 or p999), max, mean (Go durations: 20ms, 1.5s), errors (the
share of valid, unmutated requests not ok: 1% or 0.01), rate (the achieved rate: 4900 or 4900/s).
A breach exits with status 3; a run in which no request got a well-formed reply exits 1, naming
the commonest outcome. Ctrl-C once stops the run and still writes every file, marked partial.

Shards: -shard i/n makes this process offer exactly its share of the rate, connections and TrIDs;
-start-at (RFC 3339, the same for every shard) starts them together, so clocks must agree (NTP).
Without -shard, JOB_COMPLETION_INDEX (from 0) and CVRSWARM_SHARDS give the shard, as in a pod.
'cvrswarm merge' combines their -json files.

CPU: the generator runs on every CPU the Go runtime sees. When the server shares the machine, run
it with GOMAXPROCS=1 (an environment variable): the same rate then costs it a sixth to a quarter
less CPU per request, since no idle thread is woken for each reply. Each wake-up of the sender
costs far more than a write: -batch-window sets how often it may wake. Requests due closer
together than that go out together, up to the window late. On two cores at 50,000/s, 1ms in
place of 200µs halves the CPU per request (13 to 6.5µs) and adds about 0.5ms of send lag,
which is in every response time; below one request per window each still goes out on time.
Each wake-up sends rate x window requests at once, which need as many free places in flight
(-conns x -depth): with too few, requests count late and connections are opened for them.

-json (format version 1): version, target, embedded, partial, shard, start, duration_s, requests,
rate.requested and rate.achieved, late, latency_us, service_us, send_lag_us, connect_us and
handshake_us (count, p50, p90, p99, p999, max, mean), outcomes and outcomes_by_kind (valid,
mutated), connections (opened, max_open, failed, dropped), histograms (HdrHistogram V2, base64:
they merge exactly), series (one entry a wall-clock second), settings (the whole run's flags) and
slo (the verdicts).
-hdr-log is in ns, as the HdrHistogram tools assume (HistogramLogProcessor shows it in ms).
`

const checkDetails = `Each rule is one scripted exchange on a fresh connection; -list prints them, with what
they send and expect and the section of msnp/PROTOCOL.md each comes from. They cover VER
negotiation, the CVR examples (420, 710, 731 and the close after it), TrID echo, which role takes
CVR in which dialect, CVQ after CVR0, framing (CRLF, bare LF, empty lines, pipelining) and, last,
an over-long line and binary garbage.

Verdicts: pass; fail; warn where real servers commonly differ from the spec (no 420, 710 or 731,
no close after 731), which -strict turns into failures; skip, with the reason. A reply with
another TrID than the request fails whatever the rule. What came back is the reply lines and how
the connection ended: closed, reset, open (no close where one was expected) or silent. A rule
that does not pass is followed by its whole exchange (sent, want, got, why); -v shows every
rule's. After every rule the check makes sure the target still answers a valid VER and CVR: a
target that stopped fails the rule after which it stopped, and the rules after it are skipped.

Exit status: 0 when no rule fails; 1 when one does, when fewer than half of the role's rules could
run (inconclusive), when the target answers no VER, or on Ctrl-C (the rules run so far are still
reported); 2 for a bad flag.
`

const capacityDetails = `The search: a constant rate for -warm-up, then a measured -dwell, judged; the rate doubles
(-growth) from -start until a step fails (or halves until one passes), then bisects between the
highest rate passed and the lowest failed until they are within -precision. A step fails when an
-slo objective is breached or when its achieved rate, or its rate of CVR replies, falls more than
-tolerance short of the offered rate. A failed rate is run again up to -retries times, the majority
deciding, unless it fell twice -tolerance short and is in line with the steps before it; the
reruns lines say which rates were run again and why. Without -target the embedded server gets
-workers workers of -service-time each (8 of 2ms: 4000 CVR/s).

Exit status: 0 converged; 4 not converged (-max-steps, every rate passed up to -max, none passed,
or Ctrl-C; the best bracket is still reported); 1 on errors; 2 on bad flags.

Reading it: the achieved rate is counted to the last reply, so 100ms replies on a 3s dwell lose
about 3%: keep -tolerance above that. On a busy load generator a step near the knee can fail by
chance; a longer -dwell and -retries even that out.

Over several machines: the same flags on each but -shard i/n, with -start-at and a -sync-dir they
all share. At each step every shard offers its share, writes its result to the folder, waits for
the others' (-sync-timeout), merges them and judges the merged step, so all report the same steps
and capacity; the next step starts -sync-gap after the last result. The folder keeps every result,
named capacity-<start unix time>-step-NNNN-shard-IofN.json, which merge and report read. A shard
that fails leaves a .failed note and the others stop, naming it.
`

const mergeDetails = `The merged figures: counts (requests, late, outcomes, connections) are the shards' sums;
max open is the sum of their maxima, an upper bound. Histograms merge bucket by bucket, so every
percentile is what one process sending every request would report. The per-second series are
aligned on wall-clock seconds, which is why shards must start together. achieved is the requests
all shards got answered over the union of their spans. The result is partial if any shard was.
The runs' -slo objectives are judged again on the merged result.

merge refuses files of different targets or settings, naming every difference (-force merges them,
keeping the first file's settings), and always the same shard twice. A missing shard, or runs that
did not overlap in time, is a warning on stderr, and the figures cover only the files given.
`

const k8sDetails = `The manifest: an Indexed Job of -shards pods, each running 'cvrswarm load' with the other
flags given (checked here as load checks them), CVRSWARM_SHARDS, a shared -start-at (-start-in from
now) and -json /results/shard-$(JOB_COMPLETION_INDEX).json; and a ReadWriteMany claim NAME-results
mounted on /results. Pods never restart: a shard started after the shared time would refuse to run,
so a failed shard fails the Job. -target is required; -slo belongs to the merge Job.

  KO_DOCKER_REPO=ghcr.io/you/cvrswarm ko build --bare ./cmd/cvrswarm
  cvrswarm k8s -shards 8 -image ghcr.io/you/cvrswarm -target host:1863 -rate 80000/s -duration 5m > job.yaml
  kubectl apply -f job.yaml          # within -start-in of running cvrswarm k8s
  kubectl wait --for=condition=complete --timeout=15m job/cvrswarm
  cvrswarm k8s -shards 8 -image ghcr.io/you/cvrswarm -merge -slo 'p99<20ms' | kubectl apply -f -
  kubectl wait --for=condition=complete --timeout=5m job/cvrswarm-merge
  kubectl logs job/cvrswarm-merge    # the merged report; merged.json is on the claim

A Job that fails never becomes complete: 'kubectl logs -l app.kubernetes.io/instance=cvrswarm'
shows why. To merge elsewhere, copy /results out through a pod mounting the claim (kubectl cp);
shard-0.json holds shard 1/N.
`

const reportDetails = `It tells load, capacity, fuzz and merge results apart by their keys and draws the charts again
from the histograms and per-second series the JSON carries. -html writes one self-contained page
(inline SVG, no scripts, nothing fetched); -png DIR writes the charts as 864x432 PNG files:
  load      latency-percentiles.png (response and service time by percentile), rate.png
            (requested vs achieved per second), latency-over-time.png, outcomes.png
  capacity  capacity-latency.png, capacity-throughput.png (achieved vs offered, the knee),
            capacity-steps.png
  fuzz      fuzz-rate.png (cases per second), fuzz-findings.png (distinct findings so far)
load, capacity, fuzz and merge take the same -html and -png flags.
`
