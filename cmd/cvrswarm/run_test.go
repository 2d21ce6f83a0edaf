package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cvrswarm/cvrswarm/fuzz"
	"github.com/cvrswarm/cvrswarm/load"
	"github.com/cvrswarm/cvrswarm/load/capacity"
	"github.com/cvrswarm/cvrswarm/msnp/conformance"
)

// runMain runs the command line in-process and returns its exit status,
// stdout and stderr.
func runMain(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	status := run(ctx, args, &stdout, &stderr)
	return status, stdout.String(), stderr.String()
}

func TestRunDispatch(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		status     int
		stdout     string
		stderr     string
		stderrLine bool // stderr is exactly one line
	}{
		{name: "no command", args: nil, status: exitUsage, stderr: "Usage: cvrswarm <command>"},
		{name: "help", args: []string{"help"}, status: exitOK, stdout: "Commands:"},
		{name: "-h", args: []string{"-h"}, status: exitOK, stdout: "Commands:"},
		{name: "unknown command", args: []string{"nope"}, status: exitUsage, stderr: `unknown command "nope"`, stderrLine: true},
		{name: "help for a command", args: []string{"help", "version"}, status: exitOK, stdout: "Example:\n  cvrswarm version"},
		{name: "help for an unknown command", args: []string{"help", "nope"}, status: exitUsage, stderr: `unknown command "nope"`, stderrLine: true},
		{name: "version", args: []string{"version"}, status: exitOK, stdout: "dialects MSNP2 to MSNP23 and CVR0"},
		{name: "bad flag", args: []string{"version", "-x"}, status: exitUsage, stderr: "flag provided but not defined: -x", stderrLine: true},
		{name: "stray argument", args: []string{"version", "extra"}, status: exitUsage, stderr: `unexpected argument "extra"`, stderrLine: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, stdout, stderr := runMain(t, tt.args...)
			if status != tt.status {
				t.Errorf("exit status %d, want %d (stderr %q)", status, tt.status, stderr)
			}
			if !strings.Contains(stdout, tt.stdout) {
				t.Errorf("stdout %q does not contain %q", stdout, tt.stdout)
			}
			if !strings.Contains(stderr, tt.stderr) {
				t.Errorf("stderr %q does not contain %q", stderr, tt.stderr)
			}
			if tt.stderrLine && strings.Count(stderr, "\n") != 1 {
				t.Errorf("stderr %q is not one line", stderr)
			}
		})
	}
}

// TestUsageListsEveryCommand checks the usage text names every registered
// command with a real example.
func TestUsageListsEveryCommand(t *testing.T) {
	_, stdout, _ := runMain(t, "help")
	for name, c := range commands {
		if !strings.Contains(stdout, "  "+name+" ") {
			t.Errorf("usage does not list %s", name)
		}
		if !strings.HasPrefix(c.example, "cvrswarm "+name) && !(name == "help" && strings.HasPrefix(c.example, "cvrswarm help")) {
			t.Errorf("%s: example %q does not run the command", name, c.example)
		}
		if !strings.Contains(stdout, c.example) {
			t.Errorf("usage lacks the example for %s", name)
		}
	}
}

// TestHelpPlaceholders checks every command's -h: a flag's placeholder is
// the back-quoted word of its usage, so back quotes around a phrase would
// print it as the flag's argument ("-findings go test fuzz v1").
func TestHelpPlaceholders(t *testing.T) {
	for name := range commands {
		if name == "help" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			status, stdout, _ := runMain(t, name, "-h")
			if status != exitOK {
				t.Fatalf("got exit status %d, want %d", status, exitOK)
			}
			for _, line := range strings.Split(stdout, "\n") {
				f, ok := strings.CutPrefix(line, "  -")
				if f, _, _ = strings.Cut(f, "\t"); ok && strings.Count(f, " ") > 1 {
					t.Errorf("got flag line %q, want at most one placeholder word", line)
				}
			}
		})
	}
}

