package load

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime/pprof"
	"strings"
	"testing"

	"github.com/cvrswarm/cvrswarm/msnp/msnptest"
	"github.com/cvrswarm/cvrswarm/msnp/refserver"
)

// The benchmarks that measure the generator's own CPU time run the server
// in a child process (this test binary again), so that getrusage counts
// the generator alone. The child serves until its standard input closes.
const (
	envBenchServer        = "CVRSWARM_BENCH_SERVER"         // "canned" or "reference": run that server and nothing else
	envBenchServerProfile = "CVRSWARM_BENCH_SERVER_PROFILE" // a file for the child's CPU profile
)

var serverProfile = flag.String("server-cpuprofile", "", "write the CPU profile of a benchmark's server process to `file`")

// serveForParent runs the server the parent asked for: it prints the
// address on stdout and serves until stdin closes.
func serveForParent(kind string) int {
	if path := os.Getenv(envBenchServerProfile); path != "" {
		f, err := os.Create(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	var addr string
	var stop func()
	switch kind {
	case "canned":
		srv, err := msnptest.NewCanned()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		addr, stop = srv.Addr(), srv.Close
	case "reference":
		srv, err := refserver.Listen("127.0.0.1:0", refserver.Config{MaxConns: -1, IdleTimeout: -1})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		addr, stop = srv.Addr(), func() { srv.Close() }
	default:
		fmt.Fprintf(os.Stderr, "%s=%q: want canned or reference\n", envBenchServer, kind)
		return 1
	}
	fmt.Println(addr)
	io.Copy(io.Discard, os.Stdin)
	stop()
	return 0
}

// childServer starts a server of the kind in a child process and returns
// its address; the child stops when the benchmark ends.
func childServer(b *testing.B, kind string) string {
	addr, _ := childServerProcess(b, kind)
	return addr
}

// childServerProcess is childServer that also returns the child's process
// ID, for reading what it costs.
func childServerProcess(b *testing.B, kind string) (string, int) {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^$")
	cmd.Env = append(os.Environ(), envBenchServer+"="+kind)
	if *serverProfile != "" {
		cmd.Env = append(cmd.Env, envBenchServerProfile+"="+*serverProfile)
	}
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatalf("server process: %v", err)
	}
	addr := strings.TrimSpace(line)
	if _, _, err := net.SplitHostPort(addr); err != nil {
		b.Fatalf("server process printed %q, want an address", line)
	}
	return addr, cmd.Process.Pid
}
