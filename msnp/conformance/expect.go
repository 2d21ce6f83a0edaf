package conformance

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/cvrswarm/cvrswarm/msnp"
)

// An exchange is what a rule does on its connection: steps played in
// order, each judged before the next is sent. Every step but the last sets
// the rule up (normally the VER); the last one is what the rule is about.
type exchange struct {
	steps []step
	// extra, when set, judges the whole exchange once the last step
	// matched: it returns what is wrong, or "".
	extra func(obs []observation) string
}

// A step sends bytes exactly as given and says what should come back.
type step struct {
	send    []byte // nothing, for a step that reads the next answer to an earlier one
	apart   bool   // each line of send in its own write, not all in one
	show    string // how the report shows what was sent; "" = from send
	want    want
	checked bool // a step before the last that the rule checks, not one that sets it up
}

// want is what a step expects: one of several acceptable answers, all
// carrying the TrID of the request when it has one.
type want struct {
	trid    uint32
	hasTrID bool
	alts    []alt
	label   string // how the report shows the expectation; "" = from alts
	// errorsFirst is how many error lines of another TrID (or none) may
	// come before the answer: the answers to lines sent before the request.
	errorsFirst int
}

// answer returns lines without the error lines that may come first.
func (w want) answer(lines []line) []line {
	for n := 0; n < w.errorsFirst && len(lines) > 0 && lines[0].isError() &&
		!(w.hasTrID && lines[0].err == nil && lines[0].reply.TrID == w.trid); n++ {
		lines = lines[1:]
	}
	return lines
}

// answer is the kind of line an [alt] expects first.
type answer uint8

const (
	noReply    answer = iota // no line at all (with closes: closed without a reply)
	anyReply                 // any line
	verChosen                // "VER trid dialect", a CVR0 echo allowed
	verRefused               // "VER trid 0"
	cvrReply                 // a CVR (or CVQ) reply
	codeReply                // a numeric error: code, or any code when code is 0
)

// alt is one acceptable answer to a step.
type alt struct {
	answer  answer
	dialect msnp.Dialect // for verChosen
	command string       // for cvrReply: "CVR" or "CVQ"
	code    int          // for codeReply; 0 = any code
	closes  bool         // the server closes the connection after it
}

// end is how the reading of a step's answer stopped.
type end uint8

const (
	endEnough  end = iota // enough was read to judge
	endClosed             // the server closed the connection
	endReset              // the connection was reset
	endTimeout            // nothing more came within the timeout
	endTooLong            // a reply line was longer than the reader's limit
	endError              // another I/O error (in observation.err)
)

// line is one reply line as it came, parsed when it parses.
type line struct {
	text   string
	bareLF bool
	reply  msnp.Reply
	err    error // from msnp.ParseReply
}

