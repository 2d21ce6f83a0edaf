package fuzz

import (
	"bytes"
	"math/rand/v2"
	"strconv"
	"strings"
)

// lineMutator is a named mutation. With body set it sees the line without
// its terminator, which is put back after it; otherwise it sees src as it
// is, terminator included.
type lineMutator struct {
	name string
	body bool
	fn   func(dst, src []byte, rng *rand.Rand) []byte
}

var _ Mutator = lineMutator{}

func (m lineMutator) Name() string { return m.name }

func (m lineMutator) Mutate(dst, src []byte, rng *rand.Rand) []byte {
	if !m.body {
		return m.fn(dst, src, rng)
	}
	body, eol := splitEOL(src)
	dst = m.fn(dst, body, rng)
	return append(dst, eol...)
}

// splitEOL splits a line into its body and its terminator (CRLF, LF or
// none).
func splitEOL(b []byte) (body, eol []byte) {
	n := len(b)
	switch {
	case n >= 2 && b[n-2] == '\r' && b[n-1] == '\n':
		return b[:n-2], b[n-2:]
	case n >= 1 && b[n-1] == '\n':
		return b[:n-1], b[n-1:]
	}
	return b, nil
}

// The positions of the CVR fields in a line split on spaces.
const (
	fieldVerb = iota
	fieldTrID
	fieldLocale
	fieldSystemType
	fieldSystemVer
	fieldSystemArch
	fieldLibrary
	fieldClientVersion
	fieldClientID
	fieldUserHandle
)

// maxFields bounds how many fields a line is split into; the last one
// takes the rest of the line.
const maxFields = 64

type span struct{ lo, hi int }

type fieldList struct {
	f [maxFields]span
	n int
}

// split splits body on single spaces; empty fields are kept.
func (fl *fieldList) split(body []byte) {
	fl.n = 0
	start := 0
	for i := 0; i < len(body) && fl.n < maxFields-1; i++ {
		if body[i] == ' ' {
			fl.f[fl.n] = span{start, i}
			fl.n++
			start = i + 1
		}
	}
	fl.f[fl.n] = span{start, len(body)}
	fl.n++
}

// appendReplaced appends body with field i replaced by repl; a field past
// the end is added as a new last field.
func appendReplaced(dst, body []byte, fl *fieldList, i int, repl []byte) []byte {
	if i >= fl.n {
		dst = append(dst, body...)
		if len(body) > 0 {
			dst = append(dst, ' ')
		}
		return append(dst, repl...)
	}
	s := fl.f[i]
	dst = append(dst, body[:s.lo]...)
	dst = append(dst, repl...)
	return append(dst, body[s.hi:]...)
}

