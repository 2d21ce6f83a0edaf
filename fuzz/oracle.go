package fuzz

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cvrswarm/cvrswarm/corpus"
	"github.com/cvrswarm/cvrswarm/msnp"
)

// Kind is the class of a finding.
type Kind string

// The kinds of findings, most severe first. Each says exactly what the
// oracle checked.
const (
	// KindCrash: after the case the target refuses new connections, or
	// accepts and closes them with a valid VER and CVR unanswered, or its
	// process (an [Exec]) exited.
	KindCrash Kind = "crash"
	// KindHang: a line got no reply within the wait, and a valid request
	// sent after it on a line of its own got none within the wait either,
	// while the connection stayed open; or, after the case, the target
	// accepts new connections but answers no valid VER and CVR.
	KindHang Kind = "hang"
	// KindWedge: every line of the case was answered, then a valid CVR
	// sent on the same connection got no reply within the wait.
	KindWedge Kind = "wedge"
	// KindLostReply: a valid CVR (one a conforming server answers with a
	// CVR reply) got no reply while a line sent after it, or the probe,
	// did: the server drops lines, as one that takes each read for one
	// command does with pipelined lines.
	KindLostReply Kind = "lost-reply"
	// KindReset: the connection was reset with a line unanswered, after
	// less than 1 KiB of input and no reply that ends the session (a
	// numeric error or "VER n 0").
	KindReset Kind = "reset"
	// KindAmplification: the replies to a write of lines are at least
	// AmplifyFactor times its bytes, and at least AmplifyFloor bytes for
	// each of its lines.
	KindAmplification Kind = "amplification"
	// KindTrIDMismatch: a reply carrying a TrID no request line of the
	// write carried.
	KindTrIDMismatch Kind = "trid-mismatch"
	// KindMalformed: a reply line that is not a CVR, VER or numeric error
	// reply, or more reply lines than request lines.
	KindMalformed Kind = "malformed-reply"
	// KindDeviation: a reply other than the spec's (no 731 for a
	// malformed CVR, no disconnect after 731, 420 or 710 missing, a valid
	// CVR refused, a line ignored); a finding only with Strict.
	KindDeviation Kind = "deviation"
)

// Kinds lists every kind, most severe first.
func Kinds() []Kind {
	return []Kind{KindCrash, KindHang, KindWedge, KindLostReply, KindReset, KindAmplification, KindTrIDMismatch, KindMalformed, KindDeviation}
}

// severity orders kinds: higher is worse; 0 for none.
func (k Kind) severity() int {
	for i, x := range Kinds() {
		if x == k {
			return len(Kinds()) - i
		}
	}
	return 0
}

// Verdict is the oracle's judgement of one case. Kind is "" when nothing
// is wrong.
type Verdict struct {
	Kind      Kind
	Signature string // what findings are de-duplicated by
	Detail    string // what was sent and what was observed, in a sentence
	Exit      *ExitInfo
	Stderr    string // for a crash of an [Exec] target: its stderr from the panic on
	// For an amplification: the bytes of the write, of its replies, and
	// their ratio.
	RequestBytes int
	ReplyBytes   int
	Ratio        float64
}

func (v Verdict) worse(w Verdict) Verdict {
	if w.Kind.severity() > v.Kind.severity() {
		return w
	}
	return v
}

func verdict(k Kind, class, detail string) Verdict {
	return Verdict{Kind: k, Signature: string(k) + ": " + class, Detail: detail}
}

// Defaults for an [Oracle].
const (
	// DefaultTimeout is the longest wait for a reply before the request
	// counts as unanswered.
	DefaultTimeout = time.Second
	// DefaultAmplifyFactor is how many times its request's bytes a reply
	// must be to count as an amplification.
	DefaultAmplifyFactor = 2.0
	// DefaultAmplifyFloor is how many bytes a reply must be, at least, to
	// count as an amplification: a short request may draw a normal CVR
	// reply many times its size.
	DefaultAmplifyFloor = 256
)

