package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cvrswarm/cvrswarm/msnp"
	"github.com/cvrswarm/cvrswarm/msnp/refserver"
)

// TestServeRunsUntilCancelled starts `cvrswarm serve` in-process on a
// free port, logs in through it, and stops it by cancelling the context.
func TestServeRunsUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errR, errW := io.Pipe()
	var stdout bytes.Buffer
	status := make(chan int, 1)
	go func() {
		defer errW.Close()
		status <- run(ctx, []string{"serve", "-addr", "127.0.0.1:0", "-role", "ds", "-dialects", "MSNP8-MSNP15",
			"-recommended", "8.5.1302", "-service-time", "1ms", "-workers", "4"}, &stdout, errW)
	}()
	stderr := bufio.NewReader(errR)
	first, err := stderr.ReadString('\n')
	if err != nil {
		t.Fatalf("read the first line on stderr: %v", err)
	}
	const prefix = "cvrswarm serve: serving on "
	addr, rest, ok := strings.Cut(strings.TrimPrefix(first, prefix), " ")
	if !strings.HasPrefix(first, prefix) || !ok || !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("first stderr line %q, want %q and an address", first, prefix)
	}
	if want := "(role ds, dialects MSNP8-MSNP15, capacity 4000 CVR/s); Ctrl-C stops\n"; rest != want {
		t.Errorf("first stderr line ends %q, want %q", rest, want)
	}
	var tail bytes.Buffer
	var wg sync.WaitGroup
	wg.Go(func() { io.Copy(&tail, stderr) })

	dctx, dcancel := context.WithTimeout(ctx, 5*time.Second)
	defer dcancel()
	c, err := msnp.Dial(dctx, msnp.TCPTarget(addr), msnp.ClientConfig{Dialects: []msnp.Dialect{"MSNP18", "MSNP15", msnp.CVR0}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Handshake(dctx); err != nil {
		t.Fatalf("Handshake: %v", err)
	}
	if got := c.Dialect(); got != "MSNP15" {
		t.Errorf("dialect %q, want MSNP15 (the highest of -dialects)", got)
	}
	r, err := c.CVR(dctx, msnp.Request{Locale: "0x0409", SystemType: "winnt", SystemVer: "5.1", SystemArch: "i386",
		Library: "MSNMSGR", ClientVersion: "8.5.1302", ClientID: "BC01", Params: 7})
	if err != nil {
		t.Fatalf("CVR: %v", err)
	}
	if r.CVR.Recommended != "8.5.1302" {
		t.Errorf("reply %q, want recommended-version 8.5.1302", r.String())
	}

	cancel()
	select {
	case got := <-status:
		if got != exitOK {
			t.Errorf("exit status %d, want %d", got, exitOK)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop after the context was cancelled")
	}
	wg.Wait()
	if got := tail.String(); got != "cvrswarm serve: stopped\n" {
		t.Errorf("stderr after the start line %q, want the stop line", got)
	}
	if _, err := c.ReadLine(dctx); err == nil {
		t.Error("connection still open after serve stopped")
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout %q, want nothing", stdout.String())
	}
}

func TestServeBadFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want string // in the one stderr line
	}{
		{[]string{"-addr", "nonsense"}, `-addr "nonsense": want host:port`},
		{[]string{"-role", "sb"}, `-role "sb"`},
		{[]string{"-dialects", "MSNP99"}, "-dialects"},
		{[]string{"-dialects", "MSNP9-MSNP8"}, "-dialects"},
		{[]string{"-recommended", "8.5 1302"}, "-recommended"},
		{[]string{"-recommended2", "a\tb"}, "-recommended2"},
		{[]string{"-minimum", ""}, "-minimum"},
		{[]string{"-download-url", "http://x y"}, "-download-url"},
		{[]string{"-fallback-url", ""}, "-fallback-url"},
		{[]string{"-max-line", "0"}, "-max-line"},
		{[]string{"-max-line", "4194304"}, "-max-line"},
		{[]string{"-idle-timeout", "-1s"}, "-idle-timeout"},
		{[]string{"-idle-timeout", "soon"}, "-idle-timeout"},
		{[]string{"-max-conns", "-5"}, "-max-conns"},
		{[]string{"-service-time", "-2ms"}, "-service-time"},
		{[]string{"-workers", "0"}, "-workers"},
		{[]string{"-nope"}, "-nope"},
		{[]string{"extra"}, `"extra"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			got := run(context.Background(), append([]string{"serve"}, tt.args...), &stdout, &stderr)
			if got != exitUsage {
				t.Errorf("exit status %d, want %d", got, exitUsage)
			}
			line := stderr.String()
			if strings.Count(line, "\n") != 1 || !strings.HasPrefix(line, "cvrswarm serve: ") || !strings.Contains(line, tt.want) {
				t.Errorf("stderr %q, want one line naming %s", line, tt.want)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout %q, want nothing", stdout.String())
			}
		})
	}
}

func TestServeListenError(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	got := run(context.Background(), []string{"serve", "-addr", "127.0.0.1:99999"}, &stdout, &stderr)
	if got != exitFail {
		t.Errorf("exit status %d, want %d", got, exitFail)
	}
	if line := stderr.String(); strings.Count(line, "\n") != 1 || !strings.Contains(line, "listen") {
		t.Errorf("stderr %q, want one line about listening", line)
	}
}

func TestServeHelp(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	if got := run(context.Background(), []string{"serve", "-h"}, &stdout, &stderr); got != exitOK {
		t.Errorf("exit status %d, want 0", got)
	}
	for _, flag := range []string{"-addr", "-role", "-dialects", "-recommended", "-minimum", "-download-url",
		"-fallback-url", "-max-line", "-idle-timeout", "-max-conns", "-service-time", "-workers"} {
		if !strings.Contains(stdout.String(), flag+" ") {
			t.Errorf("help lacks %s", flag)
		}
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr %q, want nothing", stderr.String())
	}
}

// TestStartEmbedded checks the server that commands given no -target use:
// it says where it is on stderr, answers there, and stops.
func TestStartEmbedded(t *testing.T) {
	t.Parallel()
	var stderr bytes.Buffer
	addr, stop, err := startEmbedded(refserver.Config{}, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if want := "cvrswarm: no -target given: using the embedded reference server on " + addr + "\n"; stderr.String() != want {
		t.Errorf("stderr %q, want %q", stderr.String(), want)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := msnp.Dial(ctx, msnp.TCPTarget(addr), msnp.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Handshake(ctx); err != nil {
		t.Fatalf("Handshake: %v", err)
	}
	stop()
	if _, err := c.ReadLine(ctx); err == nil {
		t.Error("connection still open after stop")
	}
}

// TestServeConfigZeroMeansNoLimit checks that the flags' 0 ("never", "no
// limit") reaches the server as no limit, not as the config's zero value,
// which means the default.
func TestServeConfigZeroMeansNoLimit(t *testing.T) {
	t.Parallel()
	base := serveFlags{addr: "127.0.0.1:0", role: "ns", dialects: "MSNP8-MSNP15", recommended: "7.0.0813",
		minimum: "6.2.0205", download: "http://a.example/x.exe", fallback: "http://a.example", maxLine: 4096, workers: 1}
	tests := []struct {
		name         string
		idle         time.Duration
		maxConns     int
		wantIdle     time.Duration
		wantMaxConns int
	}{
		{"zero: none", 0, 0, -1, -1},
		{"set", time.Minute, 10, time.Minute, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := base
			f.idle, f.maxConns = tt.idle, tt.maxConns
			cfg, err := serveConfig(f)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.IdleTimeout != tt.wantIdle || cfg.MaxConns != tt.wantMaxConns {
				t.Errorf("IdleTimeout %v, MaxConns %d; want %v, %d", cfg.IdleTimeout, cfg.MaxConns, tt.wantIdle, tt.wantMaxConns)
			}
		})
	}
}
