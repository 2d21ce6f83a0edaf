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

// The kinds of findings, most severe first.
const (
	// KindCrash: the target stopped accepting connections, or its process
	// exited.
	KindCrash Kind = "crash"
	// KindHang: a request got no reply within the timeout while the
	// connection stayed open, and neither did a valid request after it.
	KindHang Kind = "hang"
	// KindWedge: the case was answered, but a valid request after it on
	// the same connection was not.
	KindWedge Kind = "wedge"
	// KindReset: the target reset the connection instead of answering.
	KindReset Kind = "reset"
	// KindAmplification: a reply larger than any legitimate CVR reply.
	KindAmplification Kind = "amplification"
	// KindTrIDMismatch: a reply carrying another TrID than its request.
	KindTrIDMismatch Kind = "trid-mismatch"
	// KindMalformed: a reply line that is not a CVR, VER or error reply,
	// or more reply lines than requests.
	KindMalformed Kind = "malformed-reply"
	// KindDeviation: a reply other than the spec's (no 731 for a
	// malformed CVR, no disconnect after 731, 420 or 710 missing); a
	// finding only with Strict.
	KindDeviation Kind = "deviation"
)

// Kinds lists every kind, most severe first.
func Kinds() []Kind {
	return []Kind{KindCrash, KindHang, KindWedge, KindReset, KindAmplification, KindTrIDMismatch, KindMalformed, KindDeviation}
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
	Detail    string // what happened, in a sentence
	Exit      *ExitInfo
	Stderr    string // for a crash of an [Exec] target: its stderr from the panic on
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
	// DefaultTimeout is how long a reply may take before the request
	// counts as unanswered.
	DefaultTimeout = time.Second
	// DefaultAmplifyLimit is the most reply bytes a case may draw: no
	// legitimate CVR reply comes near it.
	DefaultAmplifyLimit = 1024
)

