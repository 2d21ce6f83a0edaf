package conformance

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/cvrswarm/cvrswarm/msnp"
)

// Defaults for a [Config] field left at its zero value.
const (
	// DefaultTimeout is how long a rule waits for each reply line or
	// close, and for a connection.
	DefaultTimeout = 2 * time.Second
	// DefaultLongLine is the length of the long-line rule's line, CRLF
	// excluded: 16 times msnp.DefaultMaxLineLength.
	DefaultLongLine = 16 * msnp.DefaultMaxLineLength
	// MinLongLine is the shortest long-line length accepted: longer than
	// any legitimate CVR line.
	MinLongLine = 512
)

// Config sets up a check. Target is required; the zero value of every
// other field has a documented default.
type Config struct {
	Target msnp.Target
	// Role is the kind of server the target is: msnp.NS (the zero value)
	// or msnp.DS. It decides which dialects take CVR.
	Role msnp.Role
	// Dialects is what the client offers in VER, newest first; nil means
	// msnp.Dialects(). Rules that need a dialect not offered are skipped.
	Dialects []msnp.Dialect
	// Timeout bounds each connect, and each wait for a reply line or a
	// close; 0 means DefaultTimeout.
	Timeout time.Duration
	// Strict turns warnings into failures.
	Strict bool
	// LongLine is the length of the long-line rule's line; 0 means
	// DefaultLongLine.
	LongLine int
	// Run selects the rules whose ID it matches; nil runs every rule.
	Run *regexp.Regexp
	// OnResult, when set, is called with each result as it is decided,
	// from the goroutine that called Run.
	OnResult func(Result)
}

// Result is the outcome of one rule.
type Result struct {
	Rule     string   `json:"rule"`
	Title    string   `json:"title"`
	Source   string   `json:"source"`
	Severity Verdict  `json:"severity"`
	Risky    bool     `json:"risky,omitempty"`
	Sent     []string `json:"sent,omitempty"` // every line sent, as shown
	Expected string   `json:"expected,omitempty"`
	Got      string   `json:"got,omitempty"`
	Verdict  Verdict  `json:"verdict"`
	Reason   string   `json:"reason,omitempty"` // why it did not pass
}

// Summary counts the verdicts.
type Summary struct {
	Rules int `json:"rules"`
	Pass  int `json:"pass"`
	Warn  int `json:"warn"`
	Fail  int `json:"fail"`
	Skip  int `json:"skip"`
	// Applicable counts the rules for the role of the run, skipped or not.
	Applicable int `json:"applicable"`
	// Inconclusive is set when fewer than half of the applicable rules
	// ran: the check says too little to pass the target.
	Inconclusive bool `json:"inconclusive"`
}

// SkippedApplicable counts the applicable rules that did not run.
func (s Summary) SkippedApplicable() int { return s.Applicable - s.Pass - s.Warn - s.Fail }

// Report is the outcome of a check.
type Report struct {
	Target  string         `json:"target"`
	Role    string         `json:"role"`
	Offered []msnp.Dialect `json:"offered"`
	// Speaks lists the offered dialects the target picks when offered
	// alone: an MSNP dialect with CVR0 after it, as clients send it.
	Speaks []msnp.Dialect `json:"speaks"`
	// NeedsCVR0 is set when the target refuses an MSNP dialect it speaks
	// unless CVR0 is listed after it; every VER of the check then lists
	// CVR0.
	NeedsCVR0 bool `json:"needs_cvr0,omitempty"`
	// CVRDialect is the dialect the CVR rules negotiate ("" when none).
	CVRDialect msnp.Dialect `json:"cvr_dialect,omitempty"`
	Strict     bool         `json:"strict"`
	Results    []Result     `json:"results"`
	Summary    Summary      `json:"summary"`
	// Stopped says when the target stopped answering, if it did.
	Stopped string `json:"stopped,omitempty"`
	// Interrupted is set when the context ended the check early.
	Interrupted bool `json:"interrupted,omitempty"`
}

// Failed reports whether any rule failed.
func (r *Report) Failed() bool { return r.Summary.Fail > 0 }

// Passed reports whether the target passed: no rule failed, and the check
// was not inconclusive.
func (r *Report) Passed() bool { return !r.Failed() && !r.Summary.Inconclusive }

// Run checks the target against every selected rule, each on a fresh
// connection. It returns an error, and no report, when the configuration
// is invalid (see [Config.Validate]) or the target does not answer VER at
// all. When ctx ends, the
// rules not yet run are skipped and the report is returned with ctx's
// error.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	r, err := newRunner(cfg)
	if err != nil {
		return nil, err
	}
	if err := r.discover(ctx); err != nil {
		return nil, err
	}
	r.play(ctx)
	s := &r.report.Summary
	s.Inconclusive = 2*(s.Pass+s.Warn+s.Fail) < s.Applicable
	if r.report.Interrupted {
		return r.report, ended(ctx)
	}
	return r.report, nil
}

