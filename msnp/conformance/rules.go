package conformance

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/cvrswarm/cvrswarm/msnp"
)

// plan builds a rule's exchange from what the run knows, or says why the
// rule cannot run.
type plan = func(e *env) (exchange, string)

// Rule is one check: a scripted exchange on a fresh connection and the
// answer a conformant server gives.
type Rule struct {
	ID       string      // short and stable, for -run: "cvr-710-locale"
	Title    string      // what a conformant server does
	Source   string      // where the expectation comes from: "msnp/PROTOCOL.md §1.3 VER"
	Sends    string      // what the rule sends, in words
	Expects  string      // what it expects, in words
	Severity Verdict     // Fail, or Warn where real servers commonly differ
	Risky    bool        // likely to crash a fragile server: run last, liveness checked after
	Roles    []msnp.Role // the roles it applies to; nil = both
	plan     plan
}

// AppliesTo reports whether the rule is for a server of the role.
func (r Rule) AppliesTo(role msnp.Role) bool { return r.Roles == nil || slices.Contains(r.Roles, role) }

// Rules returns every rule in the order [Run] plays them: the risky ones
// last.
func Rules() []Rule {
	rs := slices.Clone(rules)
	slices.SortStableFunc(rs, func(a, b Rule) int {
		switch {
		case a.Risky == b.Risky:
			return 0
		case b.Risky:
			return -1
		}
		return 1
	})
	return rs
}

// env is what the rules know about the run: the role, the dialects the
// client offers and those the target was found to speak.
type env struct {
	role    msnp.Role
	offered []msnp.Dialect
	// speaks holds the offered dialects the target picks when offered
	// alone, an MSNP dialect with CVR0 after it as clients send it.
	speaks []msnp.Dialect
	// needsCVR0 is set when the target refuses an MSNP dialect it speaks
	// unless CVR0 is listed too: then every VER lists CVR0.
	needsCVR0 bool
	longLine  int
}

// negotiated is the dialect the target should pick from the offered list.
func (e *env) negotiated() msnp.Dialect { return msnp.Negotiate(e.offered, e.speaks) }

func (e *env) offersCVR0() bool { return slices.Contains(e.offered, msnp.CVR0) }

// verList returns the dialects as a VER of the run lists them: CVR0 added
// last when the client offers it or the target needs it, as clients end
// their list.
func (e *env) verList(ds ...msnp.Dialect) []msnp.Dialect {
	if e.offersCVR0() || e.needsCVR0 {
		return withCVR0(ds)
	}
	return ds
}

func (e *env) speaksCVR0() bool { return slices.Contains(e.speaks, msnp.CVR0) }

// pick returns the highest (or lowest) MSNP dialect the target speaks for
// which ok holds.
func (e *env) pick(highest bool, ok func(v msnp.Version) bool) (msnp.Version, bool) {
	var best msnp.Version
	found := false
	for _, d := range e.speaks {
		v, err := msnp.Lookup(d)
		if err != nil || v.Number == 0 || !ok(v) {
			continue
		}
		if !found || (highest && v.Number > best.Number) || (!highest && v.Number < best.Number) {
			best, found = v, true
		}
	}
	return best, found
}

// cvrDialect is the dialect of the CVR rules: the highest common one in
// which a server of the role takes CVR.
func (e *env) cvrDialect() (msnp.Version, string) {
	v, ok := e.pick(true, func(v msnp.Version) bool { return v.AcceptsCVR(e.role) })
	if !ok {
		return v, e.noDialect(fmt.Sprintf("in which a %s takes CVR", strings.ToUpper(e.role.String())))
	}
	return v, ""
}

// noDialect is the skip reason of a rule that needs a dialect the run
// lacks.
func (e *env) noDialect(what string) string {
	return fmt.Sprintf("no common dialect %s (offered %s; target speaks %s)", what,
		formatDialects(e.offered), formatDialects(e.speaks))
}

// verLine is a VER request.
func verLine(trid uint32, ds ...msnp.Dialect) []byte {
	r := msnp.VERRequest{TrID: trid, Dialects: ds}
	return r.Append(nil)
}

