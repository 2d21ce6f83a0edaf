package msnp

import (
	"fmt"
	"strings"
)

// The server's judgement of a CVR request, as the reference server, the
// fuzz oracle and the conformance check all apply it. [CheckRequest] takes
// the rules in this order, and the first one broken decides the reply:
//
//  1. the command fits the dialect (CVR, or CVQ after a CVR0-only VER):   731
//  2. the locale is "0x" and 4 hex digits naming a real LCID:              710
//  3. the parameter count fits the dialect (Version.MinParams..MaxParams): 731
//  4. the requesting-library is one the server knows:                      420
//  5. the client-version parses and lies in that library's releases:       420
//  6. the client-identification, when sent, is one the server knows:       420
//
// The locale comes before the parameter count because the 710 example
// of msnp/PROTOCOL.md §2.3 ("CVR 5 0x1111 winnt 5.1 MSNMSGR 6.0.0602 MSMSGS
// example@hotmail.com") lacks its system-arch and still gets 710: a
// server reads the locale before it counts what follows. A line with
// fewer than 6 parameters ("CVR 6 spaghetti") does not parse at all and
// gets 731.

// lcids holds the Windows locale IDs a server accepts in CVR.
var lcids = map[uint16]string{
	0x0401: "ar-SA", 0x0402: "bg-BG", 0x0403: "ca-ES", 0x0404: "zh-TW", 0x0405: "cs-CZ", 0x0406: "da-DK",
	0x0407: "de-DE", 0x0408: "el-GR", 0x0409: "en-US", 0x040a: "es-ES_tradnl", 0x040b: "fi-FI",
	0x040c: "fr-FR", 0x040d: "he-IL", 0x040e: "hu-HU", 0x040f: "is-IS", 0x0410: "it-IT", 0x0411: "ja-JP",
	0x0412: "ko-KR", 0x0413: "nl-NL", 0x0414: "nb-NO", 0x0415: "pl-PL", 0x0416: "pt-BR", 0x0417: "rm-CH",
	0x0418: "ro-RO", 0x0419: "ru-RU", 0x041a: "hr-HR", 0x041b: "sk-SK", 0x041c: "sq-AL", 0x041d: "sv-SE",
	0x041e: "th-TH", 0x041f: "tr-TR", 0x0420: "ur-PK", 0x0421: "id-ID", 0x0422: "uk-UA", 0x0423: "be-BY",
	0x0424: "sl-SI", 0x0425: "et-EE", 0x0426: "lv-LV", 0x0427: "lt-LT", 0x0429: "fa-IR", 0x042a: "vi-VN",
	0x042b: "hy-AM", 0x042c: "az-Latn-AZ", 0x042d: "eu-ES", 0x042f: "mk-MK", 0x0436: "af-ZA",
	0x0437: "ka-GE", 0x0438: "fo-FO", 0x0439: "hi-IN", 0x043e: "ms-MY", 0x043f: "kk-KZ", 0x0441: "sw-KE",
	0x0443: "uz-Latn-UZ", 0x0445: "bn-IN", 0x0446: "pa-IN", 0x0447: "gu-IN", 0x0449: "ta-IN",
	0x044a: "te-IN", 0x044b: "kn-IN", 0x044e: "mr-IN", 0x0456: "gl-ES",
	0x0801: "ar-IQ", 0x0804: "zh-CN", 0x0807: "de-CH", 0x0809: "en-GB", 0x080a: "es-MX", 0x080c: "fr-BE",
	0x0810: "it-CH", 0x0813: "nl-BE", 0x0814: "nn-NO", 0x0816: "pt-PT", 0x081a: "sr-Latn-CS",
	0x081d: "sv-FI", 0x0c01: "ar-EG", 0x0c04: "zh-HK", 0x0c07: "de-AT", 0x0c09: "en-AU", 0x0c0a: "es-ES",
	0x0c0c: "fr-CA", 0x0c1a: "sr-Cyrl-CS", 0x1001: "ar-LY", 0x1004: "zh-SG", 0x1009: "en-CA",
	0x100a: "es-GT", 0x100c: "fr-CH", 0x1401: "ar-DZ", 0x1404: "zh-MO", 0x1409: "en-NZ", 0x140a: "es-CR",
	0x1801: "ar-MA", 0x1809: "en-IE", 0x180a: "es-PA", 0x1c01: "ar-TN", 0x1c09: "en-ZA", 0x1c0a: "es-DO",
	0x2001: "ar-OM", 0x2009: "en-JM", 0x200a: "es-VE", 0x2401: "ar-YE", 0x2409: "en-029", 0x240a: "es-CO",
	0x2801: "ar-SY", 0x2809: "en-BZ", 0x280a: "es-PE", 0x2c01: "ar-JO", 0x2c09: "en-TT", 0x2c0a: "es-AR",
	0x3001: "ar-LB", 0x3009: "en-ZW", 0x300a: "es-EC", 0x3401: "ar-KW", 0x3409: "en-PH", 0x340a: "es-CL",
	0x3801: "ar-AE", 0x380a: "es-UY", 0x3c01: "ar-BH", 0x3c0a: "es-PY", 0x4001: "ar-QA", 0x4009: "en-IN",
	0x400a: "es-BO", 0x4409: "en-MY", 0x440a: "es-SV", 0x4809: "en-SG", 0x480a: "es-HN", 0x4c0a: "es-NI",
	0x500a: "es-PR", 0x540a: "es-US",
}