// ended returns why ctx ended, or nil. A deadline that has passed counts
// even before ctx's timer marks it done: I/O bound by that deadline fails
// first.
func ended(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		return context.DeadlineExceeded
	}
	return nil
}

type runner struct {
	cfg    Config
	env    env
	rules  []Rule
	report *Report
}

// A FieldError says what is wrong with one field of a [Config], named as
// in Go ("Timeout"); [Config.Validate] joins one per field at fault with
// [errors.Join].
type FieldError struct {
	Field   string
	Problem string
}

// Error returns "Field: problem".
func (e *FieldError) Error() string { return e.Field + ": " + e.Problem }

// Validate reports every field of c that cannot make a check, each as a
// [*FieldError], joined; nil when [Run] would start.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Problem: fmt.Sprintf(format, args...)})
	}
	if c.Target == nil {
		bad("Target", "no target given")
	}
	if c.Role != msnp.NS && c.Role != msnp.DS {
		bad("Role", "unknown role %d", c.Role)
	}
	if c.Timeout < 0 {
		bad("Timeout", "%v: must not be negative", c.Timeout)
	}
	if c.LongLine != 0 && c.LongLine < MinLongLine {
		bad("LongLine", "%d bytes is not over-long: want at least %d", c.LongLine, MinLongLine)
	}
	if c.Dialects != nil && len(c.Dialects) == 0 {
		bad("Dialects", "no dialect offered")
	}
	for _, d := range c.Dialects {
		if _, err := msnp.Lookup(d); err != nil {
			bad("Dialects", "%v", err)
		}
	}
	switch rs := c.rules(); {
	case len(rs) == 0:
		bad("Run", "%q matches no rule ID", c.Run)
	case !slices.ContainsFunc(rs, func(r Rule) bool { return r.AppliesTo(c.Role) }):
		bad("Run", "%q matches no rule for a %s", c.Run, roleNames([]msnp.Role{c.Role}))
	}
	return errors.Join(errs...)
}

// rules returns the rules Run selects, in order.
func (c Config) rules() []Rule {
	var rs []Rule
	for _, r := range Rules() {
		if c.Run == nil || c.Run.MatchString(r.ID) {
			rs = append(rs, r)
		}
	}
	return rs
}

func newRunner(cfg Config) (*runner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Timeout = cmp.Or(cfg.Timeout, DefaultTimeout)
	cfg.LongLine = cmp.Or(cfg.LongLine, DefaultLongLine)
	offered := cfg.Dialects
	if offered == nil {
		offered = msnp.Dialects()
	}
	return &runner{
		cfg:   cfg,
		env:   env{role: cfg.Role, offered: slices.Clone(offered), longLine: cfg.LongLine},
		rules: cfg.rules(),
		report: &Report{Target: fmt.Sprint(cfg.Target), Role: cfg.Role.String(), Offered: slices.Clone(offered),
			Strict: cfg.Strict},
	}, nil
}

// discover checks that the target answers VER, then learns which offered
// dialects it speaks by probing as clients send VER: each MSNP dialect
// with CVR0 after it (CVR0 alone for CVR0). A target that speaks an MSNP
// dialect is then offered the highest one alone: if it refuses, every VER
// of the run lists CVR0.
func (r *runner) discover(ctx context.Context) error {
	e := &r.env
	first := step{send: verLine(1, withCVR0(e.offered)...), want: want{alts: []alt{{answer: anyReply}}}}
	obs, err := r.exec(ctx, exchange{steps: []step{first}})
	if err != nil {
		return fmt.Errorf("%s: %w", r.report.Target, err)
	}
	if l := obs[0].lines; len(l) == 0 || l[0].err != nil || l[0].reply.Kind != msnp.ReplyVER {
		return fmt.Errorf("%s does not answer VER (sent %q, got %s)", r.report.Target,
			showSent(first.send), obs[0])
	}
	e.speaks = []msnp.Dialect{}
	for _, d := range e.offered {
		picked, err := r.picks(ctx, d, withCVR0([]msnp.Dialect{d})...)
		if err != nil {
			return err
		}
		if picked {
			e.speaks = append(e.speaks, d)
		}
	}
	if v, ok := e.pick(true, func(msnp.Version) bool { return true }); ok {
		alone, err := r.picks(ctx, v.Dialect, v.Dialect)
		if err != nil {
			return err
		}
		e.needsCVR0 = !alone
	}
	r.report.Speaks = slices.Clone(e.speaks)
	r.report.NeedsCVR0 = e.needsCVR0
	if v, skip := e.cvrDialect(); skip == "" {
		r.report.CVRDialect = v.Dialect
	}
	return nil
}