// isError reports whether the line is a numeric error: three digits
// first, with or without a TrID after them.
func (l line) isError() bool {
	code, _, _ := strings.Cut(l.text, " ")
	if len(code) != 3 {
		return false
	}
	for _, c := range []byte(code) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// observation is what came back in answer to one step.
type observation struct {
	lines []line
	end   end
	err   error // for endError
}

// closed reports whether the server closed (or reset) the connection.
func (o observation) closed() bool { return o.end == endClosed || o.end == endReset }

// maxLines bounds how many reply lines a step reads.
const maxLines = 4

// more reports whether a step should read another line after the lines
// read so far: only when an answer that needs a close has been matched.
func (w want) more(lines []line) bool {
	lines = w.answer(lines)
	if len(lines) == 0 {
		return true
	}
	if len(lines) >= maxLines {
		return false
	}
	for _, a := range w.alts {
		if a.answer != noReply && !a.closes && a.matchLine(lines[0]) {
			return false
		}
	}
	for _, a := range w.alts {
		if a.answer != noReply && a.closes && len(lines) == 1 && a.matchLine(lines[0]) {
			return true
		}
	}
	return false
}

// matchLine reports whether l is the line a expects (the TrID is judged
// apart, in [want.judge]).
func (a alt) matchLine(l line) bool {
	if a.answer == anyReply {
		return true
	}
	if l.err != nil {
		return false
	}
	r := l.reply
	switch a.answer {
	case verChosen:
		if r.Kind != msnp.ReplyVER || r.VER.Chosen() != a.dialect {
			return false
		}
		for _, d := range r.VER.Dialects {
			if d != a.dialect && d != msnp.CVR0 {
				return false
			}
		}
		return true
	case verRefused:
		return r.Kind == msnp.ReplyVER && r.VER.Refused()
	case cvrReply:
		return r.Kind == msnp.ReplyCVR && r.Command == a.command
	case codeReply:
		return r.Kind == msnp.ReplyError && (a.code == 0 || r.Code == a.code)
	}
	return false
}

// matches reports whether the whole observation is the answer a expects.
func (a alt) matches(o observation) bool {
	if a.answer == noReply {
		return len(o.lines) == 0 && o.closed()
	}
	if len(o.lines) == 0 || !a.matchLine(o.lines[0]) {
		return false
	}
	return !a.closes || (len(o.lines) == 1 && o.closed())
}

// class is how an observation stands against a step's expectation.
type class uint8

const (
	met       class = iota // one of the acceptable answers came
	deviation              // none did: the rule's severity decides
	violation              // a wrong TrID: a failure whatever the severity
)

// judge compares an observation with the expectation.
func (w want) judge(o observation) (class, string) {
	o.lines = w.answer(o.lines)
	if w.hasTrID {
		for _, l := range o.lines {
			if l.err == nil && l.reply.TrID != w.trid {
				return violation, fmt.Sprintf("reply %q carries TrID %d, the request %d", l.text, l.reply.TrID, w.trid)
			}
		}
	}
	for _, a := range w.alts {
		if a.matches(o) {
			return met, ""
		}
	}
	return deviation, w.why(o)
}

// why explains a deviation in a few words.
func (w want) why(o observation) string {
	switch {
	case o.end == endTooLong:
		return "a reply line was longer than " + strconv.Itoa(msnp.DefaultMaxLineLength) + " bytes"
	case o.end == endError:
		return fmt.Sprintf("reading the reply: %v", o.err)
	case len(o.lines) > 0 && o.lines[0].err != nil:
		return fmt.Sprintf("unexpected reply: %v", o.lines[0].err)
	}
	for _, a := range w.alts {
		if a.answer != noReply && a.closes && len(o.lines) > 0 && a.matchLine(o.lines[0]) {
			if len(o.lines) > 1 {
				return "more lines after the reply instead of a close"
			}
			return "the connection stayed open after the reply"
		}
	}
	switch {
	case len(o.lines) > 0:
		return w.unexpected(o.lines[0].reply)
	case o.end == endTimeout:
		return "no reply and no close within the timeout"
	}
	return "closed without a reply"
}

// unexpected explains a reply that matches no acceptable answer.
func (w want) unexpected(r msnp.Reply) string {
	if len(w.alts) == 0 {
		return "unexpected reply"
	}
	a := w.alts[0]
	switch {
	case a.answer == noReply && a.closes:
		return "answered where it should close the connection without a reply"
	case a.answer == codeReply && r.Kind == msnp.ReplyCVR:
		return fmt.Sprintf("served a request the spec refuses with %d", a.code)
	case a.answer == codeReply && r.Kind == msnp.ReplyError:
		return fmt.Sprintf("refused with %d instead of %d", r.Code, a.code)
	case a.answer == cvrReply && r.Kind == msnp.ReplyError:
		return fmt.Sprintf("refused a valid request with %d (%s)", r.Code, msnp.CodeName(r.Code))
	case a.answer == verChosen && r.Kind == msnp.ReplyVER:
		return fmt.Sprintf("chose %q, not %s", r.VER.Chosen(), a.dialect)
	}
	return "unexpected reply"
}

// String shows the expectation: "710 5", "VER 1 0, close" (the reply, then
// a close), "close" (a close without a reply), alternatives joined by "|".
func (w want) String() string {
	if w.label != "" {
		return w.label
	}
	parts := make([]string, 0, len(w.alts))
	for _, a := range w.alts {
		parts = append(parts, a.show(w.trid, w.hasTrID))
	}
	return strings.Join(parts, "|")
}

func (a alt) show(trid uint32, hasTrID bool) string {
	t := "TrID"
	if hasTrID {
		t = strconv.FormatUint(uint64(trid), 10)
	}
	var s string
	switch a.answer {
	case noReply:
		if a.closes {
			return "close"
		}
		return "no reply"
	case anyReply:
		s = "any reply"
	case verChosen:
		s = "VER " + t + " " + string(a.dialect)
	case verRefused:
		s = "VER " + t + " 0"
	case cvrReply:
		s = a.command + " " + t + " ..."
	case codeReply:
		if a.code == 0 {
			s = "NNN " + t
		} else {
			s = strconv.Itoa(a.code) + " " + t
		}
	}
	if a.closes {
		s += ", close"
	}
	return s
}

// String shows what came back: the reply lines, then "closed", "reset",
// "silent" (nothing at all) or "open" (no close after the lines), joined
// by ", ".
func (o observation) String() string {
	parts := make([]string, 0, len(o.lines)+1)
	for _, l := range o.lines {
		s := showLine(l.text)
		if l.bareLF {
			s += " (bare LF)"
		}
		parts = append(parts, s)
	}
	switch o.end {
	case endClosed:
		parts = append(parts, "closed")
	case endReset:
		parts = append(parts, "reset")
	case endTimeout:
		if len(o.lines) == 0 {
			parts = append(parts, "silent")
		} else {
			parts = append(parts, "open")
		}
	case endTooLong:
		parts = append(parts, "reply line too long")
	case endError:
		parts = append(parts, fmt.Sprintf("error: %v", o.err))
	}
	return strings.Join(parts, ", ")
}

// showLine shows a line as it is when it is printable ASCII, else Go-quoted
// so that control bytes, a bare LF and non-ASCII bytes are visible.
func showLine(s string) string {
	if q := strconv.QuoteToASCII(s); q[1:len(q)-1] != s {
		return q
	}
	return s
}

// showSent shows bytes sent: the line without its CRLF, or quoted when it
// ends otherwise or holds bytes that are not printable ASCII.
func showSent(b []byte) string {
	s := string(b)
	if t, ok := strings.CutSuffix(s, "\r\n"); ok && !strings.Contains(t, "\n") && showLine(t) == t {
		return t
	}
	return strconv.QuoteToASCII(s)
}

// oracle returns what a server of the given role answers to line after
// negotiating v, as msnp.Expect says: a close without a reply when it
// takes no CVR in v (an out-of-context command), 731 for a line that does
// not parse (a close when it has no TrID to answer with), the code
// CheckRequest gives, or a CVR (CVQ) reply.
func oracle(raw string, v msnp.Version, role msnp.Role) want {
	ans := msnp.Expect([]byte(strings.TrimRight(raw, "\r\n")), v, role)
	switch {
	case !ans.Reply:
		return want{alts: []alt{{answer: noReply, closes: true}}}
	case ans.Code != 0:
		return want{trid: ans.TrID, hasTrID: true, alts: []alt{{answer: codeReply, code: ans.Code}}}
	}
	return want{trid: ans.TrID, hasTrID: true, alts: []alt{{answer: cvrReply, command: v.Command}}}
}

// lastReply returns the first reply line of the last step, parsed.
func lastReply(obs []observation) (msnp.Reply, bool) {
	if len(obs) == 0 || len(obs[len(obs)-1].lines) == 0 || obs[len(obs)-1].lines[0].err != nil {
		return msnp.Reply{}, false
	}
	return obs[len(obs)-1].lines[0].reply, true
}

// checkCVRFields judges the fields of a CVR reply: three client versions,
// then URLs when present.
func checkCVRFields(obs []observation) string {
	r, ok := lastReply(obs)
	if !ok {
		return ""
	}
	for _, f := range []struct{ name, v string }{
		{"recommended-version", r.CVR.Recommended},
		{"recommended-version-2", r.CVR.Recommended2},
		{"minimum-allowed-version", r.CVR.Minimum},
	} {
		if _, err := msnp.ParseClientVersion(f.v); err != nil {
			return fmt.Sprintf("%s %q is not a client version", f.name, f.v)
		}
	}
	for _, f := range []struct{ name, v string }{
		{"download-url", r.CVR.DownloadURL},
		{"fallback-url", r.CVR.FallbackURL},
	} {
		if f.v == "" {
			continue
		}
		if u, err := url.Parse(f.v); err != nil || !u.IsAbs() || u.Host == "" {
			return fmt.Sprintf("%s %q is not an absolute URL", f.name, f.v)
		}
	}
	return ""
}

// checkCVRURLs reports a CVR reply that leaves out its URLs.
func checkCVRURLs(obs []observation) string {
	r, ok := lastReply(obs)
	if !ok || r.CVR.Params == 5 {
		return ""
	}
	return fmt.Sprintf("the reply has %d fields; download-url and fallback-url make 5", r.CVR.Params)
}

// checkCRLF reports a reply line ended by a bare LF.
func checkCRLF(obs []observation) string {
	for _, o := range obs {
		for _, l := range o.lines {
			if l.bareLF {
				return fmt.Sprintf("reply %q ends in a bare LF, not CRLF", l.text)
			}
		}
	}
	return ""
}
