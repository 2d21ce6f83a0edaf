package load

import (
	"math"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cvrswarm/cvrswarm/msnp/msnptest"
)

func TestDeadTargetAnswersNothing(t *testing.T) {
	t.Parallel()
	addr := msnptest.ClosedAddr(t)
	for _, depth := range []int{1, 4} {
		t.Run("depth "+strconv.Itoa(depth), func(t *testing.T) {
			t.Parallel()
			r := run(t, Config{Target: addr, Schedule: Constant(1000), Requests: 50, Conns: 2, Depth: depth})
			if r.Outcomes[OutcomeRefused] != 50 {
				t.Fatalf("got outcomes %v, want 50 refused", r.Outcomes)
			}
			if r.Latency.Count != 0 || r.Service.Count != 0 || r.Rate.Achieved != 0 {
				t.Errorf("got latency over %d requests, service over %d, achieved %v/s; want nothing: no request waited for a reply",
					r.Latency.Count, r.Service.Count, r.Rate.Achieved)
			}
			want := "no request was answered: 50 refused (dial tcp " + addr + ": connect: connection refused)"
			if err := r.CheckAnswered(); err == nil || err.Error() != want {
				t.Errorf("got %v, want %q", err, want)
			}
		})
	}
}

func TestHTTPResponderIsNotThroughput(t *testing.T) {
	t.Parallel()
	addr := startServer(t, msnptest.HTTPResponder)
	r := run(t, Config{Target: addr, Schedule: Constant(1000), Requests: 40, Conns: 2})
	if r.Outcomes[OutcomeMalformed] != 40 {
		t.Fatalf("got outcomes %v, want 40 malformed", r.Outcomes)
	}
	if answered, wellFormed := r.Answered(); answered != 40 || wellFormed != 0 || r.Rate.Achieved != 0 {
		t.Errorf("got %d answered, %d well-formed, achieved %v/s; want 40, 0, 0", answered, wellFormed, r.Rate.Achieved)
	}
	if r.Latency.Count != 40 {
		t.Errorf("got latency over %d requests, want the 40 that got a reply", r.Latency.Count)
	}
	want := `no request was answered: 40 malformed (VER reply "HTTP/1.1 400 Bad Request")`
	if err := r.CheckAnswered(); err == nil || err.Error() != want {
		t.Errorf("got %v, want %q", err, want)
	}
}

func TestSilentRequestsAreTimeoutsNotLatency(t *testing.T) {
	t.Parallel()
	var cvrs atomic.Int64
	addr := startServer(t, scripted(func(c net.Conn, trid, _ string) {
		if cvrs.Add(1)%2 == 1 { // every other CVR the server gets is ignored
			c.Write([]byte("CVR " + trid + " 1.0 1.0 1.0 http://a http://b\r\n"))
		}
	}))
	r := run(t, Config{Target: addr, Schedule: Constant(500), Requests: 40, Conns: 4, Timeout: 200 * time.Millisecond})
	ok, silent := r.Outcomes[OutcomeOK], r.Outcomes[OutcomeSilent]
	if ok == 0 || silent == 0 || ok+silent != 40 {
		t.Fatalf("got outcomes %v, want 40 between ok and silent", r.Outcomes)
	}
	if r.Latency.Count != ok || r.Timeouts() != silent {
		t.Errorf("got latency over %d requests and %d timeouts, want %d and %d", r.Latency.Count, r.Timeouts(), ok, silent)
	}
	if text := r.FirstErrors[OutcomeSilent]; !strings.HasPrefix(text, "read CVR reply: ") || !strings.Contains(text, "timeout") {
		t.Errorf("got first silent error %q, want the read timeout", text)
	}
	if err := r.CheckAnswered(); err != nil {
		t.Errorf("got %v, want nil: %d requests were answered", err, ok)
	}
}

