// Package corpus holds cvrswarm's seed inputs and reads and writes them in
// the format `go test` uses for testdata/fuzz, so that a case found by the
// network fuzzer becomes a regression test by copying one file.
//
// A case is two byte strings: what the client sends first (normally the
// VER line) and what it sends once that is answered (normally the CVR
// line), each with its own terminators:
//
//	go test fuzz v1
//	[]byte("VER 1 MSNP8 CVR0\r\n")
//	[]byte("CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS example@hotmail.com\r\n")
//
// An empty first value sends the CVR without a VER before it; a first value
// with two VER lines sends VER twice.
//
// The embedded seeds live in seeds/valid (requests a spec-conformant server
// answers with a CVR reply) and seeds/invalid (requests it refuses or that
// break the framing), one file per case, named after the client or the
// shape it shows: msnp15-pidgin-trailing-space, seed-710-invalid-locale.
package corpus

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/google/renameio/v2"
)

//go:embed seeds
var seedFS embed.FS

// Header is the first line of every corpus file.
const Header = "go test fuzz v1"

// Case is one input: the bytes sent first and the bytes sent after their
// answer.
type Case struct {
	Name  string // the file name it was read from, or "" for a new case
	VER   []byte // the VER line(s) with terminators; empty to send none
	CVR   []byte // the CVR line(s) with terminators
	Valid bool   // from seeds/valid: a conforming request
}

// Dialect returns the newest dialect the case's VER offers ("MSNP8" for
// "VER 1 MSNP8 CVR0"), or "" when there is no VER.
func (c Case) Dialect() string {
	line, _, _ := bytes.Cut(c.VER, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 3 || f[0] != "VER" {
		return ""
	}
	return f[2]
}

// Seeds returns the embedded seed cases, valid ones first, each group in
// name order.
func Seeds() []Case {
	var cases []Case
	for _, group := range []string{"valid", "invalid"} {
		got, err := load(seedFS, "seeds/"+group)
		if err != nil {
			panic(err) // the embedded files are checked by the package tests
		}
		for i := range got {
			got[i].Valid = group == "valid"
		}
		cases = append(cases, got...)
	}
	return cases
}

// Valid returns the valid embedded seeds.
func Valid() []Case {
	var out []Case
	for _, c := range Seeds() {
		if c.Valid {
			out = append(out, c)
		}
	}
	return out
}

// Load reads every corpus file in dir. Files in a subfolder named valid
// are marked valid, as are the files of a folder itself named valid; other
// subfolders are read too, one level deep.
func Load(dir string) ([]Case, error) {
	cases, err := loadTree(os.DirFS(dir), filepath.Base(filepath.Clean(dir)) == "valid")
	if pe, ok := errors.AsType[*fs.PathError](err); ok && pe.Path == "." {
		return nil, fmt.Errorf("corpus folder %s: %w", dir, pe.Err) // not "open .: "
	}
	if err != nil {
		return nil, fmt.Errorf("corpus folder %s: %w", dir, err)
	}
	if len(cases) == 0 {
		return nil, fmt.Errorf("no corpus files in %s", dir)
	}
	return cases, nil
}

// loadTree reads the corpus files of fsys's root, marked valid when valid
// is, and of its subfolders, marked valid in one named valid.
func loadTree(fsys fs.FS, valid bool) ([]Case, error) {
	cases, err := load(fsys, ".")
	if err != nil {
		return nil, err
	}
	for i := range cases {
		cases[i].Valid = valid
	}
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		sub, err := load(fsys, e.Name())
		if err != nil {
			return nil, err
		}
		for i := range sub {
			sub[i].Valid = e.Name() == "valid"
		}
		cases = append(cases, sub...)
	}
	return cases, nil
}

func load(fsys fs.FS, dir string) ([]Case, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var cases []Case
	for _, e := range entries {
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		data, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		c, err := Unmarshal(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e.Name(), err)
		}
		c.Name = e.Name()
		cases = append(cases, c)
	}
	sort.Slice(cases, func(i, j int) bool { return cases[i].Name < cases[j].Name })
	return cases, nil
}

// Marshal returns the case as a `go test fuzz v1` file, byte for byte as
// `go test` writes it.
func Marshal(c Case) []byte {
	var b bytes.Buffer
	b.WriteString(Header + "\n")
	fmt.Fprintf(&b, "[]byte(%q)\n", c.VER)
	fmt.Fprintf(&b, "[]byte(%q)\n", c.CVR)
	return b.Bytes()
}

// Unmarshal reads a `go test fuzz v1` file holding two []byte values (a
// string value is accepted too).
func Unmarshal(data []byte) (Case, error) {
	lines := strings.Split(string(data), "\n")
	if strings.TrimSuffix(lines[0], "\r") != Header {
		return Case{}, fmt.Errorf("first line is not %q", Header)
	}
	var vals [][]byte
	for _, line := range lines[1:] {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		v, err := parseValue(line)
		if err != nil {
			return Case{}, err
		}
		vals = append(vals, v)
	}
	if len(vals) != 2 {
		return Case{}, fmt.Errorf("want 2 values (VER and CVR bytes), got %d", len(vals))
	}
	return Case{VER: vals[0], CVR: vals[1]}, nil
}

func parseValue(line string) ([]byte, error) {
	var inner string
	switch {
	case strings.HasPrefix(line, "[]byte(") && strings.HasSuffix(line, ")"):
		inner = line[len("[]byte(") : len(line)-1]
	case strings.HasPrefix(line, "string(") && strings.HasSuffix(line, ")"):
		inner = line[len("string(") : len(line)-1]
	default:
		return nil, fmt.Errorf("value %q is not []byte(...) or string(...)", line)
	}
	s, err := strconv.Unquote(inner)
	if err != nil {
		return nil, fmt.Errorf("value %q: %w", line, err)
	}
	return []byte(s), nil
}

// FileName returns the name `go test` gives a corpus file with these
// contents: the first 16 hex digits of their SHA-256.
func FileName(data []byte) string {
	return fmt.Sprintf("%x", sha256.Sum256(data))[:16]
}

// Save writes the case into dir under the name `go test` would give it,
// atomically (a temporary file renamed into place), and returns its path.
// Saving the same case twice writes the same file.
func Save(dir string, c Case) (string, error) {
	data := Marshal(c)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, FileName(data))
	if err := WriteFile(path, data); err != nil {
		return "", err
	}
	return path, nil
}

// WriteFile writes data to path atomically with renameio: a reader sees
// the old file or the new one, never a half-written one. Its errors name
// path, never the temporary file.
func WriteFile(path string, data []byte) error {
	err := renameio.WriteFile(path, data, 0o644)
	if err == nil {
		return nil
	}
	var pe *fs.PathError
	var le *os.LinkError
	switch {
	case errors.As(err, &pe):
		err = pe.Err
	case errors.As(err, &le):
		err = le.Err
	}
	return fmt.Errorf("write %s: %w", path, err)
}

var errNoCases = errors.New("no cases")

// Pick returns the cases whose dialect is d, or errNoCases.
func Pick(cases []Case, d string) ([]Case, error) {
	var out []Case
	for _, c := range cases {
		if c.Dialect() == d {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w for dialect %s", errNoCases, d)
	}
	return out, nil
}
