// Command cvrswarm load-tests and fuzzes MSN Messenger (MSNP) servers
// through the first command every login sends: CVR, after VER.
//
// Run "cvrswarm help" for the subcommands.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	context.AfterFunc(ctx, stop) // the first signal stops the run; a second one kills at once
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}
