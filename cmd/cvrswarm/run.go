package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/cvrswarm/cvrswarm/fuzz"
	"github.com/cvrswarm/cvrswarm/load"
	"github.com/cvrswarm/cvrswarm/load/capacity"
	"github.com/cvrswarm/cvrswarm/msnp/conformance"
)

// Exit statuses shared by every subcommand.
const (
	exitOK           = 0 // done, nothing found or breached
	exitFail         = 1 // an error, a finding, a failed rule
	exitUsage        = 2 // bad flags or arguments
	exitSLO          = 3 // load: an SLO was breached
	exitNotConverged = 4 // capacity: the search did not converge
	// exitInterrupted is a shell's status for a program a SIGINT ended:
	// load, capacity, fuzz and check stopped by Ctrl-C, after writing
	// what they have.
	exitInterrupted = 130
)

// command is one subcommand. Each lives in its own file and registers
// itself from an init function.
type command struct {
	name    string
	order   int    // position in the usage text
	summary string // one line
	example string // a command line that works as it is
	details string // more for -h, after the example; "" for none
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

var commands = map[string]*command{}

func register(c *command) { commands[c.name] = c }

// run dispatches to a subcommand and returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help":
		name = "help"
	}
	c, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "cvrswarm: unknown command %q (run 'cvrswarm help' for the list)\n", name)
		return exitUsage
	}
	return c.run(ctx, args[1:], stdout, stderr)
}

func sortedCommands() []*command {
	cs := make([]*command, 0, len(commands))
	for _, c := range commands {
		cs = append(cs, c)
	}
	slices.SortFunc(cs, func(a, b *command) int { return cmp.Or(cmp.Compare(a.order, b.order), strings.Compare(a.name, b.name)) })
	return cs
}

func usage(w io.Writer) {
	fmt.Fprint(w, "cvrswarm: load and fuzz testing for MSN Messenger (MSNP) servers, through VER and CVR\n\n")
	fmt.Fprint(w, "Usage: cvrswarm <command> [flags]\n\nCommands:\n")
	for _, c := range sortedCommands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, "\nExamples:\n")
	for _, c := range sortedCommands() {
		fmt.Fprintf(w, "  %s\n", c.example)
	}
	fmt.Fprint(w, "\nRun 'cvrswarm <command> -h' for a command's flags.\n")
	fmt.Fprint(w, "Exit status: 0 ok, 1 failure or findings, 2 usage error, 3 SLO breached, 4 capacity search did not converge, 130 interrupted.\n")
}

func init() {
	register(&command{
		name: "help", order: 100, summary: "show this text, or a command's flags",
		example: "cvrswarm help load",
		run: func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
			if len(args) == 0 {
				usage(stdout)
				return exitOK
			}
			c, ok := commands[args[0]]
			if !ok || c.name == "help" {
				fmt.Fprintf(stderr, "cvrswarm help: unknown command %q\n", args[0])
				return exitUsage
			}
			return c.run(ctx, []string{"-h"}, stdout, stderr)
		},
	})
}

// flagSet returns a flag set for a subcommand whose -h prints the
// command's summary, example and flags to stdout.
func flagSet(name string, stdout io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	help := &flagHelp{stdout: stdout}
	fs.SetOutput(help)
	// The flag package calls Usage on -h and on every bad flag; the text is
	// kept aside and printed by parseFlags for -h only, so that a bad flag
	// gets its one line.
	fs.Usage = func() {
		c := commands[name]
		fmt.Fprintf(fs.Output(), "cvrswarm %s: %s\n\nExample:\n  %s\n", name, c.summary, c.example)
		if c.details != "" {
			fmt.Fprintf(fs.Output(), "\n%s", c.details)
		}
		hasFlags := false
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprint(fs.Output(), "\nFlags:\n")
			fs.PrintDefaults()
		}
	}
	return fs
}

// flagHelp collects what a flag set writes, for parseFlags to print on -h.
type flagHelp struct {
	buf    bytes.Buffer
	stdout io.Writer
}

func (h *flagHelp) Write(p []byte) (int, error) { return h.buf.Write(p) }

// parseFlags parses args. It returns done=true with the exit status when
// the command should stop: after -h (0), or on a bad flag (2, reported in
// one line naming the flag).
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) (done bool, status int) {
	err := fs.Parse(args)
	switch {
	case err == nil:
		return false, exitOK
	case errors.Is(err, flag.ErrHelp):
		if h, ok := fs.Output().(*flagHelp); ok {
			h.stdout.Write(h.buf.Bytes())
		}
		return true, exitOK
	}
	return true, usageError(stderr, fs.Name(), err.Error())
}

// A flagError is bad input to a command: a flag's value, a combination of
// flags, or the environment. Flag names the flag at fault, "" when no one
// flag is.
type flagError struct {
	Flag string
	Err  error
}

func (e *flagError) Error() string {
	if e.Flag == "" {
		return e.Err.Error()
	}
	return "-" + e.Flag + ": " + e.Err.Error()
}

func (e *flagError) Unwrap() error { return e.Err }

// badFlag returns a [*flagError] of flag, formatted as fmt.Errorf does.
func badFlag(flag, format string, args ...any) error {
	return &flagError{Flag: flag, Err: fmt.Errorf(format, args...)}
}