// Interesting values for the typed fields.
var (
	tridValues = []string{"0", "1", "65535", "65536", "65537", "2147483647", "2147483648", "2147483649",
		"4294967295", "4294967296", "4294967297", "-1", "-2147483648", "-4294967296", "18446744073709551615",
		"18446744073709551616", "abc", "0x10", "1e3", "+1", "01", "00000000000000000002", "1.5", "٣", "9" + strings.Repeat("9", 40)}
	localeValues = []string{"0409", "0x409", "0x04090", "0x00409", "0xZZZZ", "0X0409", "0x0C0A", "0x0c0a",
		"0x1111", "0x0000", "0xffff", "0xFFFF", "0x", "0x-409", "0x+409", "1033", "en-US", "0x04 9", "0x0409\x00",
		"0x0412", "0x0804", "0x7fff", "0x8000"}
	versionParts = []string{"0", "1", "5", "8", "14", "99", "0602", "8117", "99999", "4294967296", "-1", "",
		"00000000000000000001", "ff", "1e9", " "}
	handleValues = []string{"example", "a@b@c@d", "@", "example@", "@hotmail.com", "ü@例え.jp",
		"user@[127.0.0.1]", "\"quoted\"@x.com", "a%40b.com", "user+tag@x.com", "example@hotmail.com@",
		"%s@%n.com", "\u202eexample@hotmail.com", "exa\x00mple@hotmail.com", "<>@<>"}
	libraryValues = []string{"MSNMSGR", "msnmsgr", "MsNmSgR", "MSMSGS", "msmsgs", "MSG80BETA", "macmsgs", "BC01",
		"WindowsMessenger", "YCOMM", "GTMESS", "msnp11-sdk", "UWPMESSENGER", "%s%s%s", "MSNMSGR\x00", "MSNMSGR2"}
	sillyValues = []string{"%n%n%n%n", "%s%s%s%s", "%x%x%x%x", "%99999999d", "%", "'", "\"", "\\", "\\x00",
		"../../../../etc/passwd", "${jndi:ldap://127.0.0.1/a}", "<script>", "NaN", "null", "undefined", "-0",
		"1e309", "\\u0000", "$(id)", "`id`", ";", "|", "*", "{}", "[]", "%00", "+++ATH0"}
	unicodeValues = []string{"\xc0\xaf", "\xc0\x80", "\xe0\x80\xaf", "\xef\xbb\xbf", "\u202e", "\xed\xa0\x80",
		"\xed\xbf\xbf", "\xff", "\xfe\xff", "\xf4\x90\x80\x80", "\u200b", "e\u0301", "\U0001F600", "Ａ", "\u00a0",
		"\u2028", "\xf8\x88\x80\x80\x80"}
	ctrlValues        = []string{"\r", "\n", "\x00", "\r\n", "\x1b", "\x7f", "\x08", "\n\r", "\r\r\n"}
	spaceValues       = []string{"\t", "  ", " \t", "\v", "\u00a0", "   ", "\f"}
	interestingBytes  = []byte{0x00, 0x01, 0x7f, 0x80, 0xff, ' ', '\t', '\r', '\n', '%', '@', '.', '0', '9', '-', 'x'}
	overlongSizes     = []int{127, 128, 255, 256, 257, 511, 512, 1023, 1024, 1025, 2047, 2048, 4095, 4096, 4097, 8192, 16384}
	overlongHugeSizes = []int{65535, 65536, 65537, 1 << 20}
	repeatCounts      = []int{2, 3, 8, 64, 1000}
)

func pick[T any](rng *rand.Rand, vs []T) T { return vs[rng.IntN(len(vs))] }

// overlongSize is mostly a few kilobytes and now and then up to 1 MiB, so
// that huge inputs do not dominate the run.
func overlongSize(rng *rand.Rand) int {
	if rng.IntN(32) == 0 {
		return pick(rng, overlongHugeSizes)
	}
	return pick(rng, overlongSizes)
}

// fieldMutator builds a mutator that rewrites one field of the line.
func fieldMutator(name string, fn func(dst, body []byte, fl *fieldList, rng *rand.Rand) []byte) lineMutator {
	return lineMutator{name: name, body: true, fn: func(dst, body []byte, rng *rand.Rand) []byte {
		var fl fieldList
		fl.split(body)
		return fn(dst, body, &fl, rng)
	}}
}

// typedField builds a mutator that puts a generated value into one of the
// given fields.
func typedField(name string, fields []int, value func(cur []byte, rng *rand.Rand) []byte) lineMutator {
	return fieldMutator(name, func(dst, body []byte, fl *fieldList, rng *rand.Rand) []byte {
		i := pick(rng, fields)
		var cur []byte
		if i < fl.n {
			cur = body[fl.f[i].lo:fl.f[i].hi]
		}
		return appendReplaced(dst, body, fl, i, value(cur, rng))
	})
}

func mutateTrID(_ []byte, rng *rand.Rand) []byte { return []byte(pick(rng, tridValues)) }

func mutateLocale(cur []byte, rng *rand.Rand) []byte {
	switch rng.IntN(4) {
	case 0: // other case
		return toggleCase(cur)
	case 1: // unknown LCID, well formed
		return []byte("0x" + strconv.FormatUint(uint64(rng.Uint32()&0xffff|0x10000), 16)[1:])
	}
	return []byte(pick(rng, localeValues))
}

func mutateVersion(_ []byte, rng *rand.Rand) []byte {
	if rng.IntN(8) == 0 {
		return []byte(pick(rng, []string{".", "..", "1.", ".1", "1..2", "6.0.0602.", "v6.0"}))
	}
	n := 2 + rng.IntN(5) // 2 to 6 parts
	if rng.IntN(8) == 0 {
		n = 1
	}
	var b []byte
	for i := range n {
		if i > 0 {
			b = append(b, '.')
		}
		b = append(b, pick(rng, versionParts)...)
	}
	return b
}

