package msnp

import (
	"errors"
	"io"
	"strconv"
	"syscall"
)

// End says how I/O on a connection ended, as read from the error a read,
// a write or a dial returned. [EndOf] is the one place an I/O error is
// told apart; each package names the ends in its own words.
type End uint8

// The ends of a connection's I/O.
const (
	EndNone       End = iota // no error: the connection is still open
	EndClosed                // the peer closed it: EOF, or EOF inside a line
	EndReset                 // the peer reset it (ECONNRESET, ECONNABORTED)
	EndBrokenPipe            // a write found the connection shut by the peer (EPIPE)
	EndRefused               // nothing accepts at the address (ECONNREFUSED)
	EndTimeout               // a deadline passed: the connection's or a context's
	EndTooLong               // a line longer than the [Reader]'s bound ([ErrLineTooLong])
	EndOther                 // any other error
)

var endNames = [...]string{"none", "closed", "reset", "broken-pipe", "refused", "timeout", "too-long", "other"}

// String returns the end's name: "closed", "reset", "timeout" ...
func (e End) String() string {
	if int(e) < len(endNames) {
		return endNames[e]
	}
	return "End(" + strconv.Itoa(int(e)) + ")"
}

// EndOf returns how the I/O that returned err ended, looking through
// wrapped errors. It does not allocate, so that a load's hot path may
// call it.
func EndOf(err error) End {
	switch {
	case err == nil:
		return EndNone
	case isTimeout(err): // first: the common end under load, and the cheapest to tell
		return EndTimeout
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return EndClosed
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNABORTED):
		return EndReset
	case errors.Is(err, syscall.EPIPE):
		return EndBrokenPipe
	case errors.Is(err, syscall.ECONNREFUSED):
		return EndRefused
	case errors.Is(err, ErrLineTooLong):
		return EndTooLong
	}
	return EndOther
}

// isTimeout reports whether err, or an error it wraps, says it is a
// timeout (os.ErrDeadlineExceeded, context.DeadlineExceeded, a net.Error's
// Timeout), without errors.As and the allocation its target takes.
func isTimeout(err error) bool {
	for err != nil {
		if t, ok := err.(interface{ Timeout() bool }); ok && t.Timeout() {
			return true
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if isTimeout(e) {
					return true
				}
			}
			return false
		default:
			return false
		}
	}
	return false
}
