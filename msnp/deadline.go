package msnp

import (
	"context"
	"fmt"
	"time"
)

// Deadliner is a connection whose I/O a deadline bounds: a net.Conn.
type Deadliner interface {
	SetDeadline(t time.Time) error
}

// longAgo is a deadline in the past: it makes blocked I/O return at once.
var longAgo = time.Unix(1, 0)

// BindDeadline ties conn's I/O to ctx until stop is called: it sets the
// deadline with [SetDeadline], and when ctx ends it moves the deadline
// into the past, so that I/O blocked on conn returns at once. When ctx
// has already ended it returns ctx's error and leaves nothing to stop.
func BindDeadline(ctx context.Context, conn Deadliner, limit time.Time) (stop func() bool, err error) {
	if err := SetDeadline(ctx, conn, limit); err != nil {
		return nil, err
	}
	if ctx.Done() == nil { // never ends
		return func() bool { return true }, nil
	}
	return context.AfterFunc(ctx, func() { conn.SetDeadline(longAgo) }), nil
}

// SetDeadline sets conn's deadline to limit or ctx's deadline, whichever
// comes first (a zero limit is none). When ctx has ended, before or while
// it is set, the deadline is put in the past and ctx's error returned: a
// deadline set then must not undo the interruption of a [BindDeadline].
func SetDeadline(ctx context.Context, conn Deadliner, limit time.Time) error {
	if err := ctx.Err(); err != nil {
		conn.SetDeadline(longAgo)
		return err
	}
	if d, ok := ctx.Deadline(); ok && (limit.IsZero() || d.Before(limit)) {
		limit = d
	}
	if err := conn.SetDeadline(limit); err != nil {
		return fmt.Errorf("set deadline: %w", err)
	}
	if err := ctx.Err(); err != nil {
		conn.SetDeadline(longAgo)
		return err
	}
	return nil
}