func mutateHandle(_ []byte, rng *rand.Rand) []byte {
	switch rng.IntN(4) {
	case 0: // many @
		return bytes.Repeat([]byte("@"), 1+rng.IntN(64))
	case 1: // very long
		return append(bytes.Repeat([]byte("a"), overlongSize(rng)), "@hotmail.com"...)
	}
	return []byte(pick(rng, handleValues))
}

func mutateLibrary(_ []byte, rng *rand.Rand) []byte {
	if rng.IntN(8) == 0 {
		return bytes.Repeat([]byte("MSNMSGR"), 1+overlongSize(rng)/7)
	}
	return []byte(pick(rng, libraryValues))
}

func toggleCase(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z':
			c -= 'a' - 'A'
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		}
		out[i] = c
	}
	return out
}

// interestingNumber returns a number near n or near a boundary, as
// radamsa's number mutator does.
func interestingNumber(n int64, rng *rand.Rand) string {
	switch rng.IntN(6) {
	case 0:
		return strconv.FormatInt(n+1, 10)
	case 1:
		return strconv.FormatInt(n-1, 10)
	case 2:
		return strconv.FormatInt(-n, 10)
	case 3:
		k := pick(rng, []uint{7, 8, 15, 16, 31, 32, 63})
		return strconv.FormatInt(int64(1)<<k+int64(rng.IntN(3))-1, 10)
	case 4:
		return strings.Repeat("9", 1+rng.IntN(40))
	}
	return pick(rng, []string{"0", "-1", "18446744073709551616", "4294967296", "00", "1e100"})
}

// insertAt appends body with s inserted at a random position.
func insertAt(dst, body []byte, s string, rng *rand.Rand) []byte {
	p := rng.IntN(len(body) + 1)
	dst = append(dst, body[:p]...)
	dst = append(dst, s...)
	return append(dst, body[p:]...)
}

// insertOrReplace inserts s at a random position or puts it in place of
// a random field.
func insertOrReplace(dst, body []byte, s string, rng *rand.Rand) []byte {
	if rng.IntN(2) == 0 {
		return insertAt(dst, body, s, rng)
	}
	var fl fieldList
	fl.split(body)
	return appendReplaced(dst, body, &fl, rng.IntN(fl.n), []byte(s))
}