// fieldFlags maps a config field that a package's FieldError names, as
// "package.Field", to the flag that sets it.
var fieldFlags = map[string]string{
	"load.Target": "target", "load.Schedule": "rate", "load.Duration": "duration", "load.Requests": "requests",
	"load.WarmUp": "warm-up", "load.Conns": "conns", "load.MaxConns": "max-conns", "load.Depth": "depth",
	"load.Dialects": "dialects", "load.Cases": "corpus", "load.Mutate": "mutate", "load.Mutator": "mutate",
	"load.Timeout": "timeout", "load.MaxLineLength": "max-line", "load.Shard": "shard", "load.StartAt": "start-at",
	"load.SLO": "slo", "load.SourceAddrs": "source-addrs", "load.BatchWindow": "batch-window",

	"capacity.Start": "start", "capacity.Max": "max", "capacity.Growth": "growth", "capacity.Precision": "precision",
	"capacity.Tolerance": "tolerance", "capacity.Warmup": "warm-up", "capacity.NoWarmup": "warm-up", "capacity.Dwell": "dwell",
	"capacity.MaxSteps": "max-steps", "capacity.Retries": "retries", "capacity.NoRetries": "retries",
	"capacity.Dir": "sync-dir", "capacity.Shard": "shard", "capacity.StartAt": "start-at", "capacity.Timeout": "sync-timeout",
	"capacity.Gap": "sync-gap",

	"conformance.Target": "target", "conformance.Role": "role", "conformance.Dialects": "dialects",
	"conformance.Timeout": "timeout", "conformance.LongLine": "long-line", "conformance.Run": "run",

	"fuzz.Target": "target", "fuzz.Command": "exec", "fuzz.Timeout": "timeout", "fuzz.AmplifyFactor": "amplify-factor",
	"fuzz.AmplifyFloor": "amplify-floor", "fuzz.Cases": "cases", "fuzz.Duration": "duration", "fuzz.Rate": "rate",
	"fuzz.Conns": "conns", "fuzz.Seeds": "corpus", "fuzz.SequenceShare": "sequence", "fuzz.MinimizeRuns": "minimize-runs",
	"fuzz.MinimizeTime": "minimize-time", "fuzz.MinimizeShare": "minimize-share",
}

// fieldProblem returns the flag that sets the field a package's FieldError
// in err names (the field's Go name when no flag does), and the problem.
func fieldProblem(err error) (flag, problem string, ok bool) {
	var field string
	if fe, ok := errors.AsType[*load.FieldError](err); ok {
		field, problem = "load."+fe.Field, fe.Problem
	} else if fe, ok := errors.AsType[*capacity.FieldError](err); ok {
		field, problem = "capacity."+fe.Field, fe.Problem
	} else if fe, ok := errors.AsType[*conformance.FieldError](err); ok {
		field, problem = "conformance."+fe.Field, fe.Problem
	} else if fe, ok := errors.AsType[*fuzz.FieldError](err); ok {
		field, problem = "fuzz."+fe.Field, fe.Problem
	} else {
		return "", "", false
	}
	return cmp.Or(fieldFlags[field], field), problem, true
}

// badInput reports whether err is a usage error: a [*flagError], or a
// package's FieldError (a config that validated badly).
func badInput(err error) bool {
	var fe *flagError
	_, _, field := fieldProblem(err)
	return field || errors.As(err, &fe)
}

// usageText says what is wrong with the input in err, naming each flag:
// "-conns: must not be negative; -mutate: share 2: want 0 to 1".
func usageText(err error) string {
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		var parts []string
		for _, e := range joined.Unwrap() {
			parts = append(parts, usageText(e))
		}
		return strings.Join(parts, "; ")
	}
	var fe *flagError
	if errors.As(err, &fe) {
		if _, problem, ok := fieldProblem(fe.Err); ok {
			err = &flagError{Flag: fe.Flag, Err: errors.New(problem)}
		}
		return err.Error()
	}
	if flag, problem, ok := fieldProblem(err); ok {
		return "-" + flag + ": " + problem
	}
	return err.Error()
}

// zeroFlags returns a usage error naming the first of the flags given
// (set) whose value is 0 (zero), a value the config reads as its default.
func zeroFlags(set, zero map[string]bool) error {
	for _, name := range slices.Sorted(maps.Keys(zero)) {
		if set[name] && zero[name] {
			return badFlag(name, "must not be 0")
		}
	}
	return nil
}

// exitError prints err as the named command's one line and returns its
// exit status: exitUsage for bad input (see badInput), exitFail otherwise.
func exitError(stderr io.Writer, name string, err error) int {
	if badInput(err) {
		return usageError(stderr, name, usageText(err))
	}
	return failure(stderr, name, err)
}

// usageError prints one line and returns exitUsage.
func usageError(stderr io.Writer, name, msg string) int {
	fmt.Fprintf(stderr, "cvrswarm %s: %s (see 'cvrswarm %s -h')\n", name, strings.TrimSpace(msg), name)
	return exitUsage
}

// failure prints one line and returns exitFail.
func failure(stderr io.Writer, name string, err error) int {
	fmt.Fprintf(stderr, "cvrswarm %s: %v\n", name, err)
	return exitFail
}

// interrupted says on stderr that the named command was stopped and what
// its output covers, and returns exitInterrupted.
func interrupted(stderr io.Writer, name, covers string) int {
	fmt.Fprintf(stderr, "cvrswarm %s: interrupted: %s\n", name, covers)
	return exitInterrupted
}

// wrote says on stderr that a file was written.
func wrote(stderr io.Writer, path string) {
	fmt.Fprintf(stderr, "cvrswarm: wrote %s\n", path)
}