// Oracle judges cases against a target. Target is required (without
// one, every method returns a [*FieldError]); the other fields have
// documented defaults.
type Oracle struct {
	// Target is the server; an *[Exec] is restarted when it crashed.
	Target msnp.Target
	// Timeout bounds every wait for a reply; 0 means DefaultTimeout. A
	// run waits less once it has learned the target's reply times.
	Timeout time.Duration
	// AmplifyFactor is the ratio of reply bytes to request bytes from
	// which a reply is an amplification; 0 means DefaultAmplifyFactor.
	AmplifyFactor float64
	// AmplifyFloor is the fewest reply bytes, for each request line, an
	// amplification has; 0 means DefaultAmplifyFloor.
	AmplifyFloor int
	// Strict reports deviations from the spec's replies as findings.
	Strict bool
	// Role is the kind of server the target is, for the spec's rules.
	Role msnp.Role
}

func (o *Oracle) timeout() time.Duration {
	if o.Timeout <= 0 {
		return DefaultTimeout
	}
	return o.Timeout
}

// amplify returns the factor and the floor of an amplification.
func (o *Oracle) amplify() (factor float64, floor int) {
	factor, floor = o.AmplifyFactor, o.AmplifyFloor
	if factor == 0 {
		factor = DefaultAmplifyFactor
	}
	if floor == 0 {
		floor = DefaultAmplifyFloor
	}
	return factor, floor
}

// exchanger returns an exchanger that waits the whole timeout.
func (o *Oracle) exchanger() *exchanger {
	return &exchanger{target: o.Target, timeout: o.timeout(), strict: o.Strict}
}

// exec returns the target as an *Exec, or nil.
func (o *Oracle) exec() *Exec {
	x, _ := o.Target.(*Exec)
	return x
}

// generation returns the target's process generation (0 without one).
func (o *Oracle) generation() uint64 {
	if x := o.exec(); x != nil {
		return x.Generation()
	}
	return 0
}

// ensureRunning restarts an Exec target whose process has exited.
func (o *Oracle) ensureRunning(ctx context.Context) error {
	x := o.exec()
	if x == nil {
		return nil
	}
	return x.Revive(ctx)
}

// liveness is the result of a liveness check.
type liveness uint8

const (
	alive      liveness = iota
	refused             // the target does not accept, or its process exited
	closedConn          // it accepts and closes at once
	silent              // it accepts and does not answer a valid VER and CVR
)

// Check returns nil when the target answers a valid VER and CVR on a
// fresh connection (any well-formed reply, a numeric error included,
// counts), else an error that says how it does not.
func (o *Oracle) Check(ctx context.Context) error {
	if err := o.Validate(); err != nil {
		return err
	}
	name := targetName(o.Target)
	switch o.alive(ctx) {
	case alive:
		return nil
	case refused:
		return fmt.Errorf("target %s refuses connections", name)
	case closedConn:
		return fmt.Errorf("target %s closes a connection with a valid VER and CVR unanswered", name)
	}
	return fmt.Errorf("target %s does not answer a valid VER and CVR within %s", name, o.timeout())
}

func (o *Oracle) alive(ctx context.Context) liveness {
	if x := o.exec(); x != nil {
		if _, exited := x.Exited(); exited {
			return refused
		}
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout())
	defer cancel()
	c, err := msnp.Dial(ctx, o.Target, msnp.ClientConfig{})
	if err != nil {
		return refused
	}
	defer c.Close()
	if _, err := c.Handshake(ctx); err != nil && !errors.Is(err, msnp.ErrNoDialect) && !answered(err) {
		return deadBy(err)
	}
	if _, err := c.CVR(ctx, validRequest); err != nil && !answered(err) {
		return deadBy(err)
	}
	return alive
}

// answered reports whether err still means the server sent a line: a
// numeric error, a line that breaks the grammar, another TrID, or a reply
// that answers another command.
func answered(err error) bool {
	var me *msnp.Error
	var se *msnp.SyntaxError
	return errors.As(err, &me) || errors.As(err, &se) ||
		errors.Is(err, msnp.ErrTrIDMismatch) || errors.Is(err, msnp.ErrUnexpectedReply)
}

func deadBy(err error) liveness {
	if classify(err) == endTimeout { // a context's deadline too
		return silent
	}
	return closedConn
}

// Examine runs c on a fresh connection, sends a valid CVR after it on
// the same connection, checks that the target still answers on a fresh
// one, and judges the lot, waiting the whole timeout for each reply. An
// *[Exec] target that is down is restarted first (not after: a crash
// leaves it down for the caller to see).
func (o *Oracle) Examine(ctx context.Context, c corpus.Case) (Verdict, error) {
	return o.examine(ctx, o.exchanger(), c, true, nil)
}

