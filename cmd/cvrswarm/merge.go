package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"

	"github.com/cvrswarm/cvrswarm/load"
	"github.com/cvrswarm/cvrswarm/load/report"
)

func init() {
	register(&command{
		name: "merge", order: 60, summary: "combine the -json results of shards into one exact report",
		example: "cvrswarm merge shard-1.json shard-2.json shard-3.json -json merged.json",
		details: mergeDetails,
		run:     runMerge,
	})
}

// mergeFlags are the merge command's flags.
type mergeFlags struct {
	jsonOut, hgrm, hdrLog string
	slo                   string
	force                 bool
	pictures              reportFlags // -html, -png
}

// mergeFlagSet binds the merge command's flags onto f.
func mergeFlagSet(f *mergeFlags, stdout io.Writer) *flag.FlagSet {
	fs := flagSet("merge", stdout)
	fs.StringVar(&f.jsonOut, "json", "", "write the merged result to this `file` (the same format as load -json)")
	fs.BoolVar(&f.force, "force", false, "merge results whose targets or settings differ (the first file's settings are kept)")
	fs.StringVar(&f.slo, "slo", "", "judge the merged result by these `objectives` instead of the runs' -slo, e.g. 'p99<20ms,errors<1%': exit status 3 when one is breached")
	fs.StringVar(&f.hgrm, "hgrm", "", "write the merged response-time percentile distribution (.hgrm, in ms) to `FILE`")
	fs.StringVar(&f.hdrLog, "hdr-log", "", "write the merged HdrHistogram interval log (one interval a second) to `FILE`")
	f.pictures.bind(fs)
	return fs
}

func runMerge(_ context.Context, args []string, stdout, stderr io.Writer) int {
	var f mergeFlags
	fs := mergeFlagSet(&f, stdout)
	files, done, status := reportParseInterspersed(fs, args, stderr)
	if done {
		return status
	}
	if len(files) == 0 {
		return usageError(stderr, "merge", "give the result files to merge")
	}
	var slo []load.Objective
	if f.slo != "" {
		var err error
		if slo, err = load.ParseSLO(f.slo); err != nil {
			return exitError(stderr, "merge", err)
		}
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
	for _, w := range load.MergeWarnings(m, results, files) {
		fmt.Fprintf(stderr, "cvrswarm merge: warning: %s\n", w)
	}
	if slo != nil {
		m.Settings.SLO, m.SLO = f.slo, load.EvaluateSLO(slo, m)
	}
	// The same files as load writes, in the same formats (the page apart).
	if err := loadWrite(&loadFlags{jsonOut: f.jsonOut, hdrLog: f.hdrLog, hgrm: f.hgrm}, m, stderr); err != nil {
		return failure(stderr, "merge", err)
	}
	var text bytes.Buffer
	if err := report.WriteMergedText(&text, m); err != nil {
		return failure(stderr, "merge", err)
	}
	if _, err := stdout.Write(text.Bytes()); err != nil {
		return failure(stderr, "merge", err)
	}
	if f.pictures.html != "" || f.pictures.png != "" {
		page, err := report.LoadPage(m)
		if err == nil {
			page.Title, page.Text = "cvrswarm merge: "+m.Target, text.String()
			err = f.pictures.write(page, stderr)
		}
		if err != nil {
			return failure(stderr, "merge", err)
		}
	}
	return loadSLOStatus(stderr, "merge", m.SLO)
}

// mergeExplain rewrites a merge error in terms of the files given.
func mergeExplain(err error, files []string) error {
	me, ok := errors.AsType[*load.MergeError](err)
	if !ok || me.Index >= len(files) || me.With >= len(files) {
		return err
	}
	switch {
	case me.With >= 0 && errors.Is(err, load.ErrMismatch):
		return fmt.Errorf("%s differs from %s: %w (-force merges them anyway)", files[me.Index], files[me.With], me.Err)
	case me.With >= 0:
		return fmt.Errorf("%s conflicts with %s: %w", files[me.Index], files[me.With], me.Err)
	}
	return fmt.Errorf("%s: %w", files[me.Index], me.Err)
}
