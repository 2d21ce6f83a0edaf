package msnp

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

type readResult struct {
	line string
	err  error
}

// readAll reads until an error other than ErrBareLF, at most limit lines.
func readAll(r *Reader, limit int) []readResult {
	var out []readResult
	for i := 0; i < limit; i++ {
		line, err := r.ReadLine()
		out = append(out, readResult{string(line), err})
		if err != nil && !errors.Is(err, ErrBareLF) {
			return out
		}
	}
	return out
}

func TestReader(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		input string
		max   int
		want  []readResult
	}{
		{"two lines", "VER 1 MSNP8\r\nCVR 2 x\r\n", 0,
			[]readResult{{"VER 1 MSNP8", nil}, {"CVR 2 x", nil}, {"", io.EOF}}},
		{"empty line", "\r\n", 0, []readResult{{"", nil}, {"", io.EOF}}},
		{"bare LF", "VER 1 MSNP8\nCVR 2\r\n", 0,
			[]readResult{{"VER 1 MSNP8", ErrBareLF}, {"CVR 2", nil}, {"", io.EOF}}},
		{"bare CR is part of the line", "A\rB\r\n", 0, []readResult{{"A\rB", nil}, {"", io.EOF}}},
		{"no terminator at the end", "VER 1 MSNP8", 0, []readResult{{"", io.ErrUnexpectedEOF}}},
		{"exactly the maximum", "12345678\r\n", 8, []readResult{{"12345678", nil}, {"", io.EOF}}},
		{"one byte over", "123456789\r\n", 8, []readResult{{"", ErrLineTooLong}}},
		{"over the maximum without LF", strings.Repeat("x", 100), 8, []readResult{{"", ErrLineTooLong}}},
		{"bare LF one over", "123456789\n", 8, []readResult{{"", ErrLineTooLong}}},
		{"lines before a long one", "ab\r\n" + strings.Repeat("x", 20) + "\r\n", 8,
			[]readResult{{"ab", nil}, {"", ErrLineTooLong}}},
		{"many short lines through a small buffer", strings.Repeat("abcde\r\n", 5), 6,
			[]readResult{{"abcde", nil}, {"abcde", nil}, {"abcde", nil}, {"abcde", nil}, {"abcde", nil}, {"", io.EOF}}},
	}
	for _, tt := range tests {
		for _, mode := range []string{"whole", "one byte at a time", "half"} {
			t.Run(tt.name+"/"+mode, func(t *testing.T) {
				var src io.Reader = strings.NewReader(tt.input)
				switch mode {
				case "one byte at a time":
					src = iotest.OneByteReader(src)
				case "half":
					src = iotest.HalfReader(src)
				}
				got := readAll(NewReader(src, tt.max), 100)
				if len(got) != len(tt.want) {
					t.Fatalf("got %v, want %v", got, tt.want)
				}
				for i := range got {
					if got[i].line != tt.want[i].line || !errors.Is(got[i].err, tt.want[i].err) {
						t.Errorf("line %d: got %q, %v, want %q, %v", i, got[i].line, got[i].err, tt.want[i].line, tt.want[i].err)
					}
				}
			})
		}
	}
}

func TestReaderErrorsAreSticky(t *testing.T) {
	t.Parallel()
	r := NewReader(strings.NewReader(strings.Repeat("x", 50)+"\r\nok\r\n"), 8)
	for i := 0; i < 3; i++ {
		if _, err := r.ReadLine(); !errors.Is(err, ErrLineTooLong) {
			t.Fatalf("call %d: error = %v, want ErrLineTooLong", i, err)
		}
	}
	r = NewReader(iotest.ErrReader(io.ErrClosedPipe), 0)
	for i := 0; i < 2; i++ {
		if _, err := r.ReadLine(); !errors.Is(err, io.ErrClosedPipe) {
			t.Fatalf("call %d: error = %v, want the read error", i, err)
		}
	}
}

