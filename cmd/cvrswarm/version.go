package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/cvrswarm/cvrswarm/msnp"
)

func init() {
	register(&command{
		name: "version", order: 90, summary: "print the version, the Go toolchain and the dialects spoken",
		example: "cvrswarm version",
		run:     runVersion,
	})
}

func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flagSet("version", stdout)
	if done, status := parseFlags(fs, args, stderr); done {
		return status
	}
	if fs.NArg() > 0 {
		return usageError(stderr, "version", fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
	}
	version := "(devel)"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		version = bi.Main.Version
	}
	ds := msnp.Dialects()
	fmt.Fprintf(stdout, "cvrswarm %s %s %s/%s; dialects %s to %s and %s\n", version, runtime.Version(),
		runtime.GOOS, runtime.GOARCH, ds[len(ds)-2], ds[0], msnp.CVR0)
	return exitOK
}
