package load

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/cvrswarm/cvrswarm/corpus"
)

// ResultVersion is the version of the JSON result format; readers refuse
// a file of another version.
const ResultVersion = 1

// Histogram geometry shared by every recorder: microseconds from 1 µs to
// one hour, 3 significant digits. Histograms merge only when they share it.
const (
	HistogramLowest  = 1
	HistogramHighest = int64(time.Hour / time.Microsecond)
	HistogramDigits  = 3
)

// NewHistogram returns an empty histogram of the shared geometry.
func NewHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(HistogramLowest, HistogramHighest, HistogramDigits)
}

// Result is what one load run measured, as -json writes it. It carries
// everything needed to print the report again, draw its charts, and merge
// it exactly with the results of other shards: the full histograms, the
// outcome counts, a per-second series and the settings.
type Result struct {
	Version  int    `json:"version"`
	Target   string `json:"target"`
	Embedded bool   `json:"embedded"` // the target was the in-process reference server
	Partial  bool   `json:"partial"`  // the run was interrupted
	Shard    string `json:"shard,omitempty"`
	// Merged lists the runs a merged result combines (see [Merge]); it is
	// empty for the result of a single run.
	Merged    []MergedRun `json:"merged,omitempty"`
	Start     time.Time   `json:"start"`
	DurationS float64     `json:"duration_s"`
	// End is when the run stopped, once its last reply came or it was
	// interrupted: at or after the end of the measured window, Start plus
	// DurationS. A merged result's is the latest of its runs'.
	End time.Time `json:"end,omitzero"`
	// Requests counts every request that was due, each exactly once in Outcomes.
	Requests int64 `json:"requests"`
	Rate     Rate  `json:"rate"`
	Late     int64 `json:"late"` // requests sent after their due time for want of a free connection
	// Latency is the response time from the due time of the requests
	// that were answered (any reply, malformed included): its Count says
	// how many. Requests that waited for nothing (refused, reset, closed,
	// unsent) and those that timed out (silent, partial) are left out.
	Latency Summary `json:"latency_us"`
	Service Summary `json:"service_us"` // of the same requests, from the actual send
	// SendLag runs from each request's due time to its actual send (for
	// churn, to the start of its connect), for every request sent,
	// answered or not: the part of Latency that Service lacks. It is the
	// generator's own delay, and, for a request that found every
	// connection busy (see Late), its wait for one as well.
	SendLag   Summary `json:"send_lag_us"`
	Connect   Summary `json:"connect_us"`   // TCP connect, per connection
	Handshake Summary `json:"handshake_us"` // VER exchange, per connection
	Outcomes  Counts  `json:"outcomes"`
	// FirstErrors holds, for each outcome but ok, the first error text
	// seen: the error or the reply line (quoted) that gave it, or what the
	// outcome means when it comes with neither (unsent, aborted).
	FirstErrors map[Outcome]string `json:"first_errors,omitempty"`
	ByKind      OutcomesByKind     `json:"outcomes_by_kind"`
	Connections Connections        `json:"connections"`
	Histograms  Histograms         `json:"histograms"`
	Series      []Second           `json:"series"`
	Settings    Settings           `json:"settings"`
	SLO         []SLOVerdict       `json:"slo,omitempty"`
}

// Rate is the offered and the achieved request rate per second. Requested
// is 0 for an unbounded rate ("inf"). Achieved counts the requests the
// server answered with a well-formed reply (error codes included) within
// the measured window: malformed replies, and refused, reset, closed,
// silent and unsent requests, do not.
type Rate struct {
	Requested float64 `json:"requested"`
	Achieved  float64 `json:"achieved"`
}

// Summary holds the usual percentiles of one histogram, in microseconds.
type Summary struct {
	Count int64   `json:"count"`
	P50   int64   `json:"p50"`
	P90   int64   `json:"p90"`
	P99   int64   `json:"p99"`
	P999  int64   `json:"p999"`
	Max   int64   `json:"max"`
	Mean  float64 `json:"mean"`
}

// Summarize reads the summary off a histogram.
func Summarize(h *hdrhistogram.Histogram) Summary {
	if h == nil || h.TotalCount() == 0 {
		return Summary{}
	}
	return Summary{
		Count: h.TotalCount(),
		P50:   h.ValueAtQuantile(50), P90: h.ValueAtQuantile(90), P99: h.ValueAtQuantile(99),
		P999: h.ValueAtQuantile(99.9), Max: h.Max(), Mean: h.Mean(),
	}
}

// OutcomesByKind splits the outcome counts between requests drawn from
// the valid corpus and those sent mutated.
type OutcomesByKind struct {
	Valid   Counts `json:"valid"`
	Mutated Counts `json:"mutated"`
}

// Connections counts the connections a run opened.
type Connections struct {
	Opened  int64 `json:"opened"`
	MaxOpen int64 `json:"max_open"`
	// Failed counts connects and VER handshakes that failed, by outcome
	// name in Failures (a failure while serving a request also counts in
	// that request's outcome).
	Failed   int64  `json:"failed"`
	Failures Counts `json:"failures"`
	// Dropped counts connections closed by cvrswarm after an abnormal
	// outcome, a mutated request, or finding them closed by the server
	// while idle: their state was unknown, so they were replaced.
	Dropped int64 `json:"dropped"`
	// SetupS is how long opening the connections there are before the
	// start took (connect and VER, many at once), in seconds; 0 for none.
	// Opened before the start over it is the connect rate.
	SetupS float64 `json:"setup_s,omitempty"`
	// SetupOpened counts the connections opened before the start.
	SetupOpened int64 `json:"setup_opened,omitempty"`
}

