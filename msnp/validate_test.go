package msnp

import (
	"reflect"
	"strings"
	"testing"
)

func TestCheckRequest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		dialect Dialect
		line    string
		code    int
		reason  string
	}{
		{"seed pre-login", "MSNP8", "CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS example@hotmail.com", 0, ""},
		{"seed post-login MSNP2", "MSNP2", "CVR 1 0x0409 win 4.10 i386 MSMSGS 1.0.0863 MSMSGS", 0, ""},
		{"seed unknown version", "MSNP8", "CVR 3 0x0409 winnt 5.0 i386 MSNMSGR 99.9.9999 MSMSGS", 420, "never released"},
		{"seed foreign library", "MSNP8", "CVR 4 0x0409 winnt 5.0 i386 YCOMM 0.1.0023 MSMSGS", 420, "requesting-library"},
		{"seed invalid locale (locale is judged first)", "MSNP8", "CVR 5 0x1111 winnt 5.1 MSNMSGR 6.0.0602 MSMSGS example@hotmail.com", 710, "locale"},
		{"too few parameters to parse: 731 before the locale", "MSNP8", "CVR 5 0x1111 winnt 5.1 i386 MSNMSGR", 731, ""},
		{"locale without 0x", "MSNP8", "CVR 2 0409 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS a@b.c", 710, "locale"},
		{"six parameters on MSNP8", "MSNP8", "CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602", 731, "parameters"},
		{"eight parameters on MSNP7", "MSNP7", "CVR 2 0x0409 winnt 5.1 i386 MSMSGS 4.5.0121 MSMSGS a@b.c", 731, "parameters"},
		{"CVQ on MSNP8", "MSNP8", "CVQ 2 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS a@b.c", 731, "CVQ"},
		{"CVQ on CVR0", CVR0, "CVQ 2 0x0409 winnt 5.1 i386 MSMSGS 1.0.0863", 0, ""},
		{"CVR on CVR0", CVR0, "CVR 2 0x0409 winnt 5.1 i386 MSMSGS 1.0.0863", 731, "CVR"},
		{"unknown client-identification", "MSNP8", "CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 YCOMM a@b.c", 420, "client-identification"},
		{"library in lower case", "MSNP8", "CVR 2 0x0409 winnt 5.1 i386 msnmsgr 6.0.0602 msmsgs a@b.c", 0, ""},
		{"four-part version", "MSNP18", "CVR 2 0x0409 winnt 6.0.0 i386 MSNMSGR 14.0.8117.0416 msmsgs a@b.c", 0, ""},
		{"two-part version", "MSNP15", "CVR 2 0x0407 win 6.0 i386 MSNMSGR 8.5 MSMSGS a@b.c", 0, ""},
		{"five-part version", "MSNP15", "CVR 2 0x0407 win 6.0 i386 MSNMSGR 8.5.1.2.3 MSMSGS a@b.c", 420, "more than 4 parts"},
		{"MSMSGS version out of range", "MSNP8", "CVR 2 0x0409 winnt 5.1 i386 MSMSGS 7.0.0777 MSMSGS a@b.c", 420, "never released"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := Lookup(tt.dialect)
			if err != nil {
				t.Fatal(err)
			}
			req, err := ParseRequest([]byte(tt.line))
			if err != nil {
				if tt.code == CodeMalformedCVR {
					return // does not parse at all: the server answers 731
				}
				t.Fatalf("ParseRequest: %v", err)
			}
			code, reason := CheckRequest(req, v)
			if code != tt.code || !strings.Contains(reason, tt.reason) {
				t.Errorf("CheckRequest = %d %q, want %d and a reason with %q", code, reason, tt.code, tt.reason)
			}
		})
	}
}

func TestParseLocale(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in    string
		lcid  uint16
		err   bool
		valid bool
	}{
		{"0x0409", 0x0409, false, true},
		{"0x0C0A", 0x0c0a, false, true},
		{"0x0c0a", 0x0c0a, false, true},
		{"0x1111", 0x1111, false, false},
		{"0X0409", 0, true, false},
		{"0x409", 0, true, false},
		{"0x04090", 0, true, false},
		{"0x04g9", 0, true, false},
		{"", 0, true, false},
	}
	for _, tt := range tests {
		got, err := ParseLocale(tt.in)
		if (err != nil) != tt.err || got != tt.lcid {
			t.Errorf("ParseLocale(%q) = %#x, %v, want %#x, error %v", tt.in, got, err, tt.lcid, tt.err)
		}
		if ValidLocale(tt.in) != tt.valid {
			t.Errorf("ValidLocale(%q) = %v, want %v", tt.in, !tt.valid, tt.valid)
		}
	}
	if LocaleName(0x0409) != "en-US" || LocaleName(0x1111) != "" {
		t.Errorf("LocaleName: 0x0409 = %q, 0x1111 = %q", LocaleName(0x0409), LocaleName(0x1111))
	}
}