// ParseLocale reads a CVR locale: "0x" and exactly four hex digits in
// either case ("0x0409", "0x0C0A").
func ParseLocale(s string) (uint16, error) {
	if len(s) != 6 || s[0] != '0' || s[1] != 'x' {
		return 0, fmt.Errorf("locale %q: want 0x and four hex digits", s)
	}
	var v uint16
	for i := 2; i < 6; i++ {
		c := s[i]
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, fmt.Errorf("locale %q: want 0x and four hex digits", s)
		}
		v = v<<4 | uint16(d)
	}
	return v, nil
}

// LocaleName returns the name of a known LCID ("en-US" for 0x0409), or "".
func LocaleName(lcid uint16) string { return lcids[lcid] }

// ValidLocale reports whether s is a well-formed locale naming a real LCID.
func ValidLocale(s string) bool {
	v, err := ParseLocale(s)
	return err == nil && knownLCIDs[v/64]&(1<<(v%64)) != 0
}

// knownLCIDs holds a bit per key of lcids: a server judges the locale of
// every CVR, and a bit test is several times cheaper than a map lookup.
var knownLCIDs = func() (bits [1 << 16 / 64]uint64) {
	for id := range lcids {
		bits[id/64] |= 1 << (id % 64)
	}
	return bits
}()

// ClientVersion is a parsed client-version. The canonical form is three
// parts, "{M}M.m.pppp" ("6.0.0602"); real clients also send two parts
// ("8.5") and four ("14.0.8117.0416"), which are valid but not canonical.
type ClientVersion struct {
	Parts     [4]int
	N         int  // how many parts were sent: 2 to 4
	Canonical bool // three parts: a 1- or 2-digit major, a 1- or 2-digit minor, a 4-digit patch
}

// ParseClientVersion reads a client-version of 2 to 4 dot-separated
// decimal parts of 1 to 5 digits each.
func ParseClientVersion(s string) (ClientVersion, error) {
	var cv ClientVersion
	var digits [4]int
	for start, end := 0, 0; end < len(s) || start == end; start = end + 1 {
		// A byte loop rather than strings.Cut: the parts are a few bytes
		// long, and a server parses one version per CVR.
		for end = start; end < len(s) && s[end] != '.'; end++ {
		}
		part := s[start:end]
		if cv.N == len(cv.Parts) {
			return ClientVersion{}, fmt.Errorf("client version %q: more than 4 parts", s)
		}
		if part == "" || len(part) > 5 {
			return ClientVersion{}, fmt.Errorf("client version %q: each part is 1 to 5 digits", s)
		}
		n := 0
		for j := 0; j < len(part); j++ {
			if part[j] < '0' || part[j] > '9' {
				return ClientVersion{}, fmt.Errorf("client version %q: parts are decimal", s)
			}
			n = n*10 + int(part[j]-'0')
		}
		cv.Parts[cv.N], digits[cv.N] = n, len(part)
		cv.N++
	}
	if cv.N < 2 {
		return ClientVersion{}, fmt.Errorf("client version %q: want at least major.minor", s)
	}
	cv.Canonical = cv.N == 3 && digits[0] <= 2 && digits[1] <= 2 && digits[2] == 4
	return cv, nil
}