// picks reports whether the target answers a VER listing ds by choosing d.
func (r *runner) picks(ctx context.Context, d msnp.Dialect, ds ...msnp.Dialect) (bool, error) {
	probe := step{send: verLine(1, ds...), want: want{trid: 1, hasTrID: true, alts: []alt{{answer: verChosen, dialect: d}}}}
	obs, err := r.exec(ctx, exchange{steps: []step{probe}})
	if err != nil {
		return false, fmt.Errorf("%s: %w", r.report.Target, err)
	}
	c, _ := probe.want.judge(obs[0])
	return c == met, nil
}

// withCVR0 returns ds with CVR0 last, as clients list it.
func withCVR0(ds []msnp.Dialect) []msnp.Dialect {
	if slices.Contains(ds, msnp.CVR0) {
		return ds
	}
	return append(slices.Clip(ds), msnp.CVR0)
}

// play runs the rules in order, checking before the first risky rule and
// after every rule that the target still answers: a rule after which it
// stops answering fails, and the rules after it are skipped.
func (r *runner) play(ctx context.Context) {
	probed := false
	for _, rule := range r.rules {
		res := Result{Rule: rule.ID, Title: rule.Title, Source: rule.Source, Severity: rule.Severity, Risky: rule.Risky}
		switch {
		case ended(ctx) != nil:
			r.report.Interrupted = true
			r.skip(res, "interrupted")
			continue
		case r.report.Stopped != "":
			r.skip(res, "target stopped answering")
			continue
		case !rule.AppliesTo(r.cfg.Role):
			res.Verdict, res.Reason = Skip, fmt.Sprintf("for a %s; this run is -role %s", roleNames(rule.Roles), r.cfg.Role)
			r.add(res, false)
			continue
		}
		x, why := rule.plan(&r.env)
		if why != "" {
			r.skip(res, why)
			continue
		}
		if rule.Risky && !probed {
			probed = true
			if why := r.alive(ctx); why != "" {
				r.report.Stopped = "before the risky rules: " + why
				r.skip(res, "target stopped answering")
				continue
			}
		}
		res = r.judge(ctx, res, x)
		if ended(ctx) != nil {
			r.report.Interrupted = true
			r.skip(res, "interrupted")
			continue
		}
		if why := r.alive(ctx); why != "" && ended(ctx) == nil {
			if res.Verdict == Skip { // could not connect: it died before this rule
				r.report.Stopped = "before " + rule.ID + ": " + why
				res.Reason = "target stopped answering"
			} else {
				r.report.Stopped = "after " + rule.ID + ": " + why
				res.Verdict = Fail
				res.Got += stoppedSuffix
				res.Reason = "the target stopped answering after this rule (" + why + ")"
			}
		}
		r.add(res, true)
	}
}

// stoppedSuffix ends what came back for a rule after which the target
// stopped answering.
const stoppedSuffix = ", then stopped answering"

// judge plays the exchange and gives the verdict. A rule that cannot
// connect is tried once more, and skipped if it still cannot.
func (r *runner) judge(ctx context.Context, res Result, x exchange) Result {
	for _, s := range x.steps {
		switch {
		case s.show != "":
			res.Sent = append(res.Sent, s.show)
		case len(s.send) > 0:
			res.Sent = append(res.Sent, showSent(s.send))
		}
	}
	obs, err := r.exec(ctx, x)
	if err != nil {
		obs, err = r.exec(ctx, x)
	}
	if err != nil {
		res.Verdict, res.Reason = Skip, err.Error()
		return res
	}
	last := x.steps[len(x.steps)-1]
	res.Expected = last.want.String()
	o := obs[len(obs)-1]
	res.Got = o.String()
	cls, why := met, ""
	for i, s := range x.steps[:len(obs)] {
		if cls, why = s.want.judge(obs[i]); cls != met {
			if i < len(x.steps)-1 {
				res.Expected, res.Got = s.want.String(), obs[i].String()
			}
			if i < len(x.steps)-1 && !s.checked {
				why = "setting up (" + showSent(s.send) + "): " + why
			}
			break
		}
	}
	switch {
	case cls != met:
	case len(obs) < len(x.steps):
		cls, why = deviation, "the exchange stopped after step "+strconv.Itoa(len(obs))
	case x.extra != nil:
		if why = x.extra(obs); why != "" {
			cls = deviation
		}
	}
	switch cls {
	case met:
		res.Verdict = Pass
	case deviation:
		res.Verdict, res.Reason = res.Severity, why
	default:
		res.Verdict, res.Reason = Fail, why
	}
	if res.Verdict == Warn && r.cfg.Strict {
		res.Verdict = Fail
	}
	return res
}

