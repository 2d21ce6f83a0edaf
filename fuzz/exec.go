package fuzz

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// Defaults for [Exec].
const (
	// DefaultStartTimeout bounds how long a started target may take to
	// accept connections.
	DefaultStartTimeout = 10 * time.Second
	// DefaultTailSize is how much of the target's stderr is kept.
	DefaultTailSize = 64 << 10
)

// AddrPlaceholder is replaced by the loopback address the target must
// listen on in an [ExecConfig] command.
const AddrPlaceholder = "{addr}"

// ExecConfig says how to run a target server.
type ExecConfig struct {
	// Command is the command line, split into words as a shell would
	// (single and double quotes, backslash escapes) but run without one;
	// every "{addr}" in it becomes the address to listen on.
	Command string
	// StartTimeout bounds the wait for the target to accept; 0 means
	// DefaultStartTimeout.
	StartTimeout time.Duration
	// TailSize is how many bytes of stderr are kept, each line cut to
	// 1 KiB; 0 means DefaultTailSize.
	TailSize int
}

// Validate reports a command that cannot be run as a [*FieldError] of
// Command; nil when [StartExec] can try it.
func (c ExecConfig) Validate() error {
	if !strings.Contains(c.Command, AddrPlaceholder) {
		return fieldErr("Command", "%q: put %s where the command takes its listen address", c.Command, AddrPlaceholder)
	}
	if _, err := SplitCommand(c.Command); err != nil {
		return fieldErr("Command", "%q: not a command line (a quote left open?)", c.Command)
	}
	return nil
}

// ExitInfo says how a target process ended.
type ExitInfo struct {
	Code   int    // the exit status; -1 when killed by a signal
	Signal string // the signal that killed it ("segmentation fault"), or ""
	Stderr string // the tail of its stderr
	Time   time.Time
}

// String reads "exit status 2" or "signal: killed".
func (e ExitInfo) String() string {
	if e.Signal != "" {
		return "signal: " + e.Signal
	}
	return fmt.Sprintf("exit status %d", e.Code)
}

// Exec runs a target server on a free loopback address, watches it and
// restarts it on request. It owns the process: Close kills it and reaps
// it, and so does Restart before starting the next one. Its methods are
// safe for concurrent use.
type Exec struct {
	cfg  ExecConfig
	args []string
	addr string

	restartMu sync.Mutex // one restart at a time
	mu        sync.Mutex
	cmd       *exec.Cmd
	gen       uint64
	done      chan struct{} // closed when the current process has exited
	exit      ExitInfo
	tail      *tailBuffer
	restarts  int
	closed    bool
}

// StartExec picks a free loopback address, starts the command with it
// and waits until the target accepts connections.
func StartExec(ctx context.Context, cfg ExecConfig) (*Exec, error) {
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = DefaultStartTimeout
	}
	if cfg.TailSize <= 0 {
		cfg.TailSize = DefaultTailSize
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	args, err := SplitCommand(strings.ReplaceAll(cfg.Command, AddrPlaceholder, addr))
	if err != nil {
		return nil, err
	}
	x := &Exec{cfg: cfg, args: args, addr: addr}
	if err := x.start(ctx); err != nil {
		return nil, err
	}
	return x, nil
}

// freeAddr returns a loopback address nobody listens on right now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr, nil
}

// Addr returns the address the target listens on.
func (x *Exec) Addr() string { return x.addr }

// String returns the command line as run.
func (x *Exec) String() string { return strings.Join(x.args, " ") }

// Dial connects to the target.
func (x *Exec) Dial(ctx context.Context) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "tcp", x.addr)
}

// Generation counts the processes started so far: it changes at every
// restart.
func (x *Exec) Generation() uint64 {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.gen
}

// Restarts returns how many times the target was restarted.
func (x *Exec) Restarts() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.restarts
}

// Exited reports whether the current process has exited, and how.
func (x *Exec) Exited() (ExitInfo, bool) {
	x.mu.Lock()
	done := x.done
	x.mu.Unlock()
	select {
	case <-done:
		x.mu.Lock()
		defer x.mu.Unlock()
		return x.exit, true
	default:
		return ExitInfo{}, false
	}
}

// WaitExit waits up to d for the current process to exit.
func (x *Exec) WaitExit(ctx context.Context, d time.Duration) (ExitInfo, bool) {
	x.mu.Lock()
	done := x.done
	x.mu.Unlock()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return x.Exited()
	case <-t.C:
	case <-ctx.Done():
	}
	return ExitInfo{}, false
}

// StderrTail returns what the current process wrote to stderr lately.
func (x *Exec) StderrTail() string {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.tail.String()
}

// Restart stops the current process if it still runs, reaps it, and
// starts a new one on the same address.
func (x *Exec) Restart(ctx context.Context) error {
	x.restartMu.Lock()
	defer x.restartMu.Unlock()
	return x.restart(ctx)
}

