package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/cvrswarm/cvrswarm/load"
)

func init() {
	register(&command{
		name: "merge", order: 60, summary: "combine the -json results of shards into one exact report",
		example: "cvrswarm merge shard-1.json shard-2.json shard-3.json -json merged.json",
		run:     runMerge,
	})
}

// mergeFlags are the merge command's flags.
type mergeFlags struct {
	jsonOut string
	force   bool
}

func runMerge(_ context.Context, args []string, stdout, stderr io.Writer) int {
	var f mergeFlags
	fs := flagSet("merge", stdout)
	fs.StringVar(&f.jsonOut, "json", "", "write the merged result to this `file` (the same format as load -json)")
	fs.BoolVar(&f.force, "force", false, "merge results whose targets or settings differ (the first file's settings are kept)")
	files, done, status := mergeParse(fs, args, stderr)
	if done {
		return status
	}
	if len(files) == 0 {
		return usageError(stderr, "merge", "give the result files to merge")
	}

	seen := map[string]string{}
	for _, path := range files {
		abs, err := filepath.Abs(path)
		if err != nil {
			return failure(stderr, "merge", err)
		}
		if first, dup := seen[abs]; dup {
			return usageError(stderr, "merge", fmt.Sprintf("%s is the same file as %s", path, first))
		}
		seen[abs] = path
	}
	results := make([]*load.Result, len(files))
	for i, path := range files {
		r, err := load.ReadResult(path)
		if err != nil {
			return failure(stderr, "merge", err)
		}
		results[i] = r
	}
	m, err := load.MergeOptions{Force: f.force}.Merge(results...)
	if err != nil {
		return failure(stderr, "merge", mergeExplain(err, files))
	}
	if missing := m.MissingShards(); len(missing) > 0 {
		fmt.Fprintf(stderr, "cvrswarm merge: warning: %d of %d shards missing (%s): the figures cover only the shards given\n",
			len(missing), m.Settings.Shards, strings.Join(missing, ", "))
	}
	if f.jsonOut != "" {
		if err := load.WriteResult(f.jsonOut, m); err != nil {
			return failure(stderr, "merge", err)
		}
	}
	mergeReport(stdout, m)
	return exitOK
}

// mergeParse parses flags placed before, between or after the file names,
// and returns the file names.
func mergeParse(fs *flag.FlagSet, args []string, stderr io.Writer) (files []string, done bool, status int) {
	for {
		if done, status := parseFlags(fs, args, stderr); done {
			return nil, true, status
		}
		args = fs.Args()
		if len(args) == 0 {
			return files, false, exitOK
		}
		files = append(files, args[0])
		args = args[1:]
	}
}

// mergeExplain rewrites a merge error in terms of the files given.
func mergeExplain(err error, files []string) error {
	var me *load.MergeError
	if !errors.As(err, &me) || me.Index >= len(files) || me.With >= len(files) {
		return err
	}
	msg := strings.TrimPrefix(me.Err.Error(), load.ErrMismatch.Error()+": ")
	if me.With >= 0 {
		hint := ""
		if errors.Is(err, load.ErrMismatch) {
			hint = " (-force merges them anyway)"
		}
		return fmt.Errorf("%s differs from %s: %s%s", files[me.Index], files[me.With], msg, hint)
	}
	return fmt.Errorf("%s: %s", files[me.Index], msg)
}

// mergeReport prints the merged result as text.
func mergeReport(w io.Writer, m *load.Result) {
	var shards []string
	for _, run := range m.Merged {
		s := run.Shard
		if s == "" {
			s = "unsharded"
		}
		if run.Partial {
			s += " (interrupted)"
		}
		shards = append(shards, s)
	}
	fmt.Fprintf(w, "merged   %d runs: %s\n", len(m.Merged), strings.Join(shards, ", "))
	fmt.Fprintf(w, "target   %s\n", m.Target)
	s := m.Settings
	fmt.Fprintf(w, "settings rate %s, duration %s, mode %s, depth %d, dialects %s, shards %d\n",
		s.Rate, mergeOr(s.Duration, fmt.Sprintf("%d requests", s.Requests)), s.Mode, s.Depth,
		strings.Join(s.Dialects, " "), s.Shards)
	fmt.Fprintf(w, "span     %s, %.2fs\n", m.Start.UTC().Format(time.RFC3339), m.DurationS)
	partial := ""
	if m.Partial {
		partial = "  (partial: a run was interrupted)"
	}
	fmt.Fprintf(w, "requests %d  late %d%s\n", m.Requests, m.Late, partial)
	requested := "unbounded"
	if m.Rate.Requested > 0 {
		requested = fmt.Sprintf("%.1f/s", m.Rate.Requested)
	}
	fmt.Fprintf(w, "rate     requested %s  achieved %.1f/s\n\n", requested, m.Rate.Achieved)

	fmt.Fprintf(w, "%-10s %9s %9s %9s %9s %9s %9s %9s\n", "", "count", "p50", "p90", "p99", "p99.9", "max", "mean")
	for _, row := range []struct {
		name string
		s    load.Summary
	}{{"latency", m.Latency}, {"service", m.Service}, {"connect", m.Connect}, {"handshake", m.Handshake}} {
		fmt.Fprintf(w, "%-10s %9d %9s %9s %9s %9s %9s %9s\n", row.name, row.s.Count, mergeUS(row.s.P50),
			mergeUS(row.s.P90), mergeUS(row.s.P99), mergeUS(row.s.P999), mergeUS(row.s.Max), mergeUS(int64(row.s.Mean)))
	}
	fmt.Fprint(w, "\noutcomes\n")
	for _, k := range slices.Sorted(maps.Keys(m.Outcomes)) {
		pct := 0.0
		if m.Requests > 0 {
			pct = 100 * float64(m.Outcomes[k]) / float64(m.Requests)
		}
		fmt.Fprintf(w, "  %-12s %10d %7.2f%%\n", k, m.Outcomes[k], pct)
	}
	fmt.Fprintf(w, "connections opened %d, max open %d (the runs' maxima summed)\n", m.Connections.Opened, m.Connections.MaxOpen)
}

// mergeUS formats microseconds as a duration.
func mergeUS(us int64) string {
	return (time.Duration(us) * time.Microsecond).String()
}

func mergeOr(s, alt string) string {
	if s != "" {
		return s
	}
	return alt
}
