package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/cvrswarm/cvrswarm/load/report"
)

func init() {
	register(&command{
		name: "report", order: 50,
		summary: "print the report of a saved load, capacity or fuzz JSON and draw its charts again",
		example: "cvrswarm report run.json -html run.html -png charts/",
		details: reportDetails,
		run:     runReport,
	})
}

// reportFlags are the flags that write a run's pictures, shared by the
// commands that draw them.
type reportFlags struct {
	html, png string
}

func (f *reportFlags) bind(fs *flag.FlagSet) {
	fs.StringVar(&f.html, "html", "", "write a self-contained HTML `FILE` with the report and its charts")
	fs.StringVar(&f.png, "png", "", "write the charts as PNG files into `DIR` (created if missing)")
}

// write writes the page where the flags ask, saying on stderr what it wrote.
func (f *reportFlags) write(page report.Page, stderr io.Writer) error {
	if f.html == "" && f.png == "" {
		return nil
	}
	if err := report.Write(page, f.html, f.png); err != nil {
		return err
	}
	if f.html != "" {
		fmt.Fprintf(stderr, "cvrswarm: wrote %s\n", f.html)
	}
	if f.png != "" {
		fmt.Fprintf(stderr, "cvrswarm: wrote %d charts into %s\n", len(page.Charts), f.png)
	}
	return nil
}

// reportParseInterspersed parses flags that may come after the positional
// arguments ("report run.json -html x.html") and returns the positionals.
func reportParseInterspersed(fs *flag.FlagSet, args []string, stderr io.Writer) (pos []string, done bool, status int) {
	for {
		if done, status := parseFlags(fs, args, stderr); done {
			return nil, true, status
		}
		if fs.NArg() == 0 {
			return pos, false, exitOK
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// reportFlagSet binds the report command's flags onto f.
func reportFlagSet(f *reportFlags, stdout io.Writer) *flag.FlagSet {
	fs := flagSet("report", stdout)
	f.bind(fs)
	return fs
}

func runReport(_ context.Context, args []string, stdout, stderr io.Writer) int {
	var out reportFlags
	fs := reportFlagSet(&out, stdout)
	files, done, status := reportParseInterspersed(fs, args, stderr)
	if done {
		return status
	}
	switch len(files) {
	case 0:
		return usageError(stderr, "report", "name the JSON file of a run (written by load -json, capacity -json or fuzz -json)")
	case 1:
	default:
		return usageError(stderr, "report", fmt.Sprintf("one file at a time; got %d (use 'cvrswarm merge' to combine runs)", len(files)))
	}
	saved, err := report.ReadSaved(files[0])
	if err != nil {
		return failure(stderr, "report", err)
	}
	if err := saved.WriteText(stdout); err != nil {
		return failure(stderr, "report", err)
	}
	if out.html == "" && out.png == "" {
		return exitOK
	}
	page, err := saved.Page()
	if err != nil {
		return failure(stderr, "report", err)
	}
	if err := out.write(page, stderr); err != nil {
		return failure(stderr, "report", err)
	}
	return exitOK
}
