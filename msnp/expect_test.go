package msnp

import "testing"

func TestExpect(t *testing.T) {
	t.Parallel()
	msnp8, _ := Lookup("MSNP8")
	msnp7, _ := Lookup("MSNP7")
	cvr0, _ := Lookup(CVR0)
	tests := []struct {
		name  string
		line  string
		v     Version
		role  Role
		want  Answer // Request is not compared
		parse bool
	}{
		{"valid", "CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS a@b.c", msnp8, NS,
			Answer{Parsed: true, Reply: true, TrID: 2}, true},
		{"invalid locale", "CVR 5 0x1111 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS a@b.c", msnp8, DS,
			Answer{Parsed: true, Reply: true, Code: 710, TrID: 5}, true},
		{"unknown version", "CVR 3 0x0409 winnt 5.0 i386 MSNMSGR 99.9.9999 MSMSGS", msnp8, NS,
			Answer{Parsed: true, Reply: true, Code: 420, TrID: 3}, true},
		{"malformed", "CVR 6 spaghetti", msnp8, NS, Answer{Reply: true, Code: 731, TrID: 6, Close: true}, false},
		{"malformed without a TrID", "CVR x spaghetti", msnp8, NS, Answer{Code: 731, Close: true}, false},
		{"wrong arity parses but is malformed", "CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602", msnp8, NS,
			Answer{Parsed: true, Reply: true, Code: 731, TrID: 2, Close: true}, true},
		{"out of context on a DS before MSNP8", "CVR 2 0x0409 winnt 5.0 i386 MSMSGS 4.5.0121 MSMSGS", msnp7, DS,
			Answer{Close: true}, false},
		{"CVQ reply ends the session", "CVQ 2 0x0409 win 4.10 i386 MSMSGS 1.0.0863 MSMSGS", cvr0, DS,
			Answer{Parsed: true, Reply: true, TrID: 2, Close: true}, true},
		{"CVQ on an NS is out of context", "CVQ 2 0x0409 win 4.10 i386 MSMSGS 1.0.0863 MSMSGS", cvr0, NS,
			Answer{Close: true}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Expect([]byte(tt.line), tt.v, tt.role)
			if got.Parsed != tt.parse {
				t.Errorf("Parsed = %v, want %v", got.Parsed, tt.parse)
			}
			got.Request = Request{}
			if got != tt.want {
				t.Errorf("Expect(%q, %s, %s) = %+v, want %+v", tt.line, tt.v.Dialect, tt.role, got, tt.want)
			}
		})
	}
}