// alive checks that the target still answers: a valid VER gets a reply
// and, when a dialect takes CVR, so does a valid CVR after it. Any reply
// line will do: whether it is the right one is for the rules to judge. It
// returns what went wrong, or "".
func (r *runner) alive(ctx context.Context) string {
	answered := want{alts: []alt{{answer: anyReply}}}
	x := exchange{steps: []step{{send: verLine(1, r.env.verList(r.env.offered...)...), want: answered}}}
	if v, skip := r.env.cvrDialect(); skip == "" {
		x.steps = []step{{send: verLine(1, r.env.verList(v.Dialect)...), want: answered},
			{send: shaped(preLogin, v, 2), want: answered}}
	}
	obs, err := r.exec(ctx, x)
	if err != nil {
		return err.Error()
	}
	for i, o := range obs {
		if c, why := x.steps[i].want.judge(o); c != met {
			return fmt.Sprintf("a valid %s got %s (%s)", showSent(x.steps[i].send), o, why)
		}
	}
	if len(obs) < len(x.steps) {
		return "the exchange stopped early"
	}
	return ""
}

// skip adds the result of an applicable rule that did not run.
func (r *runner) skip(res Result, why string) {
	res.Verdict, res.Reason = Skip, why
	r.add(res, true)
}

// add adds a result to the report; applicable says whether the rule is
// for the role of the run.
func (r *runner) add(res Result, applicable bool) {
	s := &r.report.Summary
	s.Rules++
	if applicable {
		s.Applicable++
	}
	switch res.Verdict {
	case Pass:
		s.Pass++
	case Warn:
		s.Warn++
	case Fail:
		s.Fail++
	case Skip:
		s.Skip++
	}
	r.report.Results = append(r.report.Results, res)
	if r.cfg.OnResult != nil {
		r.cfg.OnResult(res)
	}
}

// exec plays an exchange on a fresh connection and returns what came back
// for each step played: it stops after the first step whose answer does
// not meet its expectation. The error is for a failed connect only.
func (r *runner) exec(ctx context.Context, x exchange) ([]observation, error) {
	dctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	conn, err := r.cfg.Target.Dial(dctx)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	c := msnp.NewClient(conn, msnp.ClientConfig{})
	defer c.Close()
	obs := make([]observation, 0, len(x.steps))
	for _, s := range x.steps {
		o := r.step(ctx, c, s)
		obs = append(obs, o)
		if cls, _ := s.want.judge(o); cls != met || o.end != endEnough {
			break
		}
	}
	return obs, nil
}

// step sends one step's bytes and reads its answer: lines until the
// expectation is decided, a close, or the timeout.
func (r *runner) step(ctx context.Context, c *msnp.Client, s step) observation {
	var o observation
	var werr error
	writes := [][]byte{s.send}
	if s.apart {
		writes = bytes.SplitAfter(s.send, []byte("\n"))
	}
	for _, b := range writes {
		if werr != nil {
			break
		}
		if len(b) == 0 {
			continue
		}
		wctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
		werr = c.WriteLine(wctx, b)
		cancel()
	}
	for s.want.more(o.lines) {
		rctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
		text, err := c.ReadLine(rctx)
		cancel()
		if err != nil && !errors.Is(err, msnp.ErrBareLF) {
			o.end, o.err = classify(err)
			if o.end == endError && werr != nil {
				o.end, o.err = classify(werr)
			}
			return o
		}
		l := line{text: string(text), bareLF: err != nil}
		l.reply, l.err = msnp.ParseReply(text)
		o.lines = append(o.lines, l)
	}
	return o
}

// classify names how a read ended.
func classify(err error) (end, error) {
	switch msnp.EndOf(err) {
	case msnp.EndClosed:
		return endClosed, nil
	case msnp.EndReset, msnp.EndBrokenPipe:
		return endReset, nil
	case msnp.EndTimeout:
		return endTimeout, nil
	case msnp.EndTooLong:
		return endTooLong, nil
	}
	return endError, err
}

func roleNames(rs []msnp.Role) string {
	s := ""
	for i, role := range rs {
		if i > 0 {
			s += " or "
		}
		if role == msnp.DS {
			s += "Dispatch Server"
		} else {
			s += "Notification Server"
		}
	}
	return s
}