// Revive starts a new process when the current one has exited; of
// callers that find it exited at once, one restarts it and the others
// wait for that.
func (x *Exec) Revive(ctx context.Context) error {
	x.restartMu.Lock()
	defer x.restartMu.Unlock()
	if _, exited := x.Exited(); !exited {
		return nil
	}
	return x.restart(ctx)
}

func (x *Exec) restart(ctx context.Context) error {
	x.stop()
	x.mu.Lock()
	if x.closed {
		x.mu.Unlock()
		return errors.New("exec target closed")
	}
	x.restarts++
	x.mu.Unlock()
	return x.start(ctx)
}

// Close kills the process and waits for it.
func (x *Exec) Close() error {
	x.mu.Lock()
	x.closed = true
	x.mu.Unlock()
	x.stop()
	return nil
}

func (x *Exec) stop() {
	x.mu.Lock()
	cmd, done := x.cmd, x.done
	x.mu.Unlock()
	if cmd == nil {
		return
	}
	select {
	case <-done:
		return
	default:
	}
	killGroup(cmd)
	<-done
}

func (x *Exec) start(ctx context.Context) error {
	cmd := exec.Command(x.args[0], x.args[1:]...)
	tail := &tailBuffer{max: x.cfg.TailSize}
	cmd.Stderr = tail
	cmd.WaitDelay = time.Second // a grandchild holding stderr open must not stall Wait
	setProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", x.args[0], err)
	}
	done := make(chan struct{})
	x.mu.Lock()
	x.cmd, x.done, x.tail = cmd, done, tail
	x.gen++
	x.mu.Unlock()
	go func() { // owned by x: stop and Close wait for done
		err := cmd.Wait()
		info := ExitInfo{Code: cmd.ProcessState.ExitCode(), Signal: exitSignal(cmd.ProcessState), Stderr: tail.String(), Time: time.Now()}
		if err != nil && cmd.ProcessState == nil {
			info.Code = -1
		}
		x.mu.Lock()
		x.exit = info
		x.mu.Unlock()
		close(done)
	}()
	return x.waitAccepting(ctx, done)
}

// acceptPoll is how often a starting target is tried for a connection.
const acceptPoll = 2 * time.Millisecond

// waitAccepting tries to connect every acceptPoll until the target
// accepts, exits or the start timeout passes.
func (x *Exec) waitAccepting(ctx context.Context, done chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, x.cfg.StartTimeout)
	defer cancel()
	for {
		c, err := x.Dial(ctx)
		if err == nil {
			c.Close()
			return nil
		}
		t := time.NewTimer(acceptPoll)
		select {
		case <-done:
			t.Stop()
			info, _ := x.Exited()
			return fmt.Errorf("%s exited before accepting on %s (%s): %s", x.args[0], x.addr, info, lastLine(info.Stderr))
		case <-ctx.Done():
			t.Stop()
			x.stop()
			return fmt.Errorf("%s does not accept on %s after %s", x.args[0], x.addr, x.cfg.StartTimeout)
		case <-t.C:
		}
	}
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if s == "" {
		return "no output on stderr"
	}
	return s
}

// maxTailLine is the most bytes of one stderr line a tailBuffer keeps:
// a panic whose message quotes a megabyte of input keeps its first line
// and its stack.
const maxTailLine = 1024

// tailMark ends a line cut to maxTailLine.
const tailMark = "…"

// tailBuffer keeps the last max bytes written to it, each line cut to
// maxTailLine bytes.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
	col int // bytes of the current line kept; more than maxTailLine once cut
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		line, rest, eol := bytes.Cut(p, []byte("\n"))
		p = rest
		if t.col <= maxTailLine {
			k := min(maxTailLine-t.col, len(line))
			t.b = append(t.b, line[:k]...)
			t.col += k
			if k < len(line) {
				t.b = append(t.b, tailMark...)
				t.col = maxTailLine + 1
			}
		}
		if eol {
			t.b = append(t.b, '\n')
			t.col = 0
		}
	}
	if over := len(t.b) - t.max; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return n, nil
}

func (t *tailBuffer) String() string {
	if t == nil {
		return ""
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

// SplitCommand splits a command line into words as a POSIX shell does for
// quoting: single quotes keep everything, double quotes keep everything
// but backslash escapes of \ and ", and a backslash outside quotes keeps
// the next byte.
func SplitCommand(s string) ([]string, error) {
	var (
		words []string
		cur   strings.Builder
		in    bool // inside a word
		quote byte
	)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote == '\'':
			if c == '\'' {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
		case quote == '"':
			switch {
			case c == '"':
				quote = 0
			case c == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\'):
				i++
				cur.WriteByte(s[i])
			default:
				cur.WriteByte(c)
			}
		case c == '\'' || c == '"':
			quote, in = c, true
		case c == '\\':
			if i+1 < len(s) {
				i++
				cur.WriteByte(s[i])
			}
			in = true
		case c == ' ' || c == '\t' || c == '\n':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("command %q: unterminated %c quote", s, quote)
	}
	if in {
		words = append(words, cur.String())
	}
	if len(words) == 0 {
		return nil, errors.New("empty command")
	}
	return words, nil
}