func TestMalformedRepliesAreNotThroughput(t *testing.T) {
	t.Parallel()
	for _, depth := range []int{1, 4} {
		t.Run("depth "+strconv.Itoa(depth), func(t *testing.T) {
			t.Parallel()
			addr := startServer(t, scripted(func(c net.Conn, trid, _ string) {
				if n, _ := strconv.Atoi(trid); n%3 == 0 {
					c.Write([]byte("<html>" + trid + "\r\n"))
				} else {
					c.Write([]byte("CVR " + trid + " 1.0 1.0 1.0 http://a http://b\r\n"))
				}
			}))
			r := run(t, Config{Target: addr, Schedule: Constant(1000), Requests: 200, Conns: 2, Depth: depth})
			malformed := r.Outcomes[OutcomeMalformed]
			answered, wellFormed := r.Answered()
			if malformed == 0 || wellFormed != r.Outcomes[OutcomeOK] || answered != wellFormed+malformed {
				t.Fatalf("got outcomes %v, answered %d, well-formed %d; want ok and malformed replies", r.Outcomes, answered, wellFormed)
			}
			if got := math.Round(r.Rate.Achieved * r.DurationS); got <= 0 || int64(got) > wellFormed {
				t.Errorf("got achieved %v/s over %vs: %v replies, want at most the %d well-formed", r.Rate.Achieved, r.DurationS, got, wellFormed)
			}
			if text := r.FirstErrors[OutcomeMalformed]; !strings.HasPrefix(text, `CVR reply "<html>`) {
				t.Errorf("got first malformed error %q, want the reply quoted", text)
			}
			if n := r.Outcomes[OutcomeAborted]; n > 0 && r.FirstErrors[OutcomeAborted] == "" {
				t.Errorf("got %d aborted and no text saying what that is", n)
			}
		})
	}
}

func TestRecorderCountsReplies(t *testing.T) {
	rec := newRecorder(1)
	sh := rec.shards[0]
	due := time.Now()
	sent, end := due.Add(time.Millisecond), due.Add(3*time.Millisecond)
	for _, oc := range []Outcome{OutcomeOK, CodeOutcome(420), OutcomeMalformed, OutcomeLineTooLong, OutcomeRefused, OutcomeSilent, OutcomeClosed, OutcomeUnsent} {
		sh.done(kindValid, oc, due, sent, end)
	}
	if got := rec.completedInWindow(); got != 2 {
		t.Errorf("got %d in the achieved count, want 2: ok and 420, not malformed or failed", got)
	}
	h := rec.merged()
	if h.latency.TotalCount() != 4 || h.service.TotalCount() != 4 {
		t.Errorf("got response times of %d and service times of %d requests, want the 4 answered", h.latency.TotalCount(), h.service.TotalCount())
	}
	if h.sendLag.TotalCount() != 8 {
		t.Errorf("got send lags of %d requests, want all 8 given a send time", h.sendLag.TotalCount())
	}
	rec.harvest(math.MaxInt64)
	if got := rec.series.out[0].Achieved; got != 2 {
		t.Errorf("got %d achieved in the second, want 2", got)
	}
}

func TestCausesKeepTheFirstText(t *testing.T) {
	var c causes
	c.noteReply(OutcomeMalformed, "CVR reply", []byte("first"))
	c.noteReply(OutcomeMalformed, "CVR reply", []byte("second"))
	c.noteReply(OutcomeOK, "CVR reply", []byte("CVR 1 1 1 1"))
	c.noteReply(CodeOutcome(911), "CVR reply", []byte(strings.Repeat("x", 100)))
	all := counts{}
	all[OutcomeMalformed], all[OutcomeOK], all[OutcomeUnsent], all[CodeOutcome(911)] = 2, 1, 3, 1
	got := c.texts(&all)
	want := map[Outcome]string{
		OutcomeMalformed: `CVR reply "first"`,
		OutcomeUnsent:    outcomeMeanings[OutcomeUnsent],
		CodeOutcome(911): `CVR reply "` + strings.Repeat("x", maxQuoted) + `" (36 more bytes)`,
	}
	if len(got) != len(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %q, want %q", k, got[k], v)
		}
	}
}

func TestCausesAllocateOnlyTheFirstTime(t *testing.T) {
	var c causes
	err := &net.OpError{Op: "read", Net: "tcp", Err: errTimeoutForTest{}}
	c.noteErr(OutcomeSilent, "read CVR reply", err)
	if n := testing.AllocsPerRun(100, func() { c.noteErr(classifyIO(err, false), "read CVR reply", err) }); n != 0 {
		t.Errorf("got %v allocations per classified and noted error once the text is kept, want 0", n)
	}
}

type errTimeoutForTest struct{}

func (errTimeoutForTest) Error() string   { return "i/o timeout" }
func (errTimeoutForTest) Timeout() bool   { return true }
func (errTimeoutForTest) Temporary() bool { return true }