// examine is Examine with the exchanger x, keeping what the case showed
// in seen when it is not nil; with grace, after a case its
// connection closed on unanswered, it gives an [Exec] target exitGrace
// to exit. A process that panics drops its connections (deferred closes
// run) a moment before it exits, and its listener still accepts
// meanwhile: without that moment the crash shows on the next case.
// Callers that hunt for a crash take the time; the others do not.
func (o *Oracle) examine(ctx context.Context, x *exchanger, c corpus.Case, grace bool, seen *observation) (Verdict, error) {
	if err := o.Validate(); err != nil {
		return Verdict{}, err
	}
	if err := o.ensureRunning(ctx); err != nil {
		return Verdict{}, err
	}
	var obs observation
	var after phase // a valid CVR after the case, on its connection
	cn := x.open(ctx, c.VER, o.generation(), &obs)
	if cn != nil {
		if len(c.VER) == 0 || obs.VER.End == endOpen {
			x.runCVR(ctx, cn, c.CVR, &obs)
		}
		if obs.end() == endOpen && obs.CVR.Probe == probeNone && endsLine(c.CVR) && endsLine(c.VER) {
			x.run(ctx, cn, probeLine(cn.dialect), nil, &after)
		}
		cn.close()
	}
	v, sus := o.judge(&obs)
	if seen != nil {
		*seen = obs
	}
	if v.Kind == KindAmplification {
		v = o.attribute(ctx, x, c, &obs, v)
	}
	if x := o.exec(); x != nil && grace && (sus == suspectClosed || sus == suspectReset) {
		x.WaitExit(ctx, exitGrace)
	}
	switch state := o.alive(ctx); {
	case state == refused || state == closedConn:
		return o.crashVerdict(ctx, &obs, state), ctx.Err()
	case state == silent:
		v = v.worse(verdict(KindHang, "the server stops answering new connections",
			"after this case the target accepts connections but answers no valid VER and CVR within "+o.timeout().String()))
	}
	switch sus {
	case suspectHang:
		v = v.worse(hangVerdict(&obs))
	case suspectReset:
		v = v.worse(resetVerdict(&obs))
	}
	if after.Sent && after.End == endTimeout {
		v = v.worse(wedgeVerdict(&obs, after.Wait))
	}
	return v, ctx.Err()
}

// exitGrace is how long [Oracle.Examine] waits for an [Exec] target to
// exit after a case its connection closed on without an answer.
const exitGrace = 20 * time.Millisecond

// endsLine reports whether b is empty or ends in LF: a server waits for
// the rest of a line that does not.
func endsLine(b []byte) bool { return len(b) == 0 || b[len(b)-1] == '\n' }

// resetMaxUnread is the most unanswered input a reset is judged after:
// servers read at least this much at a time (some read 1024-byte chunks).
const resetMaxUnread = 1024

// suspicion is what the oracle cannot decide from the replies alone.
type suspicion uint8

const (
	suspectNone   suspicion = iota
	suspectClosed           // the connection closed before every line was answered
	suspectReset            // it was reset before every line was answered, with no refusal before
	suspectHang             // a line got no reply and the probe none either
)

// judge decides what it can from the replies: amplification, malformed
// replies, TrID mismatches, lost replies and, with Strict, deviations;
// and says what needs a liveness check or a replay to decide.
func (o *Oracle) judge(obs *observation) (Verdict, suspicion) {
	var v Verdict
	sus := suspectNone
	if obs.DialErr != nil {
		return v, suspectClosed
	}
	refused := false // a reply entitled the server to close
	for i, p := range [...]*phase{&obs.VER, &obs.CVR} {
		if !p.Sent {
			continue
		}
		v = v.worse(o.amplified([...]string{"VER", "CVR"}[i], p))
		v = v.worse(judgeReplies(p))
		refused = refused || endsSession(p)
		if p == &obs.CVR {
			v = v.worse(o.lostReply(obs))
		}
		if p.answered() {
			continue
		}
		switch p.End {
		case endReset:
			// A server that closes with input unread makes its kernel
			// reset the connection: after a long input that is bounding
			// memory, and after a refusal it is the session's end.
			if p.Unread <= resetMaxUnread && !refused {
				sus = max(sus, suspectReset)
			} else {
				sus = max(sus, suspectClosed)
			}
		case endTimeout:
			sus = max(sus, suspectHang)
		case endEOF, endError:
			sus = max(sus, suspectClosed)
		case endOpen:
			if p.Probe == probeAnswered && o.Strict {
				c := pending(p).Command
				v = v.worse(verdict(KindDeviation, "no reply and no disconnect for the "+c+" line",
					"the "+c+" line got no reply while a valid "+probeCommand(p)+" sent after it on the same connection did"))
			}
		}
	}
	if o.Strict {
		v = v.worse(o.deviation(obs))
	}
	return v, sus
}

