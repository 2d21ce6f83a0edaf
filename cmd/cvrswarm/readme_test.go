package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"io"
	"os"
	"strings"
	"testing"
)

// readmeFlagSets builds each command's real flag set, bound to values the
// test does not read. k8s, which splits its flags from load's, is run.
var readmeFlagSets = map[string]func(io.Writer) *flag.FlagSet{
	"load":     func(w io.Writer) *flag.FlagSet { return loadFlagSet(new(loadFlags), w) },
	"capacity": func(w io.Writer) *flag.FlagSet { return capacityFlagSet(new(capacityFlags), w) },
	"fuzz":     func(w io.Writer) *flag.FlagSet { return fuzzFlagSet(new(fuzzFlags), w) },
	"replay":   func(w io.Writer) *flag.FlagSet { return replayFlagSet(new(fuzzTargetFlags), w) },
	"check":    func(w io.Writer) *flag.FlagSet { return checkFlagSet(new(checkFlags), w) },
	"serve":    func(w io.Writer) *flag.FlagSet { return serveFlagSet(new(serveFlags), w) },
	"report":   func(w io.Writer) *flag.FlagSet { return reportFlagSet(new(reportFlags), w) },
	"merge":    func(w io.Writer) *flag.FlagSet { return mergeFlagSet(new(mergeFlags), w) },
	"version":  func(w io.Writer) *flag.FlagSet { return flagSet("version", w) },
	"help":     func(w io.Writer) *flag.FlagSet { return flag.NewFlagSet("help", flag.ContinueOnError) },
}

// TestReadmeCommandsParse parses every cvrswarm command line in
// README.md's code blocks with the command's real flags, so that the
// README cannot show a flag that does not exist or a value it rejects.
func TestReadmeCommandsParse(t *testing.T) {
	lines := readmeCommands(t, "../../README.md")
	if len(lines) < 10 {
		t.Fatalf("found %d command lines in README.md, want its examples", len(lines))
	}
	seen := map[string]bool{}
	for _, line := range lines {
		args, err := shellWords(line)
		if err != nil {
			t.Errorf("README: %s: %v", line, err)
			continue
		}
		name := args[0]
		seen[name] = true
		if _, ok := commands[name]; !ok {
			t.Errorf("README: %s: no command %q", line, name)
			continue
		}
		if name == "k8s" { // prints manifests only
			var stdout, stderr bytes.Buffer
			if status := run(context.Background(), args, &stdout, &stderr); status != exitOK {
				t.Errorf("README: %s: exit status %d: %s", line, status, stderr.String())
			}
			continue
		}
		fs := readmeFlagSets[name](io.Discard)
		fs.SetOutput(io.Discard)
		for rest := args[1:]; ; rest = fs.Args()[1:] { // flags may follow the arguments
			if err := fs.Parse(rest); err != nil {
				t.Errorf("README: %s: %v", line, err)
				break
			}
			if fs.NArg() == 0 {
				break
			}
		}
	}
	for _, name := range []string{"load", "capacity", "fuzz", "replay", "check", "merge"} {
		if !seen[name] {
			t.Errorf("README shows no %s command line", name)
		}
	}
}

// readmeCommands returns the cvrswarm command lines of the code blocks
// in the file at path, continuation lines joined, without "cvrswarm ",
// shell comments, pipes and redirections. In a block with "$ " prompts,
// only those lines are commands; the others are output.
func readmeCommands(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cmds, block []string
	inBlock := false
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "```") {
			if inBlock {
				cmds = append(cmds, blockCommands(block)...)
			}
			inBlock, block = !inBlock, nil
			continue
		}
		if inBlock {
			block = append(block, line)
		}
	}
	return cmds
}

func blockCommands(block []string) []string {
	prompted := false
	for _, l := range block {
		prompted = prompted || strings.HasPrefix(l, "$ ")
	}
	var cmds []string
	for i := 0; i < len(block); i++ {
		l := block[i]
		if prompted {
			var ok bool
			if l, ok = strings.CutPrefix(l, "$ "); !ok {
				continue
			}
		}
		for strings.HasSuffix(l, "\\") && i+1 < len(block) {
			i++
			l = strings.TrimSuffix(l, "\\") + " " + strings.TrimSpace(strings.TrimPrefix(block[i], "> "))
		}
		l = strings.TrimSpace(l)
		for _, prefix := range []string{"go run ./cmd/cvrswarm ", "./cvrswarm ", "cvrswarm "} {
			if rest, ok := strings.CutPrefix(l, prefix); ok {
				cmds = append(cmds, "cvrswarm "+shellCommand(rest))
				break
			}
		}
	}
	return cmds
}

// shellCommand cuts a command line at the first unquoted #, |, > or &.
func shellCommand(s string) string {
	var quote rune
	for i, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '\'' || r == '"':
			quote = r
		case r == '#' || r == '|' || r == '>' || r == '&':
			return strings.TrimSpace(s[:i])
		}
	}
	return strings.TrimSpace(s)
}

// shellWords splits a command line as a shell does with plain words and
// single or double quotes; the first word is dropped ("cvrswarm").
func shellWords(s string) ([]string, error) {
	var words []string
	var w strings.Builder
	var quote rune
	inWord := false
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			w.WriteRune(r)
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words, inWord = append(words, w.String()), false
				w.Reset()
			}
		default:
			w.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, io.ErrUnexpectedEOF
	}
	if inWord {
		words = append(words, w.String())
	}
	return words[1:], nil
}
