// Package conformance checks, rule by rule, how a server handles VER and
// CVR, as h2spec does for HTTP/2 servers.
//
// Each [Rule] is data: an ID, a title, where it comes from (sections of
// msnp/PROTOCOL.md), what it sends and expects, a severity and
// whether it is likely to crash a fragile server. [Run] plays every rule
// on a fresh connection and judges what came back:
//
//	C: VER 1 MSNP23 CVR0
//	S: VER 1 MSNP23
//	C: CVR 5 0x1111 winnt 5.1 MSNMSGR 6.0.0602 MSMSGS example@hotmail.com
//	S: 710 5
//
// Before the rules, [Run] learns which offered dialects the target speaks
// by offering each as clients do, with CVR0 after it; a target that then
// refuses its highest dialect offered alone gets CVR0 in every VER of the
// check. When fewer than half of the rules for the role can run, the
// check is inconclusive, and [Report.Passed] is false.
//
// The expected answers come from the functions the reference server and
// the fuzz oracle use ([msnp.Negotiate], [msnp.Lookup],
// [msnp.Version.AcceptsCVR], [msnp.CheckRequest], [msnp.ParseReply]), so
// the three agree on what a conformant server does.
//
// A rule passes, fails, warns or is skipped (with the reason). A rule
// warns instead of failing where real servers commonly differ from the
// spec, as msnp/PROTOCOL.md §9 documents: no 420, 710 or 731, no close
// after 731, a CVR0 echo in the VER reply. Some answers fail every rule
// whatever its severity: a reply carrying another TrID than the request.
//
// The risky rules (an over-long line, binary garbage) run last. Before
// them, and after every rule, [Run] checks that the target still answers
// a valid VER and CVR (with any reply line: judging it is the rules'
// business); a rule after which it stops answering fails, and the
// remaining rules are skipped as such.
package conformance