// handshake is the VER step that negotiates d, listing CVR0 after it as
// clients do (see [env.verList]).
func (e *env) handshake(trid uint32, d msnp.Dialect) step {
	return step{send: verLine(trid, e.verList(d)...), want: want{trid: trid, hasTrID: true,
		alts: []alt{{answer: verChosen, dialect: d}}}}
}

// verWant is the answer to a VER listing client: the negotiated dialect,
// or "VER trid 0" and a close.
func (e *env) verWant(trid uint32, client []msnp.Dialect) want {
	w := want{trid: trid, hasTrID: true}
	if d := msnp.Negotiate(client, e.speaks); d != "" {
		w.alts = []alt{{answer: verChosen, dialect: d}}
	} else {
		w.alts = []alt{{answer: verRefused, closes: true}}
	}
	return w
}

// request lines the rules send.
var (
	// preLogin is the pre-login example of msnp/PROTOCOL.md §2.4, shaped per dialect.
	preLogin = msnp.Request{Command: "CVR", Locale: "0x0409", SystemType: "winnt", SystemVer: "5.1",
		SystemArch: "i386", Library: "MSNMSGR", ClientVersion: "6.0.0602", ClientID: "MSMSGS",
		UserHandle: "example@hotmail.com", Params: 8}
	// cvqFallback is the CVQ of msnp/PROTOCOL.md §5 (MSN Messenger 1.0 after "VER n CVR0").
	cvqFallback = msnp.Request{Command: "CVQ", Locale: "0x0409", SystemType: "win", SystemVer: "4.10",
		SystemArch: "i386", Library: "MSMSGS", ClientVersion: "1.0.0863", ClientID: "MSMSGS", Params: 7}
)

// The refused CVRs of msnp/PROTOCOL.md §2.3, byte for byte.
const (
	seed420Version = "CVR 3 0x0409 winnt 5.0 i386 MSNMSGR 99.9.9999 MSMSGS\r\n"
	seed420Library = "CVR 4 0x0409 winnt 5.0 i386 YCOMM 0.1.0023 MSMSGS\r\n"
	seed710Locale  = "CVR 5 0x1111 winnt 5.1 MSNMSGR 6.0.0602 MSMSGS example@hotmail.com\r\n"
	seed731        = "CVR 6 spaghetti\r\n"
)

// shortLines are the lines of the line-empty rule: an empty line, one of
// one byte and one of spaces.
const shortLines = "\r\nx\r\n   \r\n"

// garbage is the binary line of the garbage rule: NUL, high bytes, an
// invalid UTF-8 sequence, an escape sequence and format verbs.
const garbage = "\x00\xff\xfe\x80CVR\x1b[2J %n%s%x \xc3\x28\t\v\f\x7f\x00\r\n"

// shaped returns req shaped for v (command and parameter count) with trid.
func shaped(req msnp.Request, v msnp.Version, trid uint32) []byte {
	r := req.Shape(v, req.UserHandle)
	r.TrID = trid
	return r.Append(nil)
}

// withParams returns req with n parameters, the user-handle included at 8.
func withParams(req msnp.Request, n int) msnp.Request {
	req.Params = n
	if n < 8 {
		req.UserHandle = ""
	}
	return req
}

// raw returns req as written, with trid.
func raw(req msnp.Request, trid uint32) []byte {
	req.TrID = trid
	return req.Append(nil)
}

// cvrAfterVER plans the rules that negotiate v and send one line, judged
// by the oracle.
func (e *env) cvrAfterVER(v msnp.Version, b []byte) exchange {
	return exchange{steps: []step{e.handshake(1, v.Dialect), {send: b, want: oracle(string(b), v, e.role)}}}
}

// onCVRDialect plans a rule that needs the CVR dialect.
func onCVRDialect(build func(e *env, v msnp.Version) exchange) plan {
	return func(e *env) (exchange, string) {
		v, skip := e.cvrDialect()
		if skip != "" {
			return exchange{}, skip
		}
		return build(e, v), ""
	}
}

