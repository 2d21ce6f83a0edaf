// Package refserver is cvrswarm's reference CVR server: it answers VER and
// CVR (and CVQ) as a conforming server does, by the protocol notes in
// msnp/PROTOCOL.md. It is what `cvrswarm serve` runs, the target
// every command uses when given none, and a test double for code that
// talks to MSNP servers. It is shaped like net/http/httptest.Server:
//
//	srv, err := refserver.Listen("127.0.0.1:0", refserver.Config{Role: msnp.DS})
//	...
//	defer srv.Close() // closes every connection and waits for its handler
//
// It binds 127.0.0.1 unless told otherwise, never panics on any input,
// and bounds what a peer can hold: line length ([Config.MaxLineLength]),
// idle time ([Config.IdleTimeout]) and open connections
// ([Config.MaxConns]).
//
// # Framing
//
// Lines end in CRLF. A line ended by a bare LF is accepted as if it ended
// in CRLF, as the official server did; a bare CR is an ordinary byte (and
// makes a CVR malformed). Replies always end in CRLF. A line longer than
// MaxLineLength closes the connection without a reply, as does a
// connection silent for IdleTimeout, or one that leaves the replies
// unread that long. The replies to pipelined requests are written
// together: the server answers every line that one read from the network
// brought, then writes the replies in one write before it reads again.
//
// # VER
//
// VER comes first. The server answers with the highest MSNP version in
// both lists (msnp.Negotiate), CVR0 when that is all they share, and
// "VER n 0" followed by a close when they share nothing:
//
//	C: VER 1 MSNP8 CVR0
//	S: VER 1 MSNP8
//
//	C: VER 1 DISREGARDANCE FOR A REAL PROTOCOL
//	S: VER 1 0
//	(server closes)
//
// It names only the dialect chosen; it does not echo CVR0 after it, as
// some official servers did. A VER that does not parse (no TrID, no
// dialect, a control byte) closes the connection without a reply. A
// second VER gets 715, as on Escargot, and a close:
//
//	C: VER 1 MSNP8 CVR0
//	S: VER 1 MSNP8
//	C: VER 2 MSNP8 CVR0
//	S: 715 2
//	(server closes)
//
// A command out of context closes the connection without a reply: a CVR
// or CVQ before VER, and any command other than VER, CVR and CVQ (USR,
// INF, unknown verbs, empty lines). This is a CVR server; it does not log
// anyone in.
//
// # CVR and CVQ
//
// After VER, the role decides whether the negotiated dialect takes the
// command at all (msnp.Version.AcceptsCVR): a Notification Server takes
// CVR in every MSNP dialect; a Dispatch Server only from MSNP8, and CVQ
// only after a CVR0-only negotiation. A command the role does not take
// closes the connection without a reply, as any command out of context:
//
//	(Role DS)
//	C: VER 1 MSNP7 CVR0
//	S: VER 1 MSNP7
//	C: CVR 2 0x0409 win 4.10 i386 MSMSGS 4.5.0121 MSMSGS
//	(server closes)
//
// Each CVR or CVQ line is answered as msnp.Expect says, the same answer
// the fuzz oracle and the conformance check expect. A line that does not
// parse as a request (msnp.ParseRequest) gets 731 and a close when it
// carries a TrID, and a close alone when it does not. A request that
// parses is judged by msnp.CheckRequest, whose rules and their order are
// documented there: 731 closes the connection, 420 and
// 710 keep it open (msnp/PROTOCOL.md §2.3: a 420 may or may not be
// followed by a close; keeping it open lets a load run count every error
// on one connection). The examples of §2.3:
//
//	C: VER 1 MSNP8 CVR0
//	S: VER 1 MSNP8
//	C: CVR 3 0x0409 winnt 5.0 i386 MSNMSGR 99.9.9999 MSMSGS
//	S: 420 3
//	C: CVR 4 0x0409 winnt 5.0 i386 YCOMM 0.1.0023 MSMSGS
//	S: 420 4
//	C: CVR 5 0x1111 winnt 5.1 MSNMSGR 6.0.0602 MSMSGS example@hotmail.com
//	S: 710 5
//	C: CVR 6 spaghetti
//	S: 731 6
//	(server closes)
//
// The 710 example also lacks its system-arch, which alone would make it
// malformed; the locale is judged first, so it gets 710, as in §2.3.
//
// A valid request gets the CVR reply with the request's TrID. A
// connection may send any number of CVRs (load generators keep theirs
// open); a CVQ ends the session, so the server closes after its reply:
//
//	C: VER 1 MSNP8 CVR0
//	S: VER 1 MSNP8
//	C: CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS example@hotmail.com
//	S: CVR 2 7.0.0813 7.0.0813 6.2.0205 http://msgr.dlservice.microsoft.com/download/5/d/9/5d9bb5b2-49c7-4890-94ab-d1d5e44a0e6d/Install_MSN_Messenger.exe http://messenger.msn.com
//	C: CVR 3 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS example@hotmail.com
//	S: CVR 3 7.0.0813 7.0.0813 6.2.0205 http://msgr.dlservice.microsoft.com/download/5/d/9/5d9bb5b2-49c7-4890-94ab-d1d5e44a0e6d/Install_MSN_Messenger.exe http://messenger.msn.com
//
//	(Role DS)
//	C: VER 1 MSNP2 CVR0
//	S: VER 1 CVR0
//	C: CVQ 2 0x0409 win 4.10 i386 MSMSGS 1.0.0863 MSMSGS
//	S: CVQ 2 7.0.0813 7.0.0813 6.2.0205 http://msgr.dlservice.microsoft.com/download/5/d/9/5d9bb5b2-49c7-4890-94ab-d1d5e44a0e6d/Install_MSN_Messenger.exe http://messenger.msn.com
//	(server closes)
//
// The reply fields default to the pre-login example of msnp/PROTOCOL.md
// §2.4 and are set in [Config]. The server does not compare the client's
// version with the minimum: a client below it disconnects itself (§2.2).
//
// # A server with a known capacity
//
// With [Config.ServiceTime] set, each CVR or CVQ that parses holds one of
// [Config.Workers] for that long before it is answered, so the server
// serves Workers/ServiceTime requests per second and queues the rest:
// ServiceTime 2ms with 8 Workers is a server of 4000 requests per
// second, whose latency rises once the offered rate passes that.
package refserver