// amplified judges the size of the replies to the write named (VER or
// CVR) against its request bytes, a line the write before left
// unterminated included: at least the factor times those bytes, and the
// floor for each of its lines (a normal reply to a short line may be a
// few times its size). A reply line too long to read counts as the bytes
// read of it.
func (o *Oracle) amplified(write string, p *phase) Verdict {
	factor, floor := o.amplify()
	request, reply := p.Carried+p.Written, p.Bytes
	if reply < floor*max(1, len(p.Requests)) || float64(reply) < factor*float64(request) {
		return Verdict{}
	}
	ratio := float64(reply) / float64(max(1, request))
	sent, drew := fmt.Sprintf("%d request bytes", request), fmt.Sprintf("%d reply bytes", reply)
	if p.Carried > 0 {
		sent += fmt.Sprintf(" (%d of them a line the write before left unterminated)", p.Carried)
	}
	if p.End == endTooLong {
		drew = fmt.Sprintf("over %d reply bytes (a line longer than %d bytes, not read to its end)", reply, maxReplyLine)
	}
	v := verdict(KindAmplification, grownCommand(p)+" reply", fmt.Sprintf(
		"the %s write's %s drew %s, %.1f times as many (an amplification from %g times and %d bytes a line)",
		write, sent, drew, ratio, factor, floor))
	v.RequestBytes, v.ReplyBytes, v.Ratio = request, reply, ratio
	return v
}

// endsSession reports whether a reply of the phase entitles the server
// to close the connection: a numeric error or a VER naming no dialect.
func endsSession(p *phase) bool {
	for _, r := range p.Replies {
		if r.Class != "CVR" && r.Class != "CVQ" && r.Class != "VER" && r.Class != "malformed" {
			return true
		}
		if r.Class == "VER" && strings.HasSuffix(r.Text, " 0") {
			return true
		}
	}
	return false
}

// judgeReplies checks each reply line: it parses, answers one request
// and carries that request's TrID; it marks the requests answered.
func judgeReplies(p *phase) Verdict {
	var v Verdict
	j := 0 // the next request a reply may answer
	for _, r := range p.Replies {
		if r.Class == "malformed" {
			after := lastCommand(p)
			if j < len(p.Requests) {
				after = p.Requests[j].Command // the request it stands in for
				p.Requests[j].Answered = true
				j++
			}
			v = v.worse(verdict(KindMalformed, r.Err+" after "+after,
				fmt.Sprintf("reply %q: %s", r.Text, r.Err)))
			continue
		}
		k := j
		for k < len(p.Requests) && p.Requests[k].TrID >= 0 && p.Requests[k].TrID != int64(r.TrID) {
			k++
		}
		if k == len(p.Requests) {
			req := lastCommand(p)
			if j < len(p.Requests) {
				req = p.Requests[j].Command
			}
			v = v.worse(verdict(KindTrIDMismatch, r.Class+" reply to "+req,
				fmt.Sprintf("reply %q carries TrID %d, which no request line sent", r.Text, r.TrID)))
			continue
		}
		p.Requests[k].Answered = true
		j = k + 1
	}
	if p.Extra > 0 {
		v = v.worse(verdict(KindMalformed, "more reply lines than requests after "+lastCommand(p),
			fmt.Sprintf("%d reply lines beyond one per request line", p.Extra)))
	}
	return v
}

