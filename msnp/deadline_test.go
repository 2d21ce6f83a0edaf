package msnp

import (
	"context"
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

// deadlines records the deadlines set on it.
type deadlines struct{ set []time.Time }

func (d *deadlines) SetDeadline(t time.Time) error {
	d.set = append(d.set, t)
	return nil
}

func TestSetDeadline(t *testing.T) {
	t.Parallel()
	t0 := time.Now().Add(time.Hour) // ahead: a context past its deadline has ended
	t1 := t0.Add(time.Second)
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name   string
		ctx    context.Context
		limit  time.Time
		want   time.Time
		failed bool
	}{
		{name: "no deadline at all", ctx: context.Background(), limit: time.Time{}, want: time.Time{}},
		{name: "the limit", ctx: context.Background(), limit: t1, want: t1},
		{name: "the context's, earlier", ctx: withDeadline(t, t0), limit: t1, want: t0},
		{name: "the limit, earlier", ctx: withDeadline(t, t1), limit: t0, want: t0},
		{name: "the context's, no limit", ctx: withDeadline(t, t1), limit: time.Time{}, want: t1},
		{name: "ended context: in the past", ctx: ended, limit: t1, want: longAgo, failed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d deadlines
			err := SetDeadline(tt.ctx, &d, tt.limit)
			if (err != nil) != tt.failed || (tt.failed && !errors.Is(err, context.Canceled)) {
				t.Errorf("error = %v, want failed %v", err, tt.failed)
			}
			if len(d.set) == 0 || !d.set[len(d.set)-1].Equal(tt.want) {
				t.Errorf("deadlines set %v, want the last %v", d.set, tt.want)
			}
		})
	}
}

func withDeadline(t *testing.T, d time.Time) context.Context {
	ctx, cancel := context.WithDeadline(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestBindDeadlineInterrupts(t *testing.T) {
	t.Parallel()
	client, server := net.Pipe()
	defer client.Close()
	defer server.Close()
	ctx, cancel := context.WithCancel(context.Background())
	stop, err := BindDeadline(ctx, client, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	read := make(chan error, 1)
	go func() {
		_, err := client.Read(make([]byte, 1))
		read <- err
	}()
	cancel() // nothing was written: only the binding ends the read
	if err := <-read; !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("read error = %v, want a passed deadline", err)
	}
	if _, err := BindDeadline(ctx, client, time.Time{}); !errors.Is(err, context.Canceled) {
		t.Errorf("binding an ended context: error = %v, want context.Canceled", err)
	}
}

func TestBindDeadlineStops(t *testing.T) {
	t.Parallel()
	var d deadlines
	ctx, cancel := context.WithCancel(context.Background())
	stop, err := BindDeadline(ctx, &d, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if !stop() {
		t.Error("stop() = false, want true: the binding was live")
	}
	cancel()
	if len(d.set) != 1 {
		t.Errorf("deadlines set %v, want only the first: a stopped binding leaves conn alone", d.set)
	}
}