// Histograms holds the run's histograms in the HdrHistogram V2 compressed
// encoding (base64), as the HdrHistogram tools read it.
type Histograms struct {
	Latency   string `json:"latency"`
	Service   string `json:"service"`
	SendLag   string `json:"send_lag,omitempty"`
	Connect   string `json:"connect"`
	Handshake string `json:"handshake"`
}

// Second is one wall-clock second of a run.
type Second struct {
	Unix     int64   `json:"t"`        // the second, as Unix time
	Offered  int64   `json:"offered"`  // requests due in it
	Achieved int64   `json:"achieved"` // well-formed replies in it
	Outcomes Counts  `json:"outcomes"`
	Latency  Summary `json:"latency_us"`   // of the requests completed in it
	Hist     string  `json:"latency_hist"` // the same, encoded, for exact merging
}

// Settings are the run's parameters. Runs merge only when these agree
// (but for the shard).
type Settings struct {
	Rate     string   `json:"rate"` // as given: "500/s", "inf", "100/s:5000/s", "1000/s:10s,2000/s:10s"
	Duration string   `json:"duration,omitempty"`
	WarmUp   string   `json:"warm_up,omitempty"`
	Requests int64    `json:"requests,omitempty"`
	Dialects []string `json:"dialects"`
	Mode     string   `json:"mode"` // "persistent" or "churn"
	Depth    int      `json:"depth"`
	Conns    int      `json:"conns"`
	MaxConns int      `json:"max_conns"`
	Mutate   float64  `json:"mutate"`
	Timeout  string   `json:"timeout"`
	// BatchWindow is the least time between the sender's wake-ups (see
	// Config.BatchWindow); empty in results from before it was recorded.
	BatchWindow string `json:"batch_window,omitempty"`
	Corpus      string `json:"corpus,omitempty"`
	Seed        int64  `json:"seed"`
	Shards      int    `json:"shards,omitempty"`
	SLO         string `json:"slo,omitempty"`
}

// SLOVerdict is one objective of -slo and whether the run met it.
type SLOVerdict struct {
	Objective string  `json:"objective"` // as given: "p99<20ms"
	Value     float64 `json:"value"`     // what was measured, in the objective's unit
	Met       bool    `json:"met"`
}

// Answered counts the requests that got a reply, and among them those
// whose reply was well-formed (error codes included).
func (r *Result) Answered() (answered, wellFormed int64) {
	for oc, n := range r.Outcomes {
		if oc.answered() {
			answered += n
			if oc.wellFormed() {
				wellFormed += n
			}
		}
	}
	return answered, wellFormed
}

// Timeouts counts the requests that got no complete reply within the
// timeout on a connection that stayed open: silent and partial.
func (r *Result) Timeouts() int64 {
	return r.Outcomes[OutcomeSilent] + r.Outcomes[OutcomePartial]
}

// An UnansweredError says that a run offered requests and none got a
// well-formed reply: Outcome is the most common outcome, Count its count
// and FirstError its first error text.
type UnansweredError struct {
	Outcome    Outcome
	Count      int64
	FirstError string
}

// Error returns "no request was answered: " with the count, the
// outcome and, in parentheses, its first error text.
func (e *UnansweredError) Error() string {
	msg := fmt.Sprintf("no request was answered: %d %s", e.Count, e.Outcome)
	if e.FirstError != "" {
		msg += " (" + e.FirstError + ")"
	}
	return msg
}

// CheckAnswered returns an [*UnansweredError] when r counts requests and
// none of them got a well-formed reply, nil otherwise.
func (r *Result) CheckAnswered() error {
	if _, wellFormed := r.Answered(); wellFormed > 0 || r.Requests == 0 {
		return nil
	}
	e := &UnansweredError{}
	for oc, n := range r.Outcomes {
		if n > e.Count || (n == e.Count && oc.String() < e.Outcome.String()) {
			e.Outcome, e.Count = oc, n
		}
	}
	e.FirstError = r.FirstErrors[e.Outcome]
	return e
}

// EncodeHistogram returns h in the V2 compressed encoding, base64.
func EncodeHistogram(h *hdrhistogram.Histogram) (string, error) {
	b, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		return "", fmt.Errorf("encode histogram: %w", err)
	}
	return string(b), nil
}

// DecodeHistogram reads a histogram written by [EncodeHistogram]; "" is an
// empty histogram.
func DecodeHistogram(s string) (*hdrhistogram.Histogram, error) {
	if s == "" {
		return NewHistogram(), nil
	}
	h, err := hdrhistogram.Decode([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("decode histogram: %w", err)
	}
	return h, nil
}

// WriteResult writes r as indented JSON to path, atomically.
func WriteResult(path string, r *Result) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return corpus.WriteFile(path, append(b, '\n'))
}

// NotResultError is the error of a file that holds no cvrswarm result.
type NotResultError struct {
	Path string // "" when the bytes came from no file
	Why  string // "not JSON", "requests is a JSON string, want int64"
}

func (e *NotResultError) Error() string {
	if e.Path == "" {
		return "not a cvrswarm result (" + e.Why + ")"
	}
	return e.Path + " is not a cvrswarm result (" + e.Why + ")"
}

// JSONProblem says in a few words why JSON did not decode: "not JSON",
// "requests is a JSON string, want int64".
func JSONProblem(err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return "not JSON"
	case errors.As(err, &typ) && typ.Field != "":
		return fmt.Sprintf("%s is a JSON %s, want %s", typ.Field, typ.Value, typ.Type)
	}
	return err.Error()
}

// ReadResult reads a result file written by [WriteResult].
func ReadResult(path string) (*Result, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, &NotResultError{Path: path, Why: JSONProblem(err)}
	}
	if r.Version != ResultVersion {
		return nil, fmt.Errorf("%s: result format version %d, want %d", path, r.Version, ResultVersion)
	}
	return &r, nil
}