// afterVER plans a rule that needs a dialect both sides speak.
func afterVER(build func(e *env, d msnp.Dialect) exchange) plan {
	return func(e *env) (exchange, string) {
		d := e.negotiated()
		if d == "" {
			return exchange{}, e.noDialect("")
		}
		return build(e, d), ""
	}
}

// cvrLine plans a rule that sends one line after negotiating the CVR
// dialect, judged by the oracle.
func cvrLine(b func(v msnp.Version) []byte) plan {
	return onCVRDialect(func(e *env, v msnp.Version) exchange { return e.cvrAfterVER(v, b(v)) })
}

// seedRule plans a rule that sends one of the lines of msnp/PROTOCOL.md §2.3 as it is.
func seedRule(s string) plan {
	return cvrLine(func(msnp.Version) []byte { return []byte(s) })
}

// tridRule plans a rule that sends a valid CVR with the given TrID.
func tridRule(trid uint32) plan {
	return cvrLine(func(v msnp.Version) []byte { return shaped(preLogin, v, trid) })
}

// seedExample is the rule that sends one of the refused CVRs of msnp/PROTOCOL.md §2.3
// and expects the code the oracle gives it.
func seedExample(id, title, line string) Rule {
	return Rule{ID: id, Title: title, Source: "msnp/PROTOCOL.md §2.3 Refusals: 420, 710, 731", Sends: strings.TrimSpace(line),
		Expects: oracle(line, msnp8, msnp.NS).String(), Severity: Warn, plan: seedRule(line)}
}

// msnp8 is the first dialect in which both roles take CVR.
var msnp8, _ = msnp.Lookup("MSNP8")

// tridEcho is the rule that sends a valid CVR with trid and expects it
// echoed.
func tridEcho(trid uint32, title string) Rule {
	n := strconv.FormatUint(uint64(trid), 10)
	return Rule{ID: "trid-" + n, Title: title, Source: "msnp/PROTOCOL.md §3.2 TrID (0 to 4294967295)",
		Sends: "a valid CVR with TrID " + n, Expects: "CVR " + n + " ...", Severity: Fail, plan: tridRule(trid)}
}

// fromMSNP8 plans a rule that negotiates the lowest common dialect from
// MSNP8 on in which the role takes CVR and sends req with params
// parameters, judged by the oracle.
func fromMSNP8(params int) plan {
	return func(e *env) (exchange, string) {
		v, ok := e.pick(false, func(v msnp.Version) bool { return v.Number >= 8 && v.AcceptsCVR(e.role) })
		if !ok {
			return exchange{}, e.noDialect("from MSNP8 on")
		}
		return e.cvrAfterVER(v, raw(withParams(preLogin, params), 2)), ""
	}
}

// before8 plans a rule that negotiates the highest common dialect before
// MSNP8 (one in which the role takes CVR, when taking is set) and sends
// the line b builds, judged by the oracle for the role.
func before8(taking bool, b func(v msnp.Version) []byte) plan {
	return func(e *env) (exchange, string) {
		v, ok := e.pick(true, func(v msnp.Version) bool { return v.Number < 8 && (!taking || v.AcceptsCVR(e.role)) })
		switch {
		case !ok && taking:
			return exchange{}, e.noDialect(fmt.Sprintf("before MSNP8 in which a %s takes CVR", strings.ToUpper(e.role.String())))
		case !ok:
			return exchange{}, e.noDialect("before MSNP8")
		}
		return e.cvrAfterVER(v, b(v)), ""
	}
}

// withExtra adds a judgement of the whole exchange to a plan.
func withExtra(p plan, extra func([]observation) string) plan {
	return func(e *env) (exchange, string) {
		x, skip := p(e)
		x.extra = extra
		return x, skip
	}
}

// closeAfter plans a rule whose last step must be followed by a close,
// whatever it answers first.
func closeAfter(p plan) plan {
	return func(e *env) (exchange, string) {
		x, skip := p(e)
		if skip != "" {
			return x, skip
		}
		last := &x.steps[len(x.steps)-1]
		last.want.alts = []alt{{answer: anyReply, closes: true}, {answer: noReply, closes: true}}
		last.want.label = "close (any reply)"
		return x, ""
	}
}

