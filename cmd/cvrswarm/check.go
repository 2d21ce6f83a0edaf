package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"regexp"
	"sync/atomic"
	"time"

	"github.com/cvrswarm/cvrswarm/corpus"
	"github.com/cvrswarm/cvrswarm/msnp"
	"github.com/cvrswarm/cvrswarm/msnp/conformance"
	"github.com/cvrswarm/cvrswarm/msnp/refserver"
)

func init() {
	register(&command{
		name: "check", order: 40, summary: "check a server's VER/CVR handling rule by rule against the spec",
		example: "cvrswarm check -target 127.0.0.1:1863 -role ds -json check.json",
		details: checkDetails,
		run:     runCheck,
	})
}

// checkFlags holds the raw flag values of check before they are checked.
type checkFlags struct {
	target, role, dialects, run, json string
	timeout                           time.Duration
	longLine                          int
	strict, list, verbose, quiet      bool
}

// checkFlagSet binds the check command's flags onto f.
func checkFlagSet(f *checkFlags, stdout io.Writer) *flag.FlagSet {
	fs := flagSet("check", stdout)
	fs.StringVar(&f.target, "target", "", "server to check, host:port (default: the embedded reference server)")
	fs.StringVar(&f.role, "role", "ns", "what the target is: ns (takes CVR in every dialect) or ds (CVR from MSNP8, CVQ after CVR0)")
	fs.StringVar(&f.dialects, "dialects", "", `dialects the client offers in VER: a range "MSNP8-MSNP18" (CVR0 added) or a list "MSNP15,MSNP8,CVR0" (default: MSNP23 to MSNP2 and CVR0)`)
	fs.DurationVar(&f.timeout, "timeout", conformance.DefaultTimeout, "wait this long for each connect, reply line or close")
	fs.BoolVar(&f.strict, "strict", false, "warnings (where real servers commonly differ from the spec) count as failures")
	fs.StringVar(&f.json, "json", "", "also write the results as JSON to this `FILE` (atomically): target, role, dialects offered and spoken, every rule's sent, expected, got, verdict and reason, and the summary (inconclusive included)")
	fs.StringVar(&f.run, "run", "", "run only the rules whose ID matches this regular expression")
	fs.BoolVar(&f.list, "list", false, "list the rules and exit")
	fs.BoolVar(&f.verbose, "v", false, "show the full exchange of every rule, not only of those that did not pass")
	fs.IntVar(&f.longLine, "long-line", conformance.DefaultLongLine, "length in bytes of the long-line rule's line")
	fs.BoolVar(&f.quiet, "quiet", false, "no progress on stderr")
	return fs
}

func runCheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var f checkFlags
	fs := checkFlagSet(&f, stdout)
	if done, status := parseFlags(fs, args, stderr); done {
		return status
	}
	if fs.NArg() > 0 {
		return usageError(stderr, "check", fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
	}
	if f.list {
		if err := conformance.WriteRules(stdout); err != nil {
			return failure(stderr, "check", err)
		}
		return exitOK
	}
	cfg, err := checkConfig(f)
	if err != nil {
		return exitError(stderr, "check", err)
	}
	addr := f.target
	if addr == "" {
		a, stop, err := startEmbedded(refserver.Config{Role: cfg.Role}, stderr)
		if err != nil {
			return failure(stderr, "check", err)
		}
		defer stop()
		addr = a
	}
	cfg.Target = msnp.TCPTarget(addr)

	total := int64(0)
	for _, r := range conformance.Rules() {
		if cfg.Run == nil || cfg.Run.MatchString(r.ID) {
			total++
		}
	}
	var done, warned, failed atomic.Int64
	cfg.OnResult = func(r conformance.Result) {
		switch r.Verdict {
		case conformance.Warn:
			warned.Add(1)
		case conformance.Fail:
			failed.Add(1)
		}
		done.Add(1)
	}
	stopProgress := startProgress(ctx, stderr, progressConfig{Label: "check", Quiet: f.quiet}, func() progressReport {
		return progressReport{Done: done.Load(), Total: total, Unit: "rules", Status: fmt.Sprintf("warn %d  fail %d", warned.Load(), failed.Load())}
	})
	rep, runErr := conformance.Run(ctx, cfg)
	stopProgress()
	if rep == nil {
		return failure(stderr, "check", runErr)
	}
	status := exitOK
	if f.json != "" {
		if err := checkWriteJSON(f.json, rep); err != nil {
			status = failure(stderr, "check", fmt.Errorf("-json: %w", err))
		} else {
			wrote(stderr, f.json)
		}
	}
	if err := rep.WriteTable(stdout, f.verbose); err != nil {
		return failure(stderr, "check", err)
	}
	switch {
	case runErr != nil && ctx.Err() != nil:
		return interrupted(stderr, "check", "the rules not run are skipped")
	case runErr != nil:
		return failure(stderr, "check", runErr)
	case !rep.Passed():
		return exitFail
	}
	return status
}

// checkConfig maps the flag values onto a check config, the target the
// address of -target ("" until the embedded server starts), and validates
// it. Its errors are flag errors, or the config's *conformance.FieldError.
func checkConfig(f checkFlags) (conformance.Config, error) {
	cfg := conformance.Config{Target: msnp.TCPTarget(f.target), Timeout: f.timeout, LongLine: f.longLine, Strict: f.strict}
	var err error
	if cfg.Role, err = msnp.ParseRole(f.role); err != nil {
		return cfg, badFlag("role", "%q: want ds or ns", f.role)
	}
	if f.dialects != "" {
		if cfg.Dialects, err = msnp.ParseDialects(f.dialects); err != nil {
			return cfg, &flagError{Flag: "dialects", Err: err}
		}
	}
	if f.target != "" {
		if _, _, err := net.SplitHostPort(f.target); err != nil {
			return cfg, badFlag("target", "%q: want host:port", f.target)
		}
	}
	if f.run != "" {
		if cfg.Run, err = regexp.Compile(f.run); err != nil {
			return cfg, &flagError{Flag: "run", Err: err}
		}
	}
	// 0 is the config's default for both: as a flag value it is a mistake.
	switch {
	case f.timeout <= 0:
		return cfg, badFlag("timeout", "%v: want more than 0", f.timeout)
	case f.longLine <= 0:
		return cfg, badFlag("long-line", "%d: want at least %d bytes", f.longLine, conformance.MinLongLine)
	}
	return cfg, cfg.Validate()
}

// checkWriteJSON writes the report to path atomically.
func checkWriteJSON(path string, rep *conformance.Report) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return corpus.WriteFile(path, append(b, '\n'))
}