// TestReaderDeadlineIsNotSticky waits for a reply in steps, as a caller
// with read deadlines does: a passed deadline is returned once, the
// partial line read before it is kept, and the next call reads on.
func TestReaderDeadlineIsNotSticky(t *testing.T) {
	t.Parallel()
	client, server := net.Pipe()
	defer client.Close()
	defer server.Close()
	r := NewReader(client, 0)
	written := make(chan error, 1)
	go func() {
		_, err := server.Write([]byte("CVR 2 7.0"))
		written <- err
	}()
	// The pipe's write waits for a read: on a busy machine a deadline may
	// pass before the writer runs, so the first calls read until the
	// partial line has been taken, each ending on a deadline.
	for i := 0; ; i++ {
		client.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		if _, err := r.ReadLine(); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("call %d before the line ends: error %v, want the deadline", i+1, err)
		}
		var err error
		select {
		case err = <-written:
		default:
			if i == 200 {
				t.Fatal("the partial line was not read in 200 tries")
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		break
	}
	go func() {
		_, err := server.Write([]byte(".0813\r\n"))
		written <- err
	}()
	client.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := r.ReadLine()
	if err != nil || string(line) != "CVR 2 7.0.0813" {
		t.Errorf("after the deadline: %q, %v; want the whole line", line, err)
	}
	server.Close() // a write nobody reads must not block the test
	<-written
}

// TestReaderBoundsItsBuffer feeds an endless line and checks the reader
// stops after reading at most its buffer's worth.
func TestReaderBoundsItsBuffer(t *testing.T) {
	t.Parallel()
	src := &countingReader{}
	r := NewReader(src, 64)
	if _, err := r.ReadLine(); !errors.Is(err, ErrLineTooLong) {
		t.Fatalf("error = %v, want ErrLineTooLong", err)
	}
	if src.n > 66 {
		t.Errorf("read %d bytes of an endless line, want at most 66", src.n)
	}
	if r.MaxLineLength() != 64 {
		t.Errorf("MaxLineLength() = %d, want 64", r.MaxLineLength())
	}
}

type countingReader struct{ n int }

func (c *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	c.n += len(p)
	return len(p), nil
}

// FuzzReader compares the Reader with a trivially correct splitter.
func FuzzReader(f *testing.F) {
	f.Add([]byte("VER 1 MSNP8 CVR0\r\nCVR 2 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS a@b.c\r\n"), uint8(16))
	f.Add([]byte("a\nb\r\n\r\n\rc"), uint8(1))
	f.Add([]byte("0123456789\r\n"), uint8(10))
	f.Fuzz(func(t *testing.T, input []byte, max uint8) {
		maxLine := int(max%32) + 1
		var want []readResult
		rest := input
		for {
			i := bytes.IndexByte(rest, '\n')
			if i < 0 {
				switch {
				case len(rest) > maxLine+1:
					want = append(want, readResult{"", ErrLineTooLong})
				case len(rest) == 0:
					want = append(want, readResult{"", io.EOF})
				default:
					want = append(want, readResult{"", io.ErrUnexpectedEOF})
				}
				break
			}
			line, err := rest[:i], error(nil)
			if len(line) > 0 && line[len(line)-1] == '\r' {
				line = line[:len(line)-1]
			} else {
				err = ErrBareLF
			}
			if len(line) > maxLine {
				want = append(want, readResult{"", ErrLineTooLong})
				break
			}
			want = append(want, readResult{string(line), err})
			rest = rest[i+1:]
		}
		for _, initial := range []int{0, 1, maxLine / 2} { // a full buffer, and ones that must grow
			got := readAll(NewReaderSize(iotest.HalfReader(bytes.NewReader(input)), maxLine, initial), len(input)+2)
			if len(got) != len(want) {
				t.Fatalf("max %d, initial %d: got %v, want %v", maxLine, initial, got, want)
			}
			for i := range got {
				if got[i].line != want[i].line || !errors.Is(got[i].err, want[i].err) {
					t.Fatalf("max %d, initial %d, line %d: got %q, %v, want %q, %v",
						maxLine, initial, i, got[i].line, got[i].err, want[i].line, want[i].err)
				}
			}
		}
	})
}
func TestReaderGrowsToTheLimit(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		maxLine int
		want    []string
		wantErr error
	}{
		{name: "short lines", input: "VER 1 MSNP8\r\nCVR 2 a b c\r\n", maxLine: 4096,
			want: []string{"VER 1 MSNP8", "CVR 2 a b c"}, wantErr: io.EOF},
		{name: "a line longer than the first buffer", input: strings.Repeat("x", 3000) + "\r\nnext\r\n", maxLine: 4096,
			want: []string{strings.Repeat("x", 3000), "next"}, wantErr: io.EOF},
		{name: "exactly the limit", input: strings.Repeat("y", 1000) + "\r\n", maxLine: 1000,
			want: []string{strings.Repeat("y", 1000)}, wantErr: io.EOF},
		{name: "one byte over the limit", input: strings.Repeat("z", 1001) + "\r\n", maxLine: 1000,
			wantErr: ErrLineTooLong},
		{name: "an endless line", input: strings.Repeat("z", 100000), maxLine: 4096,
			wantErr: ErrLineTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// one byte per Read, so that every growth and compaction path runs
			r := NewReaderSize(iotest.OneByteReader(strings.NewReader(tt.input)), tt.maxLine, 64)
			var got []string
			var err error
			for {
				var line []byte
				line, err = r.ReadLine()
				if err != nil {
					break
				}
				got = append(got, string(line))
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("got error %v, want %v", err, tt.wantErr)
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("got %d lines %.40q, want %d lines %.40q", len(got), got, len(tt.want), tt.want)
			}
			if len(r.buf) > tt.maxLine+2 {
				t.Errorf("buffer grew to %d, over the limit %d", len(r.buf), tt.maxLine+2)
			}
		})
	}
}

func TestReaderSizeStartsSmall(t *testing.T) {
	r := NewReaderSize(strings.NewReader(""), 0, 512)
	if got := len(r.buf); got != 512 {
		t.Errorf("got a first buffer of %d bytes, want 512", got)
	}
	if got := r.MaxLineLength(); got != DefaultMaxLineLength {
		t.Errorf("got MaxLineLength %d, want %d", got, DefaultMaxLineLength)
	}
}
