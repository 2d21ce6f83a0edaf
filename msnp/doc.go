// Package msnp is the MSN Messenger protocol as cvrswarm speaks it: the VER
// and CVR (and CVQ) commands, their replies, the numeric errors, and the
// version rules that say which fields a CVR carries in which dialect.
//
// Parsing is pure and kept apart from I/O. [ParseRequest], [ParseVER] and
// [ParseReply] take one line without its terminator; the Append methods
// write exactly the wire form, CRLF included. Framing lives in [Reader],
// which bounds how much it buffers, and [Client] puts the two on a
// connection.
//
// The wire layer every other package uses is here once: [ScanReply] reads
// a reply line without allocating, by ParseReply's grammar, and
// [ReplyHead.Class] judges it against the request; [Handshake] runs the
// VER exchange on any connection, with the caller's bytes; [BindDeadline]
// ties a connection's deadline to a context; [EndOf] tells from an I/O
// error how the connection's I/O ended (closed, reset, refused, a
// deadline, a line too long), without allocating, for the load engine,
// the fuzzer and the check to name in their own words; [ResolveTCP] looks
// a target's host name up once, for the tools that open a connection per
// request or per case.
//
// A login starts with version negotiation and the client version request:
//
//	C: VER 1 MSNP8 CVR0
//	S: VER 1 MSNP8
//	C: CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS example@hotmail.com
//	S: CVR 2 7.0.0813 7.0.0813 6.2.0205 http://example.com/setup.exe http://messenger.msn.com
//
// A server refuses a request with a numeric code and the request's TrID:
//
//	C: CVR 3 0x0409 winnt 5.0 i386 MSNMSGR 99.9.9999 MSMSGS
//	S: 420 3
//
// Two error types tell the failures apart: *[Error] when the peer answered
// with a numeric code, and *[SyntaxError] when a line broke the grammar.
//
// The protocol facts this package and its users rely on (which server takes
// CVR in which dialect, the fields, the error codes, when a server hangs
// up, and how real servers stray from the documents) are written down in
// msnp/PROTOCOL.md, and cited by section: msnp/PROTOCOL.md §2.3.
package msnp