// lostReply finds a valid CVR of the CVR phase that got no reply while a
// later line of the phase, or the probe, did. It looks no further than
// a line a conforming server closes after, or a line whose framing is
// the server's choice (a bare LF, an overlong or unterminated line).
func (o *Oracle) lostReply(obs *observation) Verdict {
	p := &obs.CVR
	v, err := msnp.Lookup(obs.Dialect)
	if err != nil || !v.AcceptsCVR(o.Role) {
		return Verdict{}
	}
	answeredAfter := -1 // the last request answered
	for i, r := range p.Requests {
		if r.Answered {
			answeredAfter = i
		}
	}
	for i, r := range p.Requests {
		if r.BareLF || r.Ended || len(r.Line) > msnp.DefaultMaxLineLength {
			break
		}
		want := msnp.Expect(r.Line, v, o.Role)
		if !r.Answered && want.Reply && want.Code == 0 && (i < answeredAfter || p.Probe == probeAnswered) {
			by := fmt.Sprintf("line %d was", answeredAfter+1)
			if i > answeredAfter {
				by = "a valid " + probeCommand(p) + " sent after them was"
			}
			return verdict(KindLostReply, "no reply to a valid "+r.Command+" sent with other lines in one write",
				fmt.Sprintf("of %d lines sent in one write, line %d, a valid %s with TrID %d, got no reply, while %s answered; the connection stayed open",
					len(p.Requests), i+1, r.Command, r.TrID, by))
		}
		if want.Close {
			break
		}
	}
	return Verdict{}
}

// deviation compares the reply to a single CVR line after a single VER
// with what msnp.Expect says a conforming server answers.
func (o *Oracle) deviation(obs *observation) Verdict {
	if len(obs.VER.Requests) != 1 || len(obs.VER.Replies) != 1 || obs.VER.Replies[0].Class != "VER" ||
		len(obs.CVR.Requests) != 1 || obs.CVR.Requests[0].Ended {
		return Verdict{}
	}
	v, err := msnp.Lookup(obs.Dialect)
	if err != nil || !v.AcceptsCVR(o.Role) {
		return Verdict{}
	}
	if verb := msnp.Verb(obs.CVR.Requests[0].Line); verb != "CVR" && verb != "CVQ" {
		return Verdict{}
	}
	want := o.expected(obs, v)
	if want < 0 {
		return Verdict{}
	}
	got := "no reply"
	if len(obs.CVR.Replies) > 0 {
		got = obs.CVR.Replies[0].Class
	} else if obs.CVR.End == endEOF || obs.CVR.End == endReset {
		got = "no reply, connection closed"
	}
	switch {
	case want == msnp.CodeMalformedCVR && got != "731":
		return verdict(KindDeviation, "no 731 for a malformed CVR (got "+got+")",
			"the spec answers a malformed CVR with 731; the target answered "+got)
	case want == msnp.CodeMalformedCVR && obs.NoDisconnect:
		return verdict(KindDeviation, "no disconnect after 731",
			"the spec disconnects after 731; the connection stayed open")
	case want > 0 && want != msnp.CodeMalformedCVR && got != strconv.Itoa(want):
		return verdict(KindDeviation, strconv.Itoa(want)+" missing (got "+got+")",
			fmt.Sprintf("the spec answers this CVR with %d; the target answered %s", want, got))
	case want == 0 && got != v.Command:
		return verdict(KindDeviation, "valid "+v.Command+" refused (got "+got+")",
			"a request the spec accepts was answered with "+got)
	}
	return Verdict{}
}

// expected returns the code a conforming server answers the case's CVR
// line with (0 for a CVR reply), or -1 when the rules do not say.
func (o *Oracle) expected(obs *observation, v msnp.Version) int {
	line := obs.CVR.First
	if !bytes.HasSuffix(line, []byte("\r\n")) || len(line) > msnp.DefaultMaxLineLength {
		return -1 // a bare LF or a line limit: the server's choice
	}
	ans := msnp.Expect(line[:len(line)-2], v, o.Role)
	if !ans.Reply {
		return -1 // no TrID to answer with: closing is all a server can do
	}
	return ans.Code
}

// crashVerdict names a crash: by the Go panic in the process's stderr,
// else by how it exited, else by the target no longer accepting.
func (o *Oracle) crashVerdict(ctx context.Context, obs *observation, state liveness) Verdict {
	after := "after " + lastReplyClass(obs)
	if x := o.exec(); x != nil {
		if info, exited := x.WaitExit(ctx, o.timeout()); exited {
			return exitVerdict(info, after)
		}
	}
	if state == closedConn {
		return verdict(KindCrash, "the target closes new connections "+after,
			"after this case the target accepts connections and closes them without answering a valid VER and CVR")
	}
	return verdict(KindCrash, "the target stops accepting "+after, "after this case the target refuses connections")
}

