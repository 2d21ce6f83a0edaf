package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cvrswarm/cvrswarm/msnp/conformance"
)

// protocolNotes is the file that citations of the form "§N" point into.
const protocolNotes = "msnp/PROTOCOL.md"

// repoRoot returns the directory holding go.mod: the root of the repository.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// citedPaths returns the repository paths text names: a word that starts
// with one of the top-level folders (cmd/..., msnp/...) or ends in .md
// or .go. URLs and paths inside other paths (/mnt/shared/x) are not
// words of their own.
func citedPaths(text string, topDirs []string) []string {
	quoted := make([]string, len(topDirs))
	for i, d := range topDirs {
		quoted[i] = regexp.QuoteMeta(d)
	}
	re := regexp.MustCompile("(?:^|[\\s`'\"(\\[])((?:" + strings.Join(quoted, "|") + ")/[\\w./-]*|[\\w./-]+\\.(?:md|go))\\b")
	var paths []string
	for _, m := range re.FindAllStringSubmatch(text, -1) {
		paths = append(paths, strings.TrimRight(m[1], "./"))
	}
	return paths
}

// sectionRef finds a section citation: "§2.3", "§9".
var sectionRef = regexp.MustCompile(`§(\d+(?:\.\d+)*)`)

// headings returns the section numbers of the protocol notes: "2" for
// "## 2. CVR", "2.3" for "### 2.3 Refusals".
func headings(t *testing.T, root string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, protocolNotes))
	if err != nil {
		t.Fatalf("the protocol notes the code cites: %v", err)
	}
	re := regexp.MustCompile(`(?m)^#{2,4} (\d+(?:\.\d+)*)\.? `)
	hs := map[string]bool{}
	for _, m := range re.FindAllStringSubmatch(string(b), -1) {
		hs[m[1]] = true
	}
	return hs
}

// TestCitationsPointIntoTheRepository checks that the README and the
// conformance rules' sources name only files the repository holds, that
// every rule cites a section of the protocol notes, and
// that every "§N" citation, there and in the Go source, names a section
// of msnp/PROTOCOL.md, the one file such citations point into.
func TestCitationsPointIntoTheRepository(t *testing.T) {
	root := repoRoot(t)
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var topDirs []string
	for _, e := range entries {
		if e.IsDir() && e.Name() != ".git" {
			topDirs = append(topDirs, e.Name())
		}
	}
	sections := headings(t, root)
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}

	type doc struct{ where, text string }
	docs := []doc{{"README.md", string(readme)}}
	for _, r := range conformance.Rules() {
		if !strings.Contains(r.Source, protocolNotes+" §") {
			t.Errorf("rule %s: source %q cites no section of %s", r.ID, r.Source, protocolNotes)
		}
		docs = append(docs, doc{"rule " + r.ID + " source", r.Source})
	}
	for _, d := range docs {
		for _, p := range citedPaths(d.text, topDirs) {
			if _, err := os.Stat(filepath.Join(root, p)); err != nil {
				t.Errorf("%s names %s, which is not in the repository", d.where, p)
			}
		}
	}

	// Go comments cite the notes too; their other paths are too varied
	// (testdata names, import paths) to check, so only the citations are.
	err = filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() && (e.Name() == ".git" || e.Name() == "testdata") {
			return filepath.SkipDir
		}
		if strings.HasSuffix(path, ".go") && e.Name() != "citations_test.go" { // whose examples are wrong on purpose
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, path)
			docs = append(docs, doc{rel, string(b)})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	bare := regexp.MustCompile(`(^|[^/\w])PROTOCOL\.md`)
	for _, d := range docs {
		if bare.MatchString(d.text) {
			t.Errorf("%s cites PROTOCOL.md without its folder: write %s", d.where, protocolNotes)
		}
		for _, m := range sectionRef.FindAllStringSubmatch(d.text, -1) {
			if !sections[m[1]] {
				t.Errorf("%s cites §%s, which %s has no heading for", d.where, m[1], protocolNotes)
			}
		}
	}
}

func TestCitedPaths(t *testing.T) {
	top := []string{"cmd", "msnp", ".ci"}
	for _, tt := range []struct {
		text string
		want []string
	}{
		{"see msnp/PROTOCOL.md §2.3.", []string{"msnp/PROTOCOL.md"}},
		{"PROTOCOL.md §1.3, §7", []string{"PROTOCOL.md"}},
		{"in `msnp/validate.go`; `cmd/cvrswarm`, [notes](msnp/PROTOCOL.md)", []string{"msnp/validate.go", "cmd/cvrswarm", "msnp/PROTOCOL.md"}},
		{"run .ci/run", []string{".ci/run"}},
		{"-sync-dir /mnt/shared/cap https://example.com/msnp/x.md x.json", nil},
	} {
		got := citedPaths(tt.text, top)
		if strings.Join(got, " ") != strings.Join(tt.want, " ") {
			t.Errorf("citedPaths(%q) = %q, want %q", tt.text, got, tt.want)
		}
	}
}
