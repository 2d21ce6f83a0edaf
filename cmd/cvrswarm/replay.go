package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/cvrswarm/cvrswarm/fuzz"
)

func init() {
	register(&command{
		name: "replay", order: 31, summary: "re-send saved findings or corpus files; exit 1 when any still reproduces",
		example: "cvrswarm replay -target 127.0.0.1:1863 findings/",
		run:     runReplay,
	})
}

// replayFlagSet binds the replay command's flags onto f.
func replayFlagSet(f *fuzzTargetFlags, stdout io.Writer) *flag.FlagSet {
	fs := flagSet("replay", stdout)
	f.register(fs)
	fs.Lookup("target").Usage = "host:port of the server to replay against; give it or -exec"
	return fs
}

func runReplay(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var tf fuzzTargetFlags
	fs := replayFlagSet(&tf, stdout)
	if done, status := parseFlags(fs, args, stderr); done {
		return status
	}
	if fs.NArg() == 0 {
		return usageError(stderr, "replay", "name at least one finding record, folder or `go test fuzz v1` file")
	}
	if tf.target == "" && tf.exec == "" {
		// a finding that does not reproduce on some other server says nothing of the one it came from
		return usageError(stderr, "replay", "give -target or -exec: the server to replay against ('cvrswarm serve' runs the reference server)")
	}
	oracle, err := tf.oracle()
	if err != nil {
		return exitError(stderr, "replay", err)
	}
	var inputs []fuzz.Input
	for _, path := range fs.Args() {
		in, err := fuzz.LoadInputs(path)
		if err != nil {
			return failure(stderr, "replay", err)
		}
		inputs = append(inputs, in...)
	}
	_, stop, err := tf.start(ctx, "replay", stderr, &oracle)
	if err != nil {
		return exitError(stderr, "replay", err)
	}
	defer stop()
	if err := oracle.Check(ctx); err != nil {
		return failure(stderr, "replay", err)
	}
	results, err := oracle.Replay(ctx, inputs)
	reproduced := 0
	for _, r := range results {
		if r.Reproduces() {
			reproduced++
		}
		fmt.Fprintln(stdout, replayLine(r))
	}
	if err != nil {
		return failure(stderr, "replay", err)
	}
	fmt.Fprintf(stdout, "replay: %d inputs, %d reproduce, %d do not\n", len(results), reproduced, len(results)-reproduced)
	if reproduced > 0 {
		return exitFail
	}
	return exitOK
}

// replayLine says what one input does now.
func replayLine(r fuzz.ReplayResult) string {
	rec := r.Input.Record
	switch {
	case r.Reproduces() && r.Same:
		return fmt.Sprintf("%s: reproduces: %s", r.Input.Path, r.Verdict.Signature)
	case r.Reproduces() && rec != nil:
		return fmt.Sprintf("%s: reproduces another defect: %s (recorded: %s)", r.Input.Path, r.Verdict.Signature, rec.Signature)
	case r.Reproduces():
		return fmt.Sprintf("%s: reproduces: %s", r.Input.Path, r.Verdict.Signature)
	case rec != nil:
		return fmt.Sprintf("%s: does not reproduce (recorded: %s)", r.Input.Path, rec.Signature)
	}
	return fmt.Sprintf("%s: does not reproduce", r.Input.Path)
}