func TestFailurePrintsTheErrorAsIs(t *testing.T) {
	var b bytes.Buffer
	if got := failure(&b, "fuzz", errors.New("case 3000: target down")); got != exitFail {
		t.Errorf("status %d, want %d", got, exitFail)
	}
	if got, want := b.String(), "cvrswarm fuzz: case 3000: target down\n"; got != want {
		t.Errorf("printed %q, want %q", got, want)
	}
	_, stdout, _ := runMain(t, "version", "-h")
	if strings.Contains(stdout, "Flags:") {
		t.Errorf("version -h shows a Flags heading with no flags under it:\n%s", stdout)
	}
	_, stdout, _ = runMain(t, "serve", "-h")
	if !strings.Contains(stdout, "Flags:\n  -addr") {
		t.Errorf("serve -h lacks its flags:\n%s", stdout)
	}
}

// TestFieldFlags checks the one table from config fields to flags: every
// field it names is a field of its package's configs, and every flag is
// one of the command that sets them.
func TestFieldFlags(t *testing.T) {
	packages := map[string]struct {
		command string
		configs []reflect.Type
	}{
		"load":        {"load", []reflect.Type{reflect.TypeFor[load.Config]()}},
		"capacity":    {"capacity", []reflect.Type{reflect.TypeFor[capacity.Config](), reflect.TypeFor[capacity.SyncConfig]()}},
		"conformance": {"check", []reflect.Type{reflect.TypeFor[conformance.Config]()}},
		"fuzz":        {"fuzz", []reflect.Type{reflect.TypeFor[fuzz.Config](), reflect.TypeFor[fuzz.Oracle](), reflect.TypeFor[fuzz.ExecConfig]()}},
	}
	help := map[string]string{}
	for key, name := range fieldFlags {
		pkg, field, _ := strings.Cut(key, ".")
		p, ok := packages[pkg]
		if !ok {
			t.Errorf("%s: no package %s in this test", key, pkg)
			continue
		}
		found := false
		for _, typ := range p.configs {
			_, ok := typ.FieldByName(field)
			found = found || ok
		}
		if !found {
			t.Errorf("%s: no field %s in the %s configs", key, field, pkg)
		}
		if _, ok := help[p.command]; !ok {
			_, help[p.command], _ = runMain(t, p.command, "-h")
		}
		if !regexp.MustCompile(`(?m)^  -` + regexp.QuoteMeta(name) + `(\s|$)`).MatchString(help[p.command]) {
			t.Errorf("%s: the %s command has no flag -%s", key, p.command, name)
		}
	}
}

func TestExitError(t *testing.T) {
	joined := load.Config{Target: "127.0.0.1:1", Schedule: load.Constant(1), Conns: -1, Mutate: 2}.Validate()
	_, badRamp := load.ParseRamp("1/s", time.Second)
	tests := []struct {
		name   string
		err    error
		status int
		want   string
	}{
		{"fields of load, joined", joined, exitUsage, "cvrswarm load: -conns: must not be negative; -mutate: share 2: want 0 to 1 (see"},
		{"a field of capacity", capacity.Config{Dwell: time.Millisecond}.Validate(), exitUsage, "cvrswarm load: -dwell: 1ms: want at least 1s"},
		{"a parser's field under another flag", &flagError{Flag: "ramp", Err: badRamp}, exitUsage, `cvrswarm load: -ramp: ramp "1/s": want FROM:TO`},
		{"a flag", badFlag("json", "x: folder y does not exist"), exitUsage, "cvrswarm load: -json: x: folder y does not exist (see"},
		{"no one flag", badFlag("", "give one of -a and -b"), exitUsage, "cvrswarm load: give one of -a and -b (see"},
		{"a failure", fmt.Errorf("dial: %w", errors.New("refused")), exitFail, "cvrswarm load: dial: refused\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if got := exitError(&b, "load", tt.err); got != tt.status {
				t.Errorf("got status %d, want %d", got, tt.status)
			}
			if !strings.HasPrefix(b.String(), tt.want) || strings.Count(b.String(), "\n") != 1 {
				t.Errorf("got %q, want one line starting %q", b.String(), tt.want)
			}
		})
	}
}

// TestUsageIsStable: the top-level help lists the commands and their
// examples in one order every time, though they are kept in a map.
func TestUsageIsStable(t *testing.T) {
	var first bytes.Buffer
	usage(&first)
	for range 20 {
		var b bytes.Buffer
		usage(&b)
		if b.String() != first.String() {
			t.Fatalf("usage changed between calls:\n%s\nthen:\n%s", first.String(), b.String())
		}
	}
}
