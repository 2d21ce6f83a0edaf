package msnp

import (
	"errors"
	"io"
	"os"
)

// DefaultMaxLineLength is the longest line, terminator excluded, a
// [Reader] accepts when not told otherwise. No MSNP document states a
// limit; a legitimate CVR line is under 200 bytes.
const DefaultMaxLineLength = 4096

// Reader splits a byte stream into CRLF-terminated lines. It never
// buffers more than the maximum line length plus the terminator, so a
// peer that streams a line with no end costs a fixed amount of memory.
//
// The official client and server always send CRLF; a line ending in a
// bare LF is returned together with [ErrBareLF], so that callers choose
// whether to accept it. A bare CR is an ordinary byte of the line.
type Reader struct {
	rd    io.Reader
	buf   []byte
	limit int // the largest the buffer may grow: the maximum line plus CRLF
	start int // first unread byte in buf
	end   int // one past the last filled byte
	err   error
}

// NewReader returns a Reader of lines of at most maxLine bytes (the
// terminator excluded); maxLine <= 0 means [DefaultMaxLineLength]. Its
// buffer holds a whole line from the start, so a burst of pipelined lines
// is taken in as few reads as possible.
func NewReader(rd io.Reader, maxLine int) *Reader {
	return NewReaderSize(rd, maxLine, 0)
}

// NewReaderSize is [NewReader] with a buffer that starts at initial bytes
// and grows only when a line needs it, up to the maximum line length:
// thousands of mostly idle connections then cost little. initial <= 0
// means the whole maximum.
func NewReaderSize(rd io.Reader, maxLine, initial int) *Reader {
	if maxLine <= 0 {
		maxLine = DefaultMaxLineLength
	}
	size := maxLine + 2
	if initial > 0 {
		size = min(size, max(initial, 16))
	}
	return &Reader{rd: rd, buf: make([]byte, size), limit: maxLine + 2}
}

// MaxLineLength returns the longest line the reader accepts.
func (r *Reader) MaxLineLength() int { return r.limit - 2 }

// Buffered returns how many bytes have been read from the stream but not
// yet returned as lines.
func (r *Reader) Buffered() int { return r.end - r.start }

// ReadLine returns the next line without its terminator. The slice is
// valid until the next call. At the end of the stream it returns io.EOF,
// or io.ErrUnexpectedEOF when a partial line was pending. A line longer
// than the maximum returns [ErrLineTooLong], and so does every later call.
// Other read errors are returned once the buffered lines are used up, and
// by every later call, except a passed deadline ([os.ErrDeadlineExceeded]),
// which is returned once: the next call reads again.
// A line ended by a bare LF is returned with [ErrBareLF].
func (r *Reader) ReadLine() ([]byte, error) {
	if r.err == ErrLineTooLong {
		return nil, r.err
	}
	scanned := r.start // bytes before this were searched for LF already
	for {
		if i := indexByte(r.buf[scanned:r.end], '\n'); i >= 0 {
			lf := scanned + i
			line := r.buf[r.start:lf]
			r.start = lf + 1
			if len(line) > 0 && line[len(line)-1] == '\r' {
				return line[:len(line)-1], nil
			}
			if len(line) > r.MaxLineLength() {
				r.err = ErrLineTooLong
				return nil, r.err
			}
			return line, ErrBareLF
		}
		scanned = r.end
		if r.err != nil {
			return r.fail()
		}
		if r.end-r.start == len(r.buf) && len(r.buf) < r.limit { // full of one line: grow
			buf := make([]byte, min(2*len(r.buf), r.limit))
			n := copy(buf, r.buf[r.start:r.end])
			scanned -= r.start
			r.buf, r.start, r.end = buf, 0, n
		}
		if r.end-r.start == len(r.buf) {
			r.err = ErrLineTooLong
			return nil, r.err
		}
		if r.end == len(r.buf) { // room only at the front: move the pending bytes there
			n := copy(r.buf, r.buf[r.start:r.end])
			scanned -= r.start
			r.start, r.end = 0, n
		}
		n, err := r.rd.Read(r.buf[r.end:])
		r.end += n
		switch {
		case err == nil:
		case errors.Is(err, os.ErrDeadlineExceeded):
			// A deadline passes, the stream goes on: the next call
			// reads again (a caller may wait for a reply in steps).
			if n == 0 {
				return nil, err
			}
		default:
			r.err = err
		}
	}
}

// fail reports the sticky error once the buffered lines are used up.
func (r *Reader) fail() ([]byte, error) {
	if r.err == ErrLineTooLong {
		return nil, r.err
	}
	if r.err == io.EOF && r.end > r.start {
		r.start = r.end
		r.err = io.ErrUnexpectedEOF
		return nil, io.ErrUnexpectedEOF
	}
	return nil, r.err
}
