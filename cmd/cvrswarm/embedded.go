package main

import (
	"fmt"
	"io"

	"github.com/cvrswarm/cvrswarm/msnp/refserver"
)

// startEmbedded starts the reference server on a free loopback port for a
// command given no -target, and says so on stderr.
func startEmbedded(cfg refserver.Config, stderr io.Writer) (addr string, stop func(), err error) {
	srv, err := refserver.Listen("127.0.0.1:0", cfg)
	if err != nil {
		return "", nil, fmt.Errorf("start the embedded reference server: %w", err)
	}
	fmt.Fprintf(stderr, "cvrswarm: no -target given: using the embedded reference server on %s\n", srv.Addr())
	return srv.Addr(), func() { srv.Close() }, nil
}
