package msnp

import (
	"bytes"
	"testing"
)

var benchLine = []byte("CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS example@hotmail.com")

func BenchmarkParseRequest(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchLine)))
	for b.Loop() {
		if _, err := ParseRequest(benchLine); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRequestAppend(b *testing.B) {
	req, err := ParseRequest(benchLine)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = req.Append(buf[:0])
	}
}

func BenchmarkCheckRequest(b *testing.B) {
	req, err := ParseRequest(benchLine)
	if err != nil {
		b.Fatal(err)
	}
	v, _ := Lookup("MSNP8")
	b.ReportAllocs()
	for b.Loop() {
		if code, _ := CheckRequest(req, v); code != 0 {
			b.Fatal(code)
		}
	}
}

func BenchmarkParseReply(b *testing.B) {
	line := []byte("CVR 2 7.0.0813 7.0.0813 6.2.0205 http://example.com/setup.exe http://messenger.msn.com")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseReply(line); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReader(b *testing.B) {
	const lines = 1000
	input := bytes.Repeat(append(append([]byte{}, benchLine...), '\r', '\n'), lines)
	rd := bytes.NewReader(input)
	r := NewReader(rd, 0)
	b.ReportAllocs()
	b.SetBytes(int64(len(input)))
	for b.Loop() {
		rd.Reset(input)
		*r = Reader{rd: rd, buf: r.buf}
		for range lines {
			if _, err := r.ReadLine(); err != nil {
				b.Fatal(err)
			}
		}
	}
}
