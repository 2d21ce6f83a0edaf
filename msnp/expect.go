package msnp

// Answer is what a conforming server does with one CVR or CVQ line once
// VER has settled the dialect. The reference server acts on it, and the
// fuzz oracle and the conformance check expect it, so the three agree:
//
//	C: CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS a@b.c   S: CVR 2 ...        (Reply, Code 0)
//	C: CVR 5 0x1111 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS a@b.c   S: 710 5            (Reply, Code 710)
//	C: CVR 6 spaghetti                                              S: 731 6, closes    (Reply, Code 731, Close)
//	C: CVR x spaghetti                                              (closes: no TrID to answer with)
//	C: CVR 2 ... on a Dispatch Server in MSNP7                      (closes: out of context)
//	C: CVQ 2 0x0409 win 4.10 i386 MSMSGS 1.0.0863 after CVR0        S: CVQ 2 ..., closes (the session ends)
//
// A server may also close after 420 or 710; Close says where it must.
type Answer struct {
	Request Request // the line as parsed, when Parsed
	Parsed  bool
	Reply   bool   // the server answers the line: with Code, or with a CVR (CVQ) reply when Code is 0
	Code    int    // 0, or CodeInvalidClient, CodeInvalidLocale, CodeMalformedCVR
	TrID    uint32 // the TrID the answer carries
	Close   bool   // the server closes the connection after the answer
}

// Expect returns how a conforming server of the given role answers line
// (a CVR or CVQ line without its terminator) in dialect v: the role's
// context ([Version.AcceptsCVR]), then the grammar ([ParseRequest]; a line
// that does not parse gets 731 when [PeekTrID] finds a TrID), then the
// rules ([CheckRequest]).
func Expect(line []byte, v Version, role Role) Answer {
	if !v.AcceptsCVR(role) {
		return Answer{Close: true}
	}
	req, err := ParseRequest(line)
	if err != nil {
		trid, ok := PeekTrID(line)
		return Answer{Reply: ok, Code: CodeMalformedCVR, TrID: trid, Close: true}
	}
	code, _ := CheckRequest(req, v)
	return Answer{Request: req, Parsed: true, Reply: true, Code: code, TrID: req.TrID,
		Close: code == CodeMalformedCVR || (code == 0 && req.Command == "CVQ")}
}