// Compare returns -1, 0 or +1 as v is older than, the same as, or newer
// than w, part by part (missing parts count as 0).
func (v ClientVersion) Compare(w ClientVersion) int {
	for i := range v.Parts {
		switch {
		case v.Parts[i] < w.Parts[i]:
			return -1
		case v.Parts[i] > w.Parts[i]:
			return 1
		}
	}
	return 0
}

// Library is a requesting-library a server knows, with the majors of the
// client versions released under that name.
type Library struct {
	Name               string
	MinMajor, MaxMajor int
}

// Libraries lists the requesting-library names of official clients. Names
// match without regard to case, as real clients vary it.
var Libraries = []Library{
	{"MSMSGS", 1, 5},    // MSN Messenger 1 to 4.x, Windows Messenger 4.7 and 5
	{"MSNMSGR", 5, 16},  // MSN Messenger 5 to Windows Live Messenger 2012
	{"MSG80BETA", 8, 8}, // Windows Live Messenger 8.0 beta
	{"macmsgs", 1, 8},   // Messenger for Mac
}

// ClientIDs lists the client-identification names of official clients.
var ClientIDs = []string{"MSMSGS", "WindowsMessenger", "BC01", "macmsgs"}

// LookupLibrary returns the known library of that name (any case).
func LookupLibrary(name string) (Library, bool) {
	for _, l := range Libraries {
		if strings.EqualFold(l.Name, name) {
			return l, true
		}
	}
	return Library{}, false
}

// KnownClientID reports whether id is a known client-identification (any
// case). The empty id is known: MSNP4-7 clients send it empty in CVQ.
func KnownClientID(id string) bool {
	if id == "" {
		return true
	}
	for _, k := range ClientIDs {
		if strings.EqualFold(k, id) {
			return true
		}
	}
	return false
}

// CheckRequest judges a parsed request for dialect v, in the order given
// above. It returns 0 and "" for an acceptable request, else the error
// code the server answers with and the rule that was broken.
func CheckRequest(req Request, v Version) (code int, reason string) {
	if req.Command != v.Command {
		return CodeMalformedCVR, fmt.Sprintf("%s sent where %s expects %s", req.Command, v.Dialect, v.Command)
	}
	if !ValidLocale(req.Locale) {
		return CodeInvalidLocale, fmt.Sprintf("locale %q is not a known LCID", req.Locale)
	}
	if req.Params < v.MinParams || req.Params > v.MaxParams {
		return CodeMalformedCVR, fmt.Sprintf("%d parameters; %s takes %d to %d", req.Params, v.Dialect, v.MinParams, v.MaxParams)
	}
	lib, ok := LookupLibrary(req.Library)
	if !ok {
		return CodeInvalidClient, fmt.Sprintf("unknown requesting-library %q", req.Library)
	}
	cv, err := ParseClientVersion(req.ClientVersion)
	if err != nil {
		return CodeInvalidClient, err.Error()
	}
	if cv.Parts[0] < lib.MinMajor || cv.Parts[0] > lib.MaxMajor {
		return CodeInvalidClient, fmt.Sprintf("%s %s was never released", lib.Name, req.ClientVersion)
	}
	if req.Params >= paramsID && !KnownClientID(req.ClientID) {
		return CodeInvalidClient, fmt.Sprintf("unknown client-identification %q", req.ClientID)
	}
	return 0, ""
}