// answered is the answer to a valid request in dialect v where what it
// answers is other rules' business (cvr-valid's): a CVR (CVQ) reply or an
// error, with trid.
func answered(trid uint32, v msnp.Version) want {
	return want{trid: trid, hasTrID: true, alts: []alt{{answer: cvrReply, command: v.Command}, {answer: codeReply}}}
}

// outOfContext is the answer to a command the server does not take where
// it is sent: no reply, and a close (msnp/PROTOCOL.md §4.2).
var outOfContext = want{alts: []alt{{answer: noReply, closes: true}}}

// rules is the table of every rule, in the order they run.
var rules = []Rule{
	{
		ID: "ver-highest", Title: "VER gets the highest dialect both sides speak",
		Source: "msnp/PROTOCOL.md §1.3 VER",
		Sends:  "VER 1 with every offered dialect, newest first",
		Expects: "VER 1 and the highest common dialect (a CVR0 echo allowed); " +
			"VER 1 0 and a close when none is common",
		Severity: Fail,
		plan: func(e *env) (exchange, string) {
			ds := e.verList(e.offered...)
			return exchange{steps: []step{{send: verLine(1, ds...), want: e.verWant(1, ds)}}}, ""
		},
	},
	{
		ID: "ver-any-order", Title: "The highest common dialect wins whatever the order of the list",
		Source:   "msnp/PROTOCOL.md §1.3 VER",
		Sends:    "VER 1 with the offered MSNP dialects oldest first, then CVR0",
		Expects:  "VER 1 and the highest common dialect",
		Severity: Fail,
		plan: func(e *env) (exchange, string) {
			var msnps []msnp.Dialect
			for _, d := range e.offered {
				if d != msnp.CVR0 && slices.Contains(e.speaks, d) {
					msnps = append(msnps, d)
				}
			}
			if len(msnps) < 2 {
				return exchange{}, e.noDialect("beyond one MSNP version")
			}
			ds := slices.DeleteFunc(slices.Clone(e.offered), func(d msnp.Dialect) bool { return d == msnp.CVR0 })
			slices.Reverse(ds)
			ds = e.verList(ds...)
			return exchange{steps: []step{{send: verLine(1, ds...), want: e.verWant(1, ds)}}}, ""
		},
	},
	{
		ID: "ver-unknown-names", Title: "Dialect names the server does not know are passed over",
		Source:   "msnp/PROTOCOL.md §1.3 VER",
		Sends:    "VER 1 MSNP99 MSNPX then the offered dialects",
		Expects:  "VER 1 and the highest common dialect",
		Severity: Fail,
		plan: func(e *env) (exchange, string) {
			ds := append([]msnp.Dialect{"MSNP99", "MSNPX"}, e.verList(e.offered...)...)
			return exchange{steps: []step{{send: verLine(1, ds...), want: e.verWant(1, ds)}}}, ""
		},
	},
	{
		ID: "ver-none", Title: "A VER with no acceptable dialect gets VER n 0, then a close",
		Source:   "msnp/PROTOCOL.md §1.3 VER",
		Sends:    "VER 1 DISREGARDANCE FOR A REAL PROTOCOL",
		Expects:  "VER 1 0, then a close",
		Severity: Fail,
		plan: func(e *env) (exchange, string) {
			return exchange{steps: []step{{send: []byte("VER 1 DISREGARDANCE FOR A REAL PROTOCOL\r\n"),
				want: want{trid: 1, hasTrID: true, alts: []alt{{answer: verRefused, closes: true}}}}}}, ""
		},
	},
	{
		ID: "ver-no-trid", Title: "A VER without a TrID gets a close",
		Source:   "msnp/PROTOCOL.md §1.3 VER",
		Sends:    "VER <highest common dialect> CVR0 (no TrID)",
		Expects:  "a close, no reply",
		Severity: Fail,
		plan: func(e *env) (exchange, string) {
			d := e.negotiated()
			if d == "" {
				d = e.offered[0]
			}
			withTrID := verLine(1, e.verList(d)...)
			b := append([]byte("VER"), withTrID[len("VER 1"):]...)
			return exchange{steps: []step{{send: b, want: outOfContext}}}, ""
		},
	},
	{
		ID: "ver-twice", Title: "A second VER is refused: 715, then a close",
		Source:   "msnp/PROTOCOL.md §1.3 VER, §9 How real servers answer (unspecified; Escargot's answer)",
		Sends:    "VER 1 <dialect> CVR0, then VER 2 <dialect> CVR0",
		Expects:  "715 2 and a close, or a close",
		Severity: Warn,
		plan: afterVER(func(e *env, d msnp.Dialect) exchange {
			second := e.handshake(2, d)
			second.want.alts = []alt{{answer: codeReply, code: msnp.CodeNotExpected, closes: true}, {answer: noReply, closes: true}}
			return exchange{steps: []step{e.handshake(1, d), second}}
		}),
	},
	{
		ID: "cvr-valid", Title: "A valid CVR gets a CVR reply with its TrID and client versions",
		Source:   "msnp/PROTOCOL.md §2.2 Reply fields, §2.4 Examples: post-login and pre-login",
		Sends:    "the pre-login CVR of msnp/PROTOCOL.md §2.4, shaped for the CVR dialect",
		Expects:  "CVR 2 recommended recommended-2 minimum {download-url fallback-url}",
		Severity: Fail,
		plan:     withExtra(tridRule(2), checkCVRFields),
	},
	{
		ID: "cvr-reply-urls", Title: "The CVR reply carries download-url and fallback-url",
		Source:   "msnp/PROTOCOL.md §2.2 Reply fields, §9 How real servers answer (mock servers leave them out)",
		Sends:    "the pre-login CVR of msnp/PROTOCOL.md §2.4, shaped for the CVR dialect",
		Expects:  "a CVR reply with 5 fields",
		Severity: Warn,
		plan:     withExtra(tridRule(2), checkCVRURLs),
	},
	seedExample("cvr-420-version", "An impossible client version gets 420", seed420Version),
	seedExample("cvr-420-library", "A foreign requesting-library gets 420", seed420Library),
	seedExample("cvr-710-locale", "An invalid locale gets 710", seed710Locale),
	seedExample("cvr-731-malformed", "A malformed CVR gets 731", seed731),
	{
		ID: "cvr-731-close", Title: "The server disconnects after a malformed CVR",
		Source:   "msnp/PROTOCOL.md §2.3 Refusals: 420, 710, 731, §4.3 Disconnect rules",
		Sends:    strings.TrimSpace(seed731),
		Expects:  "a close after the reply (731 6)",
		Severity: Warn,
		plan:     closeAfter(seedRule(seed731)),
	},
	tridEcho(1<<16, "A TrID above 2^16 is echoed"),
	tridEcho(1<<31, "A TrID above 2^31 is echoed"),
	tridEcho(1<<32-1, "The largest TrID is echoed"),
	{
		ID: "trid-0", Title: "TrID 0 is legal and echoed",
		Source: "msnp/PROTOCOL.md §3.2 TrID (allowed but best avoided; OpenMSN refuses it)", Sends: "a valid CVR with TrID 0",
		Expects: "CVR 0 ...", Severity: Warn, plan: tridRule(0),
	},
	{
		ID: "trid-overflow", Title: "A TrID above 4294967295 gets a close",
		Source:   "msnp/PROTOCOL.md §3.2 TrID, §9 How real servers answer (the Go msn_server closes; Escargot echoes any token)",
		Sends:    "a valid CVR with TrID 4294967296",
		Expects:  "a close, no reply",
		Severity: Warn,
		plan: cvrLine(func(v msnp.Version) []byte {
			return []byte(strings.Replace(string(shaped(preLogin, v, 1)), " 1 ", " 4294967296 ", 1))
		}),
	},
	{
		ID: "cvr-msnp8-handle", Title: "From MSNP8, a CVR carries the user-handle",
		Source:   "msnp/PROTOCOL.md §2.1 Request fields (user-handle since MSNP8)",
		Sends:    "VER 1 <lowest common dialect from MSNP8>, then a CVR with 8 parameters",
		Expects:  "a CVR reply",
		Severity: Fail,
		plan:     fromMSNP8(8),
	},
	{
		ID: "cvr-msnp8-no-handle", Title: "From MSNP8, the user-handle may be left out",
		Source:   "msnp/PROTOCOL.md §2.1 Request fields, §8 CVR lines real clients send (clients leave the user-handle out)",
		Sends:    "VER 1 <lowest common dialect from MSNP8>, then a CVR with 7 parameters",
		Expects:  "a CVR reply",
		Severity: Fail,
		plan:     fromMSNP8(7),
	},
	{
		ID: "cvr-pre8-handle", Title: "Before MSNP8, a CVR with a user-handle is malformed",
		Source:   "msnp/PROTOCOL.md §2.1 Request fields; msnp/validate.go",
		Sends:    "VER 1 <highest common dialect before MSNP8>, then a CVR with 8 parameters",
		Expects:  "731 2",
		Severity: Warn,
		plan:     before8(true, func(msnp.Version) []byte { return raw(preLogin, 2) }),
	},
	{
		ID: "cvr-ns-pre8", Title: "A Notification Server takes CVR before MSNP8",
		Source:   "msnp/PROTOCOL.md §1.2 Which server takes CVR, per version, §2.4 Examples: post-login and pre-login",
		Sends:    "VER 1 <highest common dialect before MSNP8>, then a CVR shaped for it",
		Expects:  "a CVR reply",
		Severity: Fail, Roles: []msnp.Role{msnp.NS},
		plan: before8(false, func(v msnp.Version) []byte { return shaped(preLogin, v, 2) }),
	},
	{
		ID: "cvr-ds-pre8", Title: "A Dispatch Server takes no CVR before MSNP8",
		Source:   "msnp/PROTOCOL.md §1.2 Which server takes CVR, per version, §4.2 Commands out of context",
		Sends:    "VER 1 <highest common dialect before MSNP8>, then a CVR shaped for it",
		Expects:  "a close, no reply (out of context)",
		Severity: Warn, Roles: []msnp.Role{msnp.DS},
		plan: before8(false, func(v msnp.Version) []byte { return shaped(preLogin, v, 2) }),
	},
	{
		ID: "cvq-after-cvr0", Title: "After VER n CVR0, a Dispatch Server answers CVQ",
		Source:   "msnp/PROTOCOL.md §5 CVQ after CVR0",
		Sends:    "VER 1 CVR0, then " + cvqFallback.String(),
		Expects:  "VER 1 CVR0, then a CVQ reply",
		Severity: Fail, Roles: []msnp.Role{msnp.DS},
		plan: afterCVR0(cvqFallback),
	},
	{
		ID: "cvq-on-ns", Title: "A Notification Server takes no CVQ",
		Source:   "msnp/PROTOCOL.md §1.2 Which server takes CVR, per version, §5 CVQ after CVR0",
		Sends:    "VER 1 CVR0, then " + cvqFallback.String(),
		Expects:  "VER 1 CVR0, then a close without a reply",
		Severity: Warn, Roles: []msnp.Role{msnp.NS},
		plan: afterCVR0(cvqFallback),
	},
	{
		ID: "cvr-in-cvr0", Title: "CVR after a CVR0-only VER is refused",
		Source:   "msnp/PROTOCOL.md §5 CVQ after CVR0; msnp/validate.go",
		Sends:    "VER 1 CVR0, then a CVR",
		Expects:  "731 2 (DS), or a close without a reply (NS)",
		Severity: Warn,
		plan: func(e *env) (exchange, string) {
			r := withParams(preLogin, 7)
			r.Command = "CVR"
			return afterCVR0(r)(e)
		},
	},
	{
		ID: "cvq-in-msnp", Title: "CVQ after an MSNP dialect is refused",
		Source:   "msnp/PROTOCOL.md §5 CVQ after CVR0; msnp/validate.go",
		Sends:    "VER 1 <CVR dialect>, then a CVQ",
		Expects:  "731 2",
		Severity: Warn,
		plan: cvrLine(func(v msnp.Version) []byte {
			r := preLogin.Shape(v, preLogin.UserHandle)
			r.Command, r.TrID = "CVQ", 2
			return r.Append(nil)
		}),
	},
	{
		ID: "crlf-replies", Title: "Replies end in CRLF",
		Source:   "msnp/PROTOCOL.md §3.3 Terminator",
		Sends:    "VER, then a valid CVR",
		Expects:  "VER and CVR replies ended by CRLF",
		Severity: Fail,
		plan:     withExtra(tridRule(2), checkCRLF),
	},
	{
		ID: "bare-lf", Title: "A CVR ended by a bare LF is answered or refused, not left hanging",
		Source:   "msnp/PROTOCOL.md §3.3 Terminator, §9 How real servers answer (the official server took a bare LF)",
		Sends:    "VER, then a valid CVR ended by LF alone",
		Expects:  "a CVR reply, 731, or a close",
		Severity: Warn,
		plan: onCVRDialect(func(e *env, v msnp.Version) exchange {
			b := shaped(preLogin, v, 2)
			b = append(b[:len(b)-2], '\n')
			return exchange{steps: []step{e.handshake(1, v.Dialect), {send: b, want: want{trid: 2, hasTrID: true,
				alts: []alt{{answer: cvrReply, command: v.Command}, {answer: codeReply, code: msnp.CodeMalformedCVR},
					{answer: noReply, closes: true}}}}}}
		}),
	},
	{
		ID: "line-empty", Title: "Empty and short lines do not stop the server answering",
		Source:   "msnp/PROTOCOL.md §3.1 Commands and errors, §4.2 Commands out of context, §9 How real servers answer",
		Sends:    `VER, then "", "x" and "   " as lines, each in its own write, then a valid CVR`,
		Expects:  "an error or nothing for each short line, then a reply to the CVR; or a close",
		Severity: Fail,
		plan: onCVRDialect(func(e *env, v msnp.Version) exchange {
			cvr := shaped(preLogin, v, 2)
			w := answered(2, v)
			w.errorsFirst = strings.Count(shortLines, "\n")
			w.alts = append(w.alts, alt{answer: noReply, closes: true})
			return exchange{steps: []step{e.handshake(1, v.Dialect), {
				send: append([]byte(shortLines), cvr...), apart: true, want: w,
				show: strconv.Quote("\r\n") + ", " + strconv.Quote("x\r\n") + ", " + strconv.Quote("   \r\n") + ", " + showSent(cvr),
			}}}
		}),
	},
	{
		ID: "framing-pipelined", Title: "Two CVRs in one write are both answered, in order",
		Source:   "msnp/PROTOCOL.md §3.6 Line length, §9 How real servers answer (two commands in one write)",
		Sends:    "VER, then two valid CVRs, TrIDs 2 and 3, in one write",
		Expects:  "a reply to TrID 2, then one to TrID 3 (a CVR reply or an error)",
		Severity: Fail,
		plan: onCVRDialect(func(e *env, v msnp.Version) exchange {
			first, second := shaped(preLogin, v, 2), shaped(preLogin, v, 3)
			last := answered(3, v)
			last.label = "a reply to TrID 3 too"
			return exchange{steps: []step{e.handshake(1, v.Dialect),
				{send: append(first, second...), show: showSent(first) + " + " + showSent(second) + " (one write)",
					want: answered(2, v), checked: true},
				{want: last}}}
		}),
	},
	{
		ID: "cvr-before-ver", Title: "A CVR before VER is out of context: a close",
		Source:   "msnp/PROTOCOL.md §4.2 Commands out of context",
		Sends:    "a valid CVR as the first line",
		Expects:  "a close, no reply",
		Severity: Warn,
		plan: onCVRDialect(func(e *env, v msnp.Version) exchange {
			return exchange{steps: []step{{send: shaped(preLogin, v, 1), want: outOfContext}}}
		}),
	},
	{
		ID: "unknown-command", Title: "A command out of context gets a close",
		Source:   "msnp/PROTOCOL.md §4.2 Commands out of context, §7 Example exchanges (FLN Hotmail)",
		Sends:    "VER, then FLN Hotmail",
		Expects:  "a close, no reply",
		Severity: Warn,
		plan: afterVER(func(e *env, d msnp.Dialect) exchange {
			return exchange{steps: []step{e.handshake(1, d), {send: []byte("FLN Hotmail\r\n"), want: outOfContext}}}
		}),
	},
	{
		ID: "long-line", Title: "An over-long line is refused or answered, and the server lives",
		Source:   "msnp/PROTOCOL.md §3.6 Line length (no maximum documented)",
		Sends:    "VER, then a CVR whose user-handle makes the line -long-line bytes",
		Expects:  "a close, an error with the TrID, or a CVR reply; then the target still answers",
		Severity: Warn, Risky: true,
		plan: onCVRDialect(func(e *env, v msnp.Version) exchange {
			head := string(shaped(withParams(preLogin, 7), v, 3))
			head = head[:len(head)-2] + " "
			n := max(e.longLine-len(head)-len("@hotmail.com"), 1)
			b := make([]byte, 0, len(head)+n+len("@hotmail.com")+2)
			b = append(b, head...)
			for range n {
				b = append(b, 'a')
			}
			b = append(b, "@hotmail.com\r\n"...)
			show := head + "aaa...@hotmail.com (" + strconv.Itoa(len(b)-2) + " bytes)"
			return exchange{steps: []step{e.handshake(1, v.Dialect), {send: b, show: show, want: want{trid: 3, hasTrID: true,
				alts: []alt{{answer: noReply, closes: true}, {answer: codeReply}, {answer: cvrReply, command: v.Command}}}}}}
		}),
	},
	{
		ID: "garbage", Title: "Binary garbage gets a close, and the server lives",
		Source:   "msnp/PROTOCOL.md §4.2 Commands out of context",
		Sends:    "VER, then a line of NUL, high bytes, escapes and format verbs",
		Expects:  "a close, no reply; then the target still answers",
		Severity: Warn, Risky: true,
		plan: afterVER(func(e *env, d msnp.Dialect) exchange {
			return exchange{steps: []step{e.handshake(1, d), {send: []byte(garbage), want: outOfContext}}}
		}),
	},
}

