package fuzz

import (
	"regexp"
	"strings"
)

// Panic is a Go panic (or fatal runtime error) found in a process's
// stderr: its message and the functions at the top of the panicking
// goroutine's stack, innermost first, without runtime frames.
type Panic struct {
	Message string
	Frames  []string
}

// panicFrames is how many stack frames a crash signature keeps.
const panicFrames = 3

// ParsePanic finds the last Go panic or fatal error in stderr.
//
//	panic: runtime error: index out of range [3] with length 3
//
//	goroutine 7 [running]:
//	main.parse({0xc000012345, 0x10})
//		/src/server/main.go:23 +0x1f
//	main.handle(...)
func ParsePanic(stderr string) (Panic, bool) {
	start := -1
	for _, marker := range []string{"panic: ", "fatal error: "} {
		i := strings.LastIndex(stderr, "\n"+marker)
		if i >= 0 {
			i++
		} else if strings.HasPrefix(stderr, marker) {
			i = 0
		}
		if i > start {
			start = i
		}
	}
	if start < 0 {
		return Panic{}, false
	}
	text := stderr[start:]
	first, rest, _ := strings.Cut(text, "\n")
	p := Panic{Message: strings.TrimSpace(first)}
	// A re-panic or a "[recovered]" chain prints more panic lines: the
	// stack follows the first "goroutine N [...]:" header.
	i := strings.Index(rest, "goroutine ")
	if i < 0 {
		return p, true
	}
	lines := strings.Split(rest[i:], "\n")[1:]
	for _, line := range lines {
		if line == "" || strings.HasPrefix(line, "goroutine ") || strings.HasPrefix(line, "created by ") {
			break
		}
		if strings.HasPrefix(line, "\t") {
			continue // the file:line of the frame above
		}
		fn := line
		if j := strings.LastIndex(fn, "("); j > 0 {
			fn = fn[:j]
		}
		if fn == "panic" || strings.HasPrefix(fn, "runtime.") {
			continue
		}
		p.Frames = append(p.Frames, fn)
		if len(p.Frames) == panicFrames {
			break
		}
	}
	return p, true
}

var (
	// A quote may be left open where a long line was cut: it runs to
	// the end then.
	quotedRE = regexp.MustCompile(`"(?:[^"\\]|\\.)*"?|'(?:[^'\\]|\\.)*'|` + "`[^`]*`")
	hexRE    = regexp.MustCompile(`0x[0-9a-fA-F]+`)
	numberRE = regexp.MustCompile(`[0-9]+`)
	spacesRE = regexp.MustCompile(`\s+`)
)

// maxSignatureMessage bounds the panic message kept in a signature.
const maxSignatureMessage = 160

// normalizeMessage removes what varies between inputs that hit the same
// defect: quoted text (often the input itself), addresses and numbers.
func normalizeMessage(s string) string {
	s = quotedRE.ReplaceAllString(s, `"…"`)
	s = hexRE.ReplaceAllString(s, "0x?")
	s = numberRE.ReplaceAllString(s, "N")
	s = spacesRE.ReplaceAllString(s, " ")
	if len(s) > maxSignatureMessage {
		s = s[:maxSignatureMessage]
	}
	return strings.TrimSpace(s)
}

// Signature returns the panic's part of a crash signature: the normalised
// message and the top frames.
func (p Panic) Signature() string {
	s := normalizeMessage(p.Message)
	if len(p.Frames) > 0 {
		s += " at " + strings.Join(p.Frames, " < ")
	}
	return s
}

// stderrExcerpt keeps the part of a stderr tail a finding records: from
// the panic on when there is one, else the end, at most maxExcerpt bytes.
func stderrExcerpt(tail string) string {
	const maxExcerpt = 16 << 10
	for _, marker := range []string{"\npanic: ", "\nfatal error: "} {
		if i := strings.LastIndex("\n"+tail, marker); i >= 0 {
			return tail[i:][:min(len(tail)-i, maxExcerpt)]
		}
	}
	return tail[max(0, len(tail)-maxExcerpt):]
}
