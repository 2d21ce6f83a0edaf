package msnp

import (
	"errors"
	"reflect"
	"testing"
)

func TestParseReply(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		line    string
		want    Reply
		chosen  Dialect
		refused bool
	}{
		{
			name: "cvr reply",
			line: "CVR 2 7.0.0813 7.0.0813 6.2.0205 http://example.com/setup.exe http://messenger.msn.com",
			want: Reply{Kind: ReplyCVR, Command: "CVR", TrID: 2, CVR: CVRReply{Recommended: "7.0.0813",
				Recommended2: "7.0.0813", Minimum: "6.2.0205", DownloadURL: "http://example.com/setup.exe",
				FallbackURL: "http://messenger.msn.com", Params: 5}},
		},
		{
			name: "mock server reply without URLs",
			line: "CVR 2 1.0.0000 1.0.0000 7.0.0425",
			want: Reply{Kind: ReplyCVR, Command: "CVR", TrID: 2, CVR: CVRReply{Recommended: "1.0.0000",
				Recommended2: "1.0.0000", Minimum: "7.0.0425", Params: 3}},
		},
		{
			name: "double space and trailing space as the wiki shows",
			line: "CVR 2 8.0.0566 8.0.0566 8.0.0566  http://x http://y ",
			want: Reply{Kind: ReplyCVR, Command: "CVR", TrID: 2, CVR: CVRReply{Recommended: "8.0.0566",
				Recommended2: "8.0.0566", Minimum: "8.0.0566", DownloadURL: "http://x", FallbackURL: "http://y", Params: 5}},
		},
		{
			name: "cvq reply",
			line: "CVQ 2 5.0.0537 5.0.0537 1.0.0863 http://a http://b",
			want: Reply{Kind: ReplyCVR, Command: "CVQ", TrID: 2, CVR: CVRReply{Recommended: "5.0.0537",
				Recommended2: "5.0.0537", Minimum: "1.0.0863", DownloadURL: "http://a", FallbackURL: "http://b", Params: 5}},
		},
		{name: "error", line: "710 5", want: Reply{Kind: ReplyError, TrID: 5, Code: 710}},
		{name: "error with extra parameter", line: "500 9 oops", want: Reply{Kind: ReplyError, TrID: 9, Code: 500}},
		{
			name: "ver", line: "VER 1 MSNP8",
			want:   Reply{Kind: ReplyVER, Command: "VER", TrID: 1, VER: VERReply{Dialects: []Dialect{"MSNP8"}}},
			chosen: "MSNP8",
		},
		{
			name: "ver echoing CVR0", line: "VER 1 MSNP13 CVR0",
			want:   Reply{Kind: ReplyVER, Command: "VER", TrID: 1, VER: VERReply{Dialects: []Dialect{"MSNP13", CVR0}}},
			chosen: "MSNP13",
		},
		{
			name: "ver CVR0 only", line: "VER 2 CVR0",
			want:   Reply{Kind: ReplyVER, Command: "VER", TrID: 2, VER: VERReply{Dialects: []Dialect{CVR0}}},
			chosen: CVR0,
		},
		{
			name: "ver refused", line: "VER 1 0",
			want:    Reply{Kind: ReplyVER, Command: "VER", TrID: 1, VER: VERReply{Dialects: []Dialect{"0"}}},
			refused: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseReply([]byte(tt.line))
			if err != nil {
				t.Fatalf("ParseReply(%q): %v", tt.line, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseReply(%q)\n got %+v\nwant %+v", tt.line, got, tt.want)
			}
			if got.VER.Chosen() != tt.chosen || got.VER.Refused() != tt.refused {
				t.Errorf("Chosen, Refused = %q, %v, want %q, %v", got.VER.Chosen(), got.VER.Refused(), tt.chosen, tt.refused)
			}
			again, err := ParseReply([]byte(got.String()))
			if err != nil || !reflect.DeepEqual(again, got) {
				t.Errorf("round trip of %q: got %+v, %v", got.String(), again, err)
			}
		})
	}
}

func TestParseReplyErrors(t *testing.T) {
	t.Parallel()
	for _, line := range []string{
		"", "CVR", "CVR x 1 2 3", "CVR 2 1.0 1.0", "CVR 2 a b c d e f", "VER 1", "VER 1 0 MSNP8",
		"OUT OTH", "XFR 3 NS 10.0.0.5:1863 0", "42 1", "4200 1", "CVR 2 a b c\x00",
	} {
		if _, err := ParseReply([]byte(line)); !errors.As(err, new(*SyntaxError)) {
			t.Errorf("ParseReply(%q) error = %v, want a *SyntaxError", line, err)
		}
	}
}

func TestReplyErr(t *testing.T) {
	t.Parallel()
	r, err := ParseReply([]byte("420 3"))
	if err != nil {
		t.Fatal(err)
	}
	var e *Error
	if !errors.As(r.Err(), &e) || e.Code != 420 || e.TrID != 3 {
		t.Fatalf("Err() = %v, want *Error{420, 3}", r.Err())
	}
	if got, want := e.Error(), "server error 420 (invalid client identification or version) for TrID 3"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if got, want := (&Error{Code: 999, TrID: 1}).Error(), "server error 999 for TrID 1"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if r := (Reply{Kind: ReplyCVR}); r.Err() != nil {
		t.Errorf("a CVR reply's Err() = %v, want nil", r.Err())
	}
}

func TestParseVER(t *testing.T) {
	t.Parallel()
	got, err := ParseVER([]byte("VER 1 MSNP15 MSNP8 CVR0"))
	if err != nil {
		t.Fatal(err)
	}
	want := VERRequest{TrID: 1, Dialects: []Dialect{"MSNP15", "MSNP8", CVR0}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseVER = %+v, want %+v", got, want)
	}
	if got.String() != "VER 1 MSNP15 MSNP8 CVR0" {
		t.Errorf("String() = %q", got.String())
	}
	for _, bad := range []string{"VER", "VER MSNP8 CVR0", "VER 1", "VER 1 MSNP8  CVR0", "CVR 1 MSNP8", "VER 1 MSNP8\x00"} {
		if _, err := ParseVER([]byte(bad)); !errors.As(err, new(*SyntaxError)) {
			t.Errorf("ParseVER(%q) error = %v, want a *SyntaxError", bad, err)
		}
	}
}
