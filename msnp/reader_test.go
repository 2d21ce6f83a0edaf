package msnp

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

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
			r := NewReader(iotest.OneByteReader(strings.NewReader(tt.input)), tt.maxLine)
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

func TestReaderStartsSmall(t *testing.T) {
	r := NewReader(strings.NewReader(""), 0)
	if got := len(r.buf); got > initialBuffer {
		t.Errorf("got a first buffer of %d bytes, want at most %d", got, initialBuffer)
	}
	if got := r.MaxLineLength(); got != DefaultMaxLineLength {
		t.Errorf("got MaxLineLength %d, want %d", got, DefaultMaxLineLength)
	}
}