// Oracle judges cases against a target. Target is required (without
// one, every method returns a [*FieldError]); the other fields have
// documented defaults.
type Oracle struct {
	// Target is the server; an *[Exec] is restarted when it crashed.
	Target msnp.Target
	// Timeout bounds every wait for a reply; 0 means DefaultTimeout.
	Timeout time.Duration
	// AmplifyLimit is the most reply bytes a case may draw; 0 means
	// DefaultAmplifyLimit.
	AmplifyLimit int
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

func (o *Oracle) exchanger() *exchanger {
	limit := o.AmplifyLimit
	if limit <= 0 {
		limit = DefaultAmplifyLimit
	}
	t := o.timeout()
	return &exchanger{target: o.Target, timeout: t, quiet: min(t/4, 50*time.Millisecond), limit: limit, strict: o.Strict}
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
	if _, exited := x.Exited(); !exited {
		return nil
	}
	return x.Restart(ctx)
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
		return fmt.Errorf("fuzz: target %s refuses connections", name)
	case closedConn:
		return fmt.Errorf("fuzz: target %s closes a connection with a valid VER and CVR unanswered", name)
	}
	return fmt.Errorf("fuzz: target %s does not answer a valid VER and CVR within %s", name, o.timeout())
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

// answered reports whether err still means the server sent a line.
func answered(err error) bool {
	var me *msnp.Error
	var se *msnp.SyntaxError
	return errors.As(err, &me) || errors.As(err, &se) || errors.Is(err, msnp.ErrTrIDMismatch)
}

func deadBy(err error) liveness {
	if classify(err) == endTimeout || errors.Is(err, context.DeadlineExceeded) {
		return silent
	}
	return closedConn
}

// Examine runs c on a fresh connection, sends a valid CVR after it on
// the same connection, checks that the target still answers on a fresh
// one, and judges the lot. An *[Exec] target that is down is restarted
// first (not after: a crash leaves it down for the caller to see).
func (o *Oracle) Examine(ctx context.Context, c corpus.Case) (Verdict, error) {
	return o.examine(ctx, c, true)
}

// examine is Examine; with grace, after a case its connection closed on
// unanswered, it gives an [Exec] target exitGrace to exit. A process
// that panics drops its connections (deferred closes run) a moment
// before it exits, and its listener still accepts meanwhile: without
// that moment the crash shows on the next case. Callers that hunt for
// a crash take the time; the others do not.
func (o *Oracle) examine(ctx context.Context, c corpus.Case, grace bool) (Verdict, error) {
	if err := o.Validate(); err != nil {
		return Verdict{}, err
	}
	if err := o.ensureRunning(ctx); err != nil {
		return Verdict{}, err
	}
	x := o.exchanger()
	var obs observation
	wedged := false
	cn := x.open(ctx, c.VER, o.generation(), &obs)
	if cn != nil {
		if len(c.VER) == 0 || obs.VER.End == endOpen {
			x.runCVR(ctx, cn, c.CVR, &obs)
		}
		if obs.end() == endOpen && obs.CVR.Probe == probeNone && endsLine(c.CVR) && endsLine(c.VER) {
			var p phase
			x.run(ctx, cn, probeLine(cn.dialect), nil, &p)
			wedged = p.End == endTimeout
		}
		cn.close()
	}
	v, sus := o.judge(&obs)
	if x := o.exec(); x != nil && grace && (sus == suspectClosed || sus == suspectReset) {
		x.WaitExit(ctx, exitGrace)
	}
	switch state := o.alive(ctx); {
	case state == refused || state == closedConn:
		return o.crashVerdict(ctx, &obs, state), ctx.Err()
	case state == silent:
		v = v.worse(verdict(KindHang, "the server stops answering new connections",
			"after this case the target accepts connections but answers no valid VER and CVR within "+x.timeout.String()))
	}
	switch sus {
	case suspectHang:
		v = v.worse(o.hangVerdict(&obs))
	case suspectReset:
		v = v.worse(o.resetVerdict(&obs))
	}
	if wedged {
		v = v.worse(verdict(KindWedge, "no reply to a valid CVR after "+lastReplyClass(&obs),
			"the case was answered, then a valid CVR on the same connection got no reply within "+x.timeout.String()))
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
	suspectReset            // it was reset before every line was answered
	suspectHang             // a line got no reply and the probe none either
)

// judge decides what it can from the replies: amplification, malformed
// replies, TrID mismatches and, with Strict, deviations; and says what
// needs a liveness check or a replay to decide.
func (o *Oracle) judge(obs *observation) (Verdict, suspicion) {
	var v Verdict
	sus := suspectNone
	if obs.DialErr != nil {
		return v, suspectClosed
	}
	limit := o.AmplifyLimit
	if limit <= 0 {
		limit = DefaultAmplifyLimit
	}
	refused := false // the server answered with an error: it may close
	for _, p := range [...]*phase{&obs.VER, &obs.CVR} {
		if !p.Sent {
			continue
		}
		verb := pendingVerb(p)
		switch {
		case p.End == endTooLong:
			v = v.worse(verdict(KindAmplification, "reply over "+strconv.Itoa(limit)+" bytes to "+lastVerb(p),
				fmt.Sprintf("a reply line to the %s line is longer than %d bytes", lastVerb(p), limit)))
		case p.Bytes > limit*max(1, p.Lines):
			v = v.worse(verdict(KindAmplification, "reply over "+strconv.Itoa(limit)+" bytes to "+lastVerb(p),
				fmt.Sprintf("%d request lines, the last a %s, drew %d reply bytes (limit %d a line)", p.Lines, lastVerb(p), p.Bytes, limit)))
		}
		v = v.worse(judgeReplies(p))
		if !p.answered() {
			switch p.End {
			case endReset:
				// A server that closes with input unread makes its kernel
				// reset the connection: after a long input that is
				// bounding memory, not a defect.
				if p.Unread <= resetMaxUnread && !refused {
					sus = max(sus, suspectReset)
				} else {
					sus = max(sus, suspectClosed)
				}
			case endTimeout:
				if p.Probe != probeAnswered {
					sus = max(sus, suspectHang)
				}
			case endEOF, endError:
				sus = max(sus, suspectClosed)
			case endOpen:
				if p.Probe == probeAnswered && o.Strict {
					v = v.worse(verdict(KindDeviation, "no reply and no disconnect for the "+verb+" line",
						"the "+verb+" line got no reply while a valid CVR after it on the same connection did"))
				}
			}
		}
		refused = refused || endsSession(p)
	}
	if o.Strict {
		v = v.worse(o.deviation(obs))
	}
	return v, sus
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
// and carries that request's TrID.
func judgeReplies(p *phase) Verdict {
	var v Verdict
	j := 0 // the next request a reply may answer
	for _, r := range p.Replies {
		if r.Class == "malformed" {
			after := lastVerb(p)
			if j < len(p.Requests) {
				after = verbName(p.Requests[j]) // the request it stands in for
			}
			v = v.worse(verdict(KindMalformed, r.Err+" after "+after,
				fmt.Sprintf("reply %q: %s", r.Text, r.Err)))
			continue
		}
		k := j
		for k < len(p.TrIDs) && p.TrIDs[k] >= 0 && p.TrIDs[k] != int64(r.TrID) {
			k++
		}
		if k == len(p.TrIDs) {
			req := lastVerb(p)
			if j < len(p.Requests) {
				req = verbName(p.Requests[j])
			}
			v = v.worse(verdict(KindTrIDMismatch, r.Class+" reply to "+req,
				fmt.Sprintf("reply %q carries TrID %d, which no request sent", r.Text, r.TrID)))
			continue
		}
		j = k + 1
	}
	if p.Extra > 0 {
		v = v.worse(verdict(KindMalformed, "more reply lines than requests after "+lastVerb(p),
			fmt.Sprintf("%d reply lines beyond one per request", p.Extra)))
	}
	return v
}

// deviation compares the reply to a single CVR line after a single VER
// with what msnp.CheckRequest says a conforming server answers.
func (o *Oracle) deviation(obs *observation) Verdict {
	if obs.VER.Lines != 1 || len(obs.VER.Replies) != 1 || obs.VER.Replies[0].Class != "VER" ||
		obs.CVR.Lines != 1 || len(obs.CVR.Requests) != 1 {
		return Verdict{}
	}
	v, err := msnp.Lookup(obs.Dialect)
	if err != nil || !v.AcceptsCVR(o.Role) {
		return Verdict{}
	}
	verb := obs.CVR.Requests[0]
	if verb != "CVR" && verb != "CVQ" {
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
	}
	if state == closedConn {
		return verdict(KindCrash, "the target closes new connections "+after,
			"after this case the target accepts connections and closes them without answering a valid VER and CVR")
	}
	return verdict(KindCrash, "the target stops accepting "+after, "after this case the target refuses connections")
}

func (o *Oracle) hangVerdict(obs *observation) Verdict {
	p := &obs.CVR
	if !p.Sent || (obs.VER.Sent && !obs.VER.answered()) {
		p = &obs.VER
	}
	verb := pendingVerb(p)
	return verdict(KindHang, "no reply to "+verb,
		fmt.Sprintf("the %s line got no reply within the timeout and neither did a valid request after it; the connection stayed open", verb))
}

func (o *Oracle) resetVerdict(obs *observation) Verdict {
	p := &obs.CVR
	if !p.Sent || (obs.VER.Sent && !obs.VER.answered()) {
		p = &obs.VER
	}
	verb := pendingVerb(p)
	return verdict(KindReset, "reset instead of a reply to "+verb,
		fmt.Sprintf("the target reset the connection after the %s line without answering it", verb))
}

// pendingVerb names the first request of the phase that got no reply.
func pendingVerb(p *phase) string {
	i := len(p.Replies)
	if i >= len(p.Requests) {
		if p.Lines == 0 {
			return "partial line"
		}
		return lastVerb(p)
	}
	return verbName(p.Requests[i])
}

// lastVerb names the last complete request line of the phase.
func lastVerb(p *phase) string {
	if len(p.Requests) == 0 {
		return "partial line"
	}
	return verbName(p.Requests[len(p.Requests)-1])
}

// verbName names a request's command for a signature: VER, CVR, CVQ, or
// "other command" for anything else, so that a fuzzed command name does
// not make a new signature of a known defect.
func verbName(v string) string {
	switch v {
	case "VER", "CVR", "CVQ":
		return v
	}
	return "other command"
}

// lastReplyClass names the last reply of the case, or what ended it.
func lastReplyClass(obs *observation) string {
	for _, p := range [...]*phase{&obs.CVR, &obs.VER} {
		if p.Sent && len(p.Replies) > 0 {
			return p.Replies[len(p.Replies)-1].Class + " reply"
		}
	}
	if obs.CVR.Sent {
		return "no reply to " + pendingVerb(&obs.CVR)
	}
	if obs.VER.Sent {
		return "no reply to " + pendingVerb(&obs.VER)
	}
	return "connecting"
}
