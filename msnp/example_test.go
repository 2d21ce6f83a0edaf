package msnp_test

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/cvrswarm/cvrswarm/msnp"
)

func ExampleParseRequest() {
	req, err := msnp.ParseRequest([]byte("CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS example@hotmail.com"))
	if err != nil {
		panic(err)
	}
	fmt.Println(req.TrID, req.Locale, req.Library, req.ClientVersion, req.UserHandle)
	v, _ := msnp.Lookup("MSNP8")
	code, _ := msnp.CheckRequest(req, v)
	fmt.Println("code", code)
	// Output:
	// 2 0x0409 MSNMSGR 6.0.0602 example@hotmail.com
	// code 0
}

func ExampleCheckRequest() {
	v, _ := msnp.Lookup("MSNP8")
	for _, line := range []string{
		"CVR 3 0x0409 winnt 5.0 i386 MSNMSGR 99.9.9999 MSMSGS",
		"CVR 4 0x0409 winnt 5.0 i386 YCOMM 0.1.0023 MSMSGS",
		"CVR 5 0x1111 winnt 5.1 MSNMSGR 6.0.0602 MSMSGS example@hotmail.com",
	} {
		req, _ := msnp.ParseRequest([]byte(line))
		code, reason := msnp.CheckRequest(req, v)
		fmt.Println(code, reason)
	}
	_, err := msnp.ParseRequest([]byte("CVR 6 spaghetti"))
	fmt.Println(err)
	// Output:
	// 420 MSNMSGR 99.9.9999 was never released
	// 420 unknown requesting-library "YCOMM"
	// 710 locale "0x1111" is not a known LCID
	// too few parameters: "CVR 6 spaghetti"
}

func ExampleRequest_Append() {
	req := msnp.Request{TrID: 2, Locale: "0x0409", SystemType: "winnt", SystemVer: "5.1", SystemArch: "i386",
		Library: "MSNMSGR", ClientVersion: "8.5.1302", ClientID: "BC01", Params: 8}
	fmt.Printf("%q\n", req.Append(nil))
	// Output:
	// "CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 8.5.1302 BC01 \r\n"
}

func ExampleNegotiate() {
	client := []msnp.Dialect{"MSNP18", "MSNP15", "MSNP8", msnp.CVR0}
	fmt.Println(msnp.Negotiate(client, msnp.DialectRange(8, 12)))
	fmt.Println(msnp.Negotiate(client, []msnp.Dialect{"MSNP2", msnp.CVR0}))
	fmt.Printf("%q\n", msnp.Negotiate(client, []msnp.Dialect{"MSNP2"}))
	// Output:
	// MSNP8
	// CVR0
	// ""
}

func ExampleParseReply() {
	for _, line := range []string{"VER 1 MSNP13 CVR0", "710 5", "CVR 2 7.0.0813 7.0.0813 6.2.0205 http://a http://b"} {
		r, _ := msnp.ParseReply([]byte(line))
		switch r.Kind {
		case msnp.ReplyVER:
			fmt.Println("chose", r.VER.Chosen())
		case msnp.ReplyError:
			fmt.Println(r.Err())
		case msnp.ReplyCVR:
			fmt.Println("minimum", r.CVR.Minimum)
		}
	}
	// Output:
	// chose MSNP13
	// server error 710 (invalid locale ID) for TrID 5
	// minimum 6.2.0205
}

func ExampleScanReply() {
	for _, line := range []string{"CVR 2 8.5.1302 8.5.1302 8.1.0178", "420 2", "CVR 3 1.0 1.0 1.0", "VER 2 MSNP8", "CVR 2 1.0"} {
		h := msnp.ScanReply([]byte(line))
		fmt.Printf("%-34q %s\n", line, h.Class(msnp.ReplyCVR, 2))
	}
	// Output:
	// "CVR 2 8.5.1302 8.5.1302 8.1.0178" ok
	// "420 2"                            error
	// "CVR 3 1.0 1.0 1.0"                trid_mismatch
	// "VER 2 MSNP8"                      unexpected
	// "CVR 2 1.0"                        malformed
}

func ExampleHandshake() {
	var sent bytes.Buffer
	server := strings.NewReader("VER 1 MSNP13 CVR0\r\n")
	req := msnp.VERRequest{TrID: 1, Dialects: []msnp.Dialect{"MSNP15", "MSNP13", msnp.CVR0}}
	n, err := msnp.Handshake(&sent, msnp.NewReader(server, 0), req.Append(nil), req.TrID, req.Dialects)
	if err != nil {
		panic(err)
	}
	fmt.Printf("C: %s\nS: %s\n%s %s %v\n", bytes.TrimSpace(sent.Bytes()), n.Line, n.Class, n.Dialect, n.Err())
	// Output:
	// C: VER 1 MSNP15 MSNP13 CVR0
	// S: VER 1 MSNP13 CVR0
	// ok MSNP13 <nil>
}
