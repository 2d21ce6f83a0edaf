package msnp

import (
	"errors"
	"strings"
	"testing"
)

func TestParseRequest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		line string
		want Request
	}{
		{
			name: "msnp8 full",
			line: "CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS example@hotmail.com",
			want: Request{Command: "CVR", TrID: 2, Locale: "0x0409", SystemType: "winnt", SystemVer: "5.1",
				SystemArch: "i386", Library: "MSNMSGR", ClientVersion: "6.0.0602", ClientID: "MSMSGS",
				UserHandle: "example@hotmail.com", Params: 8},
		},
		{
			name: "no user-handle",
			line: "CVR 3 0x0409 winnt 5.0 i386 MSNMSGR 99.9.9999 MSMSGS",
			want: Request{Command: "CVR", TrID: 3, Locale: "0x0409", SystemType: "winnt", SystemVer: "5.0",
				SystemArch: "i386", Library: "MSNMSGR", ClientVersion: "99.9.9999", ClientID: "MSMSGS", Params: 7},
		},
		{
			name: "trailing space is an empty user-handle",
			line: "CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 8.5.1302 BC01 ",
			want: Request{Command: "CVR", TrID: 2, Locale: "0x0409", SystemType: "winnt", SystemVer: "5.1",
				SystemArch: "i386", Library: "MSNMSGR", ClientVersion: "8.5.1302", ClientID: "BC01", Params: 8},
		},
		{
			name: "cvq with six parameters",
			line: "CVQ 6 0x0409 winnt 5.1 i386 MSMSGS 1.0.0863",
			want: Request{Command: "CVQ", TrID: 6, Locale: "0x0409", SystemType: "winnt", SystemVer: "5.1",
				SystemArch: "i386", Library: "MSMSGS", ClientVersion: "1.0.0863", Params: 6},
		},
		{
			name: "largest TrID",
			line: "CVR 4294967295 0x0409 win 4.10 i386 MSMSGS 1.0.0863",
			want: Request{Command: "CVR", TrID: 4294967295, Locale: "0x0409", SystemType: "win", SystemVer: "4.10",
				SystemArch: "i386", Library: "MSMSGS", ClientVersion: "1.0.0863", Params: 6},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseRequest([]byte(tt.line))
			if err != nil {
				t.Fatalf("ParseRequest(%q): %v", tt.line, err)
			}
			if got != tt.want {
				t.Errorf("ParseRequest(%q)\n got %+v\nwant %+v", tt.line, got, tt.want)
			}
			if s := got.String(); s != tt.line {
				t.Errorf("String() = %q, want %q", s, tt.line)
			}
		})
	}
}

func TestParseRequestErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		line, want string
	}{
		{"CVR 6 spaghetti", "too few parameters"},
		{"CVR", "not a CVR or CVQ request"},
		{"USR 1 TWN I example@hotmail.com", "not a CVR or CVQ request"},
		{"cvr 2 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS", "not a CVR or CVQ request"},
		{"CVR 4294967296 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS", "TrID"},
		{"CVR -1 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS", "TrID"},
		{"CVR abc 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS", "TrID"},
		{"CVR  2 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS", "TrID"},
		{"CVR 2 0x0409  winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS", "empty parameter"},
		{"CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS a@b.c extra", "too many parameters"},
		{"CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS\ta@b.c", "control byte"},
		{"CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS a@b.c\r", "control byte"},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			_, err := ParseRequest([]byte(tt.line))
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("ParseRequest(%q) error = %v, want a *SyntaxError", tt.line, err)
			}
			if !strings.Contains(se.Msg, tt.want) {
				t.Errorf("error %q does not say %q", se.Msg, tt.want)
			}
			if want := se.Msg + ": "; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("error %q, want it to start %q and quote the line", err, want)
			}
		})
	}
}

func TestSyntaxErrorQuotesAtMost256Bytes(t *testing.T) {
	t.Parallel()
	line := "CVR 1 " + strings.Repeat("x", 1000)
	_, err := ParseRequest([]byte(line))
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("error = %v, want *SyntaxError", err)
	}
	if len(se.Line) != 256 {
		t.Errorf("quoted %d bytes, want 256", len(se.Line))
	}
}

func TestRequestShape(t *testing.T) {
	t.Parallel()
	full := Request{Command: "CVR", TrID: 2, Locale: "0x0409", SystemType: "winnt", SystemVer: "5.1",
		SystemArch: "i386", Library: "MSNMSGR", ClientVersion: "6.0.0602", ClientID: "MSMSGS",
		UserHandle: "a@b.c", Params: 8}
	six := Request{Command: "CVR", TrID: 2, Locale: "0x0409", SystemType: "win", SystemVer: "4.10",
		SystemArch: "i386", Library: "MSMSGS", ClientVersion: "1.0.0863", Params: 6}
	tests := []struct {
		name    string
		in      Request
		dialect Dialect
		handle  string
		want    string
	}{
		{"msnp8 keeps all", full, "MSNP8", "", "CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS a@b.c"},
		{"msnp7 drops the handle", full, "MSNP7", "", "CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS"},
		{"msnp3 drops the id", full, "MSNP3", "", "CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602"},
		{"cvr0 becomes cvq", full, CVR0, "", "CVQ 2 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602"},
		{"msnp15 adds id and handle", six, "MSNP15", "x@y.z", "CVR 2 0x0409 win 4.10 i386 MSMSGS 1.0.0863 MSMSGS x@y.z"},
		{"msnp15 without handle", six, "MSNP15", "", "CVR 2 0x0409 win 4.10 i386 MSMSGS 1.0.0863 MSMSGS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := Lookup(tt.dialect)
			if err != nil {
				t.Fatal(err)
			}
			got := tt.in.Shape(v, tt.handle)
			if got.String() != tt.want {
				t.Errorf("Shape(%s) = %q, want %q", tt.dialect, got.String(), tt.want)
			}
			if code, why := CheckRequest(got, v); code != 0 {
				t.Errorf("shaped request refused: %d %s", code, why)
			}
		})
	}
}

func TestPeekTrIDAndVerb(t *testing.T) {
	t.Parallel()
	tests := []struct {
		line string
		trid uint32
		ok   bool
		verb string
	}{
		{"CVR 6 spaghetti", 6, true, "CVR"},
		{"VER 1 MSNP8 CVR0", 1, true, "VER"},
		{"VER MSNP8 CVR0", 0, false, "VER"},
		{"CVR 4294967296 x", 0, false, "CVR"},
		{"FLN Hotmail", 0, false, "FLN"},
		{"OUT", 0, false, "OUT"},
		{"xyz 1", 1, true, ""},
		{"CVRX 1", 1, true, ""},
		{"", 0, false, ""},
	}
	for _, tt := range tests {
		trid, ok := PeekTrID([]byte(tt.line))
		if trid != tt.trid || ok != tt.ok {
			t.Errorf("PeekTrID(%q) = %d, %v, want %d, %v", tt.line, trid, ok, tt.trid, tt.ok)
		}
		if got := Verb([]byte(tt.line)); got != tt.verb {
			t.Errorf("Verb(%q) = %q, want %q", tt.line, got, tt.verb)
		}
	}
}