// exitVerdict names the exit of an [Exec] target's process: by the Go
// panic in its stderr, else by its exit status or signal.
func exitVerdict(info ExitInfo, after string) Verdict {
	v := Verdict{Kind: KindCrash, Exit: &info, Stderr: stderrExcerpt(info.Stderr)}
	if p, ok := ParsePanic(info.Stderr); ok {
		v.Signature = "crash: " + p.Signature()
		v.Detail = fmt.Sprintf("the target exited (%s) with %q", info, p.Message)
	} else {
		v.Signature = "crash: " + info.String()
		v.Detail = fmt.Sprintf("the target exited (%s) %s", info, after)
	}
	return v
}

// unansweredPhase returns the phase with the first unanswered line.
func unansweredPhase(obs *observation) *phase {
	if !obs.CVR.Sent || (obs.VER.Sent && !obs.VER.answered()) {
		return &obs.VER
	}
	return &obs.CVR
}

// hangVerdict says what was sent and what did not come back.
func hangVerdict(obs *observation) Verdict {
	p := unansweredPhase(obs)
	r := pending(p)
	what := "the " + lineName(r)
	detail := fmt.Sprintf("%s got no reply within %s", what, p.Wait)
	if p.Probe == probeUnanswered {
		detail += fmt.Sprintf(", and a valid %s sent after it on a line of its own got none within %s either", probeCommand(p), p.Wait)
	}
	if p.ended() {
		detail += " (the case's last line was sent without its end: CRLF ended it before the probe)"
	}
	return verdict(KindHang, "no reply to "+signatureName(r), detail+"; the connection stayed open")
}

func resetVerdict(obs *observation) Verdict {
	p := unansweredPhase(obs)
	r := pending(p)
	return verdict(KindReset, "reset instead of a reply to "+signatureName(r),
		fmt.Sprintf("the target reset the connection after the %s without answering it (%d bytes sent, no reply refusing the session before)",
			lineName(r), p.Unread))
}

func wedgeVerdict(obs *observation, wait time.Duration) Verdict {
	return verdict(KindWedge, "no reply to a valid CVR after "+lastReplyClass(obs),
		"every line of the case was answered, then a valid CVR sent on the same connection got no reply within "+wait.String())
}

// pending returns the first request of the phase that no reply answers,
// or, when there is none, its last request.
func pending(p *phase) request {
	for _, r := range p.Requests {
		if !r.Answered {
			return r
		}
	}
	if len(p.Requests) > 0 {
		return p.Requests[len(p.Requests)-1]
	}
	return request{Command: "partial line"}
}

// signatureName names a request in a signature: its command, and how it
// ends when that is not CRLF.
func signatureName(r request) string {
	switch {
	case r.BareLF:
		return r.Command + " ending in a bare LF"
	case r.Ended:
		return r.Command + " sent without a line end"
	}
	return r.Command
}

// lineName names a request in a sentence.
func lineName(r request) string {
	switch {
	case r.Command == "partial line":
		return r.Command
	case r.BareLF:
		return r.Command + " line ending in a bare LF"
	case r.Ended:
		return r.Command + " line sent without a line end"
	}
	return r.Command + " line"
}

// lastCommand names the last complete request line of the phase.
func lastCommand(p *phase) string {
	if len(p.Requests) == 0 {
		return "partial line"
	}
	return p.Requests[len(p.Requests)-1].Command
}

// probeCommand names the probe a phase sends: VER after VER bytes, else
// CVR.
func probeCommand(p *phase) string {
	if p.ProbeCommand == "" {
		return "CVR"
	}
	return p.ProbeCommand
}

// grownCommand names the request whose reply is the longest.
func grownCommand(p *phase) string {
	if i := grownLine(p); i >= 0 {
		return p.Requests[i].Command
	}
	return lastCommand(p)
}

// lastReplyClass names the last reply of the case, or what ended it.
func lastReplyClass(obs *observation) string {
	for _, p := range [...]*phase{&obs.CVR, &obs.VER} {
		if p.Sent && len(p.Replies) > 0 {
			return p.Replies[len(p.Replies)-1].Class + " reply"
		}
	}
	if obs.CVR.Sent {
		return "no reply to " + pending(&obs.CVR).Command
	}
	if obs.VER.Sent {
		return "no reply to " + pending(&obs.VER).Command
	}
	return "connecting"
}