// afterCVR0 plans a rule that negotiates CVR0 alone and sends req with
// TrID 2, judged by the oracle.
func afterCVR0(req msnp.Request) plan {
	return func(e *env) (exchange, string) {
		if !e.speaksCVR0() {
			return exchange{}, e.noDialect("CVR0")
		}
		v, _ := msnp.Lookup(msnp.CVR0)
		return e.cvrAfterVER(v, raw(req, 2)), ""
	}
}

// formatDialects shows a dialect list compactly, runs of three or more
// consecutive MSNP versions as ranges: "MSNP23-MSNP8, CVR0".
func formatDialects(ds []msnp.Dialect) string {
	if len(ds) == 0 {
		return "none"
	}
	num := func(d msnp.Dialect) int {
		v, err := msnp.Lookup(d)
		if err != nil {
			return -1
		}
		return v.Number
	}
	var parts []string
	for i := 0; i < len(ds); {
		j := i + 1
		if n := num(ds[i]); n > 0 && j < len(ds) {
			if step := num(ds[j]) - n; step == 1 || step == -1 {
				for j < len(ds) && num(ds[j]) == n+step*(j-i) {
					j++
				}
			}
		}
		if j-i < 3 {
			j = i + 1
			parts = append(parts, string(ds[i]))
		} else {
			parts = append(parts, string(ds[i])+"-"+string(ds[j-1]))
		}
		i = j
	}
	return strings.Join(parts, ", ")
}