func textNum(dst, body []byte, rng *rand.Rand) []byte {
	// Count the digit runs, pick one.
	runs := 0
	for i := 0; i < len(body); i++ {
		if isDigit(body[i]) && (i == 0 || !isDigit(body[i-1])) {
			runs++
		}
	}
	if runs == 0 {
		return insertAt(dst, body, interestingNumber(0, rng), rng)
	}
	want := rng.IntN(runs)
	for i := 0; i < len(body); i++ {
		if !isDigit(body[i]) || (i > 0 && isDigit(body[i-1])) {
			continue
		}
		if want > 0 {
			want--
			continue
		}
		j := i
		for j < len(body) && isDigit(body[j]) {
			j++
		}
		n, _ := strconv.ParseInt(string(body[i:min(j, i+18)]), 10, 64)
		dst = append(dst, body[:i]...)
		dst = append(dst, interestingNumber(n, rng)...)
		return append(dst, body[j:]...)
	}
	return append(dst, body...)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func textSpace(dst, body []byte, rng *rand.Rand) []byte {
	s := pick(rng, spaceValues)
	switch rng.IntN(4) {
	case 0:
		dst = append(dst, s...)
		return append(dst, body...)
	case 1:
		dst = append(dst, body...)
		return append(dst, s...)
	}
	spaces := bytes.Count(body, []byte(" "))
	if spaces == 0 {
		return insertAt(dst, body, s, rng)
	}
	want := rng.IntN(spaces)
	for i, c := range body {
		if c != ' ' {
			continue
		}
		if want > 0 {
			want--
			continue
		}
		dst = append(dst, body[:i]...)
		dst = append(dst, s...)
		return append(dst, body[i+1:]...)
	}
	return append(dst, body...)
}

func textCase(dst, body []byte, rng *rand.Rand) []byte {
	conv := pick(rng, []func([]byte) []byte{bytes.ToUpper, bytes.ToLower, toggleCase})
	if rng.IntN(3) == 0 {
		return append(dst, conv(body)...)
	}
	var fl fieldList
	fl.split(body)
	i := rng.IntN(fl.n)
	return appendReplaced(dst, body, &fl, i, conv(body[fl.f[i].lo:fl.f[i].hi]))
}

func textRepeat(dst, body []byte, rng *rand.Rand) []byte {
	var fl fieldList
	fl.split(body)
	i := rng.IntN(fl.n)
	tok := body[fl.f[i].lo:fl.f[i].hi]
	k := pick(rng, repeatCounts)
	if len(tok) > 0 {
		k = min(k, max(2, (DefaultMaxLen/2)/len(tok)))
	}
	dst = append(dst, body[:fl.f[i].hi]...)
	for range k - 1 {
		dst = append(dst, ' ')
		dst = append(dst, tok...)
	}
	return append(dst, body[fl.f[i].hi:]...)
}

func fieldDrop(dst, body []byte, fl *fieldList, rng *rand.Rand) []byte {
	return dropField(dst, body, fl, rng.IntN(fl.n))
}

// dropField appends body without field i and one of its separators.
func dropField(dst, body []byte, fl *fieldList, i int) []byte {
	s := fl.f[i]
	switch {
	case fl.n == 1:
		return dst
	case i == fl.n-1: // drop the separator before it
		return append(dst, body[:s.lo-1]...)
	}
	dst = append(dst, body[:s.lo]...)
	return append(dst, body[s.hi+1:]...)
}

func fieldAdd(dst, body []byte, fl *fieldList, rng *rand.Rand) []byte {
	var tok string
	switch rng.IntN(5) {
	case 0:
		tok = pick(rng, tridValues)
	case 1:
		tok = pick(rng, localeValues)
	case 2:
		tok = pick(rng, handleValues)
	case 3:
		tok = pick(rng, libraryValues)
	default:
		tok = string(mutateVersion(nil, rng))
	}
	i := rng.IntN(fl.n + 1)
	if i == fl.n {
		dst = append(dst, body...)
		dst = append(dst, ' ')
		return append(dst, tok...)
	}
	s := fl.f[i]
	dst = append(dst, body[:s.lo]...)
	dst = append(dst, tok...)
	dst = append(dst, ' ')
	return append(dst, body[s.lo:]...)
}

func fieldSwap(dst, body []byte, fl *fieldList, rng *rand.Rand) []byte {
	if fl.n < 2 {
		return append(dst, body...)
	}
	i, j := rng.IntN(fl.n), rng.IntN(fl.n-1)
	if j >= i {
		j++
	}
	if i > j {
		i, j = j, i
	}
	a, b := fl.f[i], fl.f[j]
	dst = append(dst, body[:a.lo]...)
	dst = append(dst, body[b.lo:b.hi]...)
	dst = append(dst, body[a.hi:b.lo]...)
	dst = append(dst, body[a.lo:a.hi]...)
	return append(dst, body[b.hi:]...)
}

func fieldDup(dst, body []byte, fl *fieldList, rng *rand.Rand) []byte {
	s := fl.f[rng.IntN(fl.n)]
	dst = append(dst, body[:s.hi]...)
	dst = append(dst, ' ')
	dst = append(dst, body[s.lo:s.hi]...)
	return append(dst, body[s.hi:]...)
}

func fieldEmpty(dst, body []byte, fl *fieldList, rng *rand.Rand) []byte {
	return appendReplaced(dst, body, fl, rng.IntN(fl.n), nil)
}

func fieldOverlong(dst, body []byte, fl *fieldList, rng *rand.Rand) []byte {
	i := rng.IntN(fl.n)
	n := overlongSize(rng)
	s := fl.f[i]
	dst = append(dst, body[:s.lo]...)
	tok := body[s.lo:s.hi]
	if len(tok) == 0 || rng.IntN(2) == 0 {
		tok = []byte{pick(rng, []byte("A9%x.@"))}
	}
	for written := 0; written < n; written += len(tok) {
		dst = append(dst, tok[:min(len(tok), n-written)]...)
	}
	return append(dst, body[s.hi:]...)
}

func byteFlip(dst, body []byte, rng *rand.Rand) []byte {
	start := len(dst)
	dst = append(dst, body...)
	if len(body) == 0 {
		return dst
	}
	for range 1 + rng.IntN(4) {
		dst[start+rng.IntN(len(body))] ^= 1 << rng.IntN(8)
	}
	return dst
}

func byteInsert(dst, body []byte, rng *rand.Rand) []byte {
	p := rng.IntN(len(body) + 1)
	dst = append(dst, body[:p]...)
	for range 1 + rng.IntN(16) {
		dst = append(dst, byte(rng.IntN(256)))
	}
	return append(dst, body[p:]...)
}

// randRange returns a random non-empty range of a body of length n > 0,
// at most a quarter of it long (and at least one byte).
func randRange(n int, rng *rand.Rand) (lo, hi int) {
	l := 1 + rng.IntN(max(1, n/4))
	lo = rng.IntN(n - l + 1)
	return lo, lo + l
}

func byteDelete(dst, body []byte, rng *rand.Rand) []byte {
	if len(body) == 0 {
		return dst
	}
	lo, hi := randRange(len(body), rng)
	dst = append(dst, body[:lo]...)
	return append(dst, body[hi:]...)
}

func byteDup(dst, body []byte, rng *rand.Rand) []byte {
	if len(body) == 0 {
		return dst
	}
	lo, hi := randRange(len(body), rng)
	dst = append(dst, body[:hi]...)
	for range 1 + rng.IntN(16) {
		dst = append(dst, body[lo:hi]...)
	}
	return append(dst, body[hi:]...)
}

func byteInteresting(dst, body []byte, rng *rand.Rand) []byte {
	start := len(dst)
	dst = append(dst, body...)
	if len(body) == 0 {
		return append(dst, pick(rng, interestingBytes))
	}
	for range 1 + rng.IntN(4) {
		dst[start+rng.IntN(len(body))] = pick(rng, interestingBytes)
	}
	return dst
}

func textTruncate(dst, src []byte, rng *rand.Rand) []byte {
	return append(dst, src[:rng.IntN(len(src)+1)]...)
}

func inserter(values []string) func(dst, body []byte, rng *rand.Rand) []byte {
	return func(dst, body []byte, rng *rand.Rand) []byte {
		return insertOrReplace(dst, body, pick(rng, values), rng)
	}
}

// withEnd returns a mutator body that ends the line with end instead of
// its terminator.
func withEnd(end string) func(dst, src []byte, rng *rand.Rand) []byte {
	return func(dst, src []byte, _ *rand.Rand) []byte {
		body, _ := splitEOL(src)
		dst = append(dst, body...)
		return append(dst, end...)
	}
}

var defaultMutators = []Mutator{
	// Per field of the CVR grammar.
	fieldMutator("field-drop", fieldDrop),
	fieldMutator("field-add", fieldAdd),
	fieldMutator("field-swap", fieldSwap),
	fieldMutator("field-dup", fieldDup),
	fieldMutator("field-empty", fieldEmpty),
	fieldMutator("field-overlong", fieldOverlong),
	typedField("field-trid", []int{fieldTrID}, mutateTrID),
	typedField("field-locale", []int{fieldLocale}, mutateLocale),
	typedField("field-version", []int{fieldClientVersion, fieldClientVersion, fieldSystemVer}, mutateVersion),
	typedField("field-handle", []int{fieldUserHandle}, mutateHandle),
	typedField("field-library", []int{fieldLibrary, fieldLibrary, fieldClientID}, mutateLibrary),
	// The line as text.
	lineMutator{name: "text-num", body: true, fn: textNum},
	lineMutator{name: "text-silly", body: true, fn: inserter(sillyValues)},
	lineMutator{name: "text-unicode", body: true, fn: inserter(unicodeValues)},
	lineMutator{name: "text-ctrl", body: true, fn: func(dst, body []byte, rng *rand.Rand) []byte {
		return insertAt(dst, body, pick(rng, ctrlValues), rng)
	}},
	lineMutator{name: "text-space", body: true, fn: textSpace},
	lineMutator{name: "text-case", body: true, fn: textCase},
	lineMutator{name: "text-repeat", body: true, fn: textRepeat},
	lineMutator{name: "text-truncate", fn: textTruncate},
	lineMutator{name: "text-noeol", fn: withEnd("")},
	lineMutator{name: "text-barelf", fn: withEnd("\n")},
	lineMutator{name: "text-barecr", fn: withEnd("\r")},
	// The line as bytes.
	lineMutator{name: "byte-flip", body: true, fn: byteFlip},
	lineMutator{name: "byte-insert", body: true, fn: byteInsert},
	lineMutator{name: "byte-delete", body: true, fn: byteDelete},
	lineMutator{name: "byte-dup", body: true, fn: byteDup},
	lineMutator{name: "byte-interesting", body: true, fn: byteInteresting},
}