func TestParseClientVersion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in        string
		parts     [4]int
		n         int
		canonical bool
		err       bool
	}{
		{"6.0.0602", [4]int{6, 0, 602}, 3, true, false},
		{"14.0.8117", [4]int{14, 0, 8117}, 3, true, false},
		{"14.0.8117.0416", [4]int{14, 0, 8117, 416}, 4, false, false},
		{"8.5", [4]int{8, 5}, 2, false, false},
		{"3.5.1", [4]int{3, 5, 1}, 3, false, false},
		{"100.0.0602", [4]int{100, 0, 602}, 3, false, false},
		{"8", [4]int{}, 0, false, true},
		{"8..1", [4]int{}, 0, false, true},
		{"8.a.1", [4]int{}, 0, false, true},
		{"1.2.3.4.5", [4]int{}, 0, false, true},
		{"1.123456", [4]int{}, 0, false, true},
		{"-1.0", [4]int{}, 0, false, true},
	}
	for _, tt := range tests {
		got, err := ParseClientVersion(tt.in)
		if (err != nil) != tt.err {
			t.Errorf("ParseClientVersion(%q) error = %v, want error %v", tt.in, err, tt.err)
			continue
		}
		if err == nil && (got.Parts != tt.parts || got.N != tt.n || got.Canonical != tt.canonical) {
			t.Errorf("ParseClientVersion(%q) = %+v, want parts %v n %d canonical %v", tt.in, got, tt.parts, tt.n, tt.canonical)
		}
	}
	a, _ := ParseClientVersion("6.2.0205")
	b, _ := ParseClientVersion("7.0.0813")
	c, _ := ParseClientVersion("7.0.0813.0")
	if a.Compare(b) != -1 || b.Compare(a) != 1 || b.Compare(c) != 0 {
		t.Errorf("Compare: got %d %d %d, want -1 1 0", a.Compare(b), b.Compare(a), b.Compare(c))
	}
}

func TestLookup(t *testing.T) {
	t.Parallel()
	tests := []struct {
		d               Dialect
		err             string
		min, max, canon int
		ds, ns          bool
		cmd             string
	}{
		{d: "MSNP2", min: 6, max: 7, canon: 6, ns: true, cmd: "CVR"},
		{d: "MSNP4", min: 6, max: 7, canon: 7, ns: true, cmd: "CVR"},
		{d: "MSNP7", min: 6, max: 7, canon: 7, ns: true, cmd: "CVR"},
		{d: "MSNP8", min: 7, max: 8, canon: 8, ds: true, ns: true, cmd: "CVR"},
		{d: "MSNP23", min: 7, max: 8, canon: 8, ds: true, ns: true, cmd: "CVR"},
		{d: CVR0, min: 6, max: 8, canon: 6, ds: true, cmd: "CVQ"},
		{d: "MSNP24", err: "removed in MSNP24"},
		{d: "MSNP1", err: "does not exist"},
		{d: "MSNP08", err: "not a dialect"},
		{d: "msnp8", err: "not a dialect"},
		{d: "MSNP", err: "not a dialect"},
	}
	for _, tt := range tests {
		v, err := Lookup(tt.d)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("Lookup(%q) error = %v, want %q", tt.d, err, tt.err)
			}
			if tt.d.Known() {
				t.Errorf("%q.Known() = true", tt.d)
			}
			continue
		}
		if err != nil {
			t.Errorf("Lookup(%q): %v", tt.d, err)
			continue
		}
		if v.MinParams != tt.min || v.MaxParams != tt.max || v.Params != tt.canon || v.Command != tt.cmd ||
			v.AcceptsCVR(DS) != tt.ds || v.AcceptsCVR(NS) != tt.ns {
			t.Errorf("Lookup(%q) = %+v", tt.d, v)
		}
	}
}

func TestNegotiate(t *testing.T) {
	t.Parallel()
	all := Dialects()
	tests := []struct {
		name           string
		client, server []Dialect
		want           Dialect
	}{
		{"highest common", []Dialect{"MSNP12", "MSNP11", "MSNP10", CVR0}, all, "MSNP12"},
		{"server older", []Dialect{"MSNP18", "MSNP15", "MSNP8", CVR0}, []Dialect{"MSNP9", "MSNP8", CVR0}, "MSNP8"},
		{"order does not matter", []Dialect{"MSNP8", "MSNP9", CVR0}, all, "MSNP9"},
		{"cvr0 fallback", []Dialect{"MSNP10", "MSNP9", CVR0}, []Dialect{"MSNP2", CVR0}, CVR0},
		{"nothing in common", []Dialect{"DISREGARDANCE", "FOR", "A", "REAL", "PROTOCOL"}, all, ""},
		{"no cvr0 on the server", []Dialect{"MSNP10", CVR0}, []Dialect{"MSNP2"}, ""},
		{"removed versions are not chosen", []Dialect{"MSNP24", "MSNP8"}, []Dialect{"MSNP24", "MSNP8"}, "MSNP8"},
	}
	for _, tt := range tests {
		if got := Negotiate(tt.client, tt.server); got != tt.want {
			t.Errorf("%s: Negotiate = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestParseDialects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want []Dialect
		err  bool
	}{
		{"MSNP15,MSNP8,CVR0", []Dialect{"MSNP15", "MSNP8", CVR0}, false},
		{"MSNP8 CVR0", []Dialect{"MSNP8", CVR0}, false},
		{"MSNP8-MSNP10", []Dialect{"MSNP10", "MSNP9", "MSNP8", CVR0}, false},
		{"MSNP10-MSNP8", nil, true},
		{"MSNP8,MSNP24", nil, true},
		{"", nil, true},
		{"msnp8", nil, true},
	}
	for _, tt := range tests {
		got, err := ParseDialects(tt.in)
		if (err != nil) != tt.err || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseDialects(%q) = %v, %v, want %v, error %v", tt.in, got, err, tt.want, tt.err)
		}
	}
	if ds := Dialects(); len(ds) != 23 || ds[0] != "MSNP23" || ds[21] != "MSNP2" || ds[22] != CVR0 {
		t.Errorf("Dialects() = %v", ds)
	}
}

func TestParseRole(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Role{"ds": DS, "NS": NS, "Ds": DS} {
		if got, err := ParseRole(in); err != nil || got != want || got.String() != strings.ToLower(in) {
			t.Errorf("ParseRole(%q) = %v, %v, want %v", in, got, err, want)
		}
	}
	if _, err := ParseRole("sb"); err == nil {
		t.Error("ParseRole(sb) succeeded, want an error")
	}
}
