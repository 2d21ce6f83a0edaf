package msnp

import (
	"fmt"
	"strconv"
	"strings"
)

// Dialect is a protocol version as VER lists it: "MSNP2" to "MSNP23", or
// the fallback sub-protocol "CVR0". Dialect names are case-sensitive.
type Dialect string

// CVR0 is the fallback dialect every client lists last. A server that
// speaks none of the client's MSNP versions answers "VER n CVR0", and the
// client then sends CVQ instead of CVR.
const CVR0 Dialect = "CVR0"

// Role is the kind of server a connection talks to.
type Role int

const (
	// NS is a Notification Server: it takes CVR in every dialect.
	NS Role = iota
	// DS is a Dispatch Server: it takes CVR from MSNP8 on, and CVQ after
	// a CVR0-only negotiation.
	DS
)

// String returns "ns" or "ds".
func (r Role) String() string {
	if r == DS {
		return "ds"
	}
	return "ns"
}

// ParseRole reads "ds" or "ns" (any case).
func ParseRole(s string) (Role, error) {
	switch strings.ToLower(s) {
	case "ns":
		return NS, nil
	case "ds":
		return DS, nil
	}
	return NS, fmt.Errorf("role %q: want ds or ns", s)
}

// Version describes what one dialect allows on the CVR exchange.
//
// MSNP2-7 send 6 or 7 parameters after the TrID (client-identification
// was added in MSNP4, though MSNP2 clients are seen sending it too); MSNP8
// and later add the user-handle and send 7 or 8 (real clients leave the
// handle out). CVR0 uses CVQ with 6 to 8.
type Version struct {
	Dialect     Dialect
	Number      int    // 2 to 23; 0 for CVR0
	Command     string // "CVR", or "CVQ" for CVR0
	MinParams   int    // fewest parameters after the TrID the dialect accepts
	MaxParams   int    // most parameters after the TrID
	Params      int    // how many a canonical request of this dialect carries
	CVROnDS     bool   // a Dispatch Server takes the command
	CVROnNS     bool   // a Notification Server takes the command
	FirstClient string // the first official client version that spoke it
}

// Number of parameters a CVR request can carry after its TrID.
const (
	paramsMin  = 6 // locale .. client-version
	paramsID   = 7 // + client-identification
	paramsFull = 8 // + user-handle
)

// firstClients lists, per MSNP number, the first official client that
// spoke it (msnp/PROTOCOL.md §6); for MSNP15 and later the figures are
// approximate.
var firstClients = map[int]string{
	2: "1.0.0863", 3: "2.0.0083", 4: "2.1.1047", 5: "3.0.0283", 6: "3.6.0038", 7: "4.5.0121",
	8: "5.0.0537", 9: "6.0.0602", 10: "6.1.0155", 11: "7.0.0777", 12: "7.5.0299", 13: "8.0.0787",
	14: "8.0.0787", 15: "8.1.0178", 16: "14.0.8050", 17: "14.0.8064", 18: "14.0.8117",
	19: "15.4.3502", 20: "15.4.3508", 21: "16.4.3528", 22: "16.4.3528", 23: "16.4.3528",
}

// Highest and lowest MSNP numbers that carry VER and CVR. MSNP24 removed both.
const (
	LowestVersion  = 2
	HighestVersion = 23
	RemovedIn      = 24
)

func versionFor(n int) Version {
	if n == 0 {
		return Version{Dialect: CVR0, Command: "CVQ", MinParams: paramsMin, MaxParams: paramsFull,
			Params: paramsMin, CVROnDS: true, FirstClient: "1.0.0863"}
	}
	v := Version{Dialect: Dialect("MSNP" + strconv.Itoa(n)), Number: n, Command: "CVR",
		CVROnNS: true, FirstClient: firstClients[n]}
	switch {
	case n < 4:
		v.MinParams, v.MaxParams, v.Params = paramsMin, paramsID, paramsMin
	case n < 8:
		v.MinParams, v.MaxParams, v.Params = paramsMin, paramsID, paramsID
	default:
		v.MinParams, v.MaxParams, v.Params, v.CVROnDS = paramsID, paramsFull, paramsFull, true
	}
	return v
}

// versions holds every dialect with CVR: index 0 is CVR0, index n is MSNPn.
var versions = func() [HighestVersion + 1]Version {
	var vs [HighestVersion + 1]Version
	vs[0] = versionFor(0)
	for n := LowestVersion; n <= HighestVersion; n++ {
		vs[n] = versionFor(n)
	}
	return vs
}()

// Lookup returns the rules of a dialect. It fails for names that are not
// dialects and for MSNP24 and later, which have no VER or CVR.
func Lookup(d Dialect) (Version, error) {
	if d == CVR0 {
		return versions[0], nil
	}
	n, ok := d.number()
	switch {
	case !ok:
		return Version{}, fmt.Errorf("%q is not a dialect (want MSNP2 to MSNP23 or CVR0)", string(d))
	case n >= RemovedIn:
		return Version{}, fmt.Errorf("%s has no VER or CVR (removed in MSNP%d)", d, RemovedIn)
	case n < LowestVersion:
		return Version{}, fmt.Errorf("%s does not exist (the first version is MSNP%d)", d, LowestVersion)
	}
	return versions[n], nil
}

// number returns n for "MSNPn" with n written without leading zeros.
func (d Dialect) number() (int, bool) {
	s, ok := strings.CutPrefix(string(d), "MSNP")
	if !ok || s == "" || len(s) > 3 || s[0] == '0' {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

// Known reports whether d has CVR: MSNP2 to MSNP23 or CVR0.
func (d Dialect) Known() bool {
	_, err := Lookup(d)
	return err == nil
}

// AcceptsCVR reports whether a server of the given role takes this
// dialect's CVR (or CVQ). Before MSNP8, CVR is a Notification Server
// command only; from MSNP8 both take it; CVQ is for the Dispatch Server.
func (v Version) AcceptsCVR(r Role) bool {
	if r == DS {
		return v.CVROnDS
	}
	return v.CVROnNS
}

// Dialects returns every dialect with CVR, newest first, CVR0 last: the
// list a client that speaks everything sends in VER.
func Dialects() []Dialect {
	ds := make([]Dialect, 0, HighestVersion)
	for n := HighestVersion; n >= LowestVersion; n-- {
		ds = append(ds, versions[n].Dialect)
	}
	return append(ds, CVR0)
}

// DialectRange returns MSNPfrom to MSNPto, newest first, followed by CVR0,
// as a VER request lists them. from and to are clamped to MSNP2..MSNP23.
func DialectRange(from, to int) []Dialect {
	from, to = max(from, LowestVersion), min(to, HighestVersion)
	var ds []Dialect
	for n := to; n >= from; n-- {
		ds = append(ds, versions[n].Dialect)
	}
	return append(ds, CVR0)
}

// ParseDialects reads a comma- or space-separated dialect list such as
// "MSNP15,MSNP8,CVR0" or a range "MSNP8-MSNP18" (which gets CVR0 added).
// Every name must be a known dialect.
func ParseDialects(s string) ([]Dialect, error) {
	s = strings.TrimSpace(s)
	if from, to, ok := strings.Cut(s, "-"); ok && !strings.ContainsAny(s, ", ") {
		a, erra := Lookup(Dialect(from))
		b, errb := Lookup(Dialect(to))
		if erra != nil || errb != nil || a.Number == 0 || b.Number == 0 || a.Number > b.Number {
			return nil, fmt.Errorf("dialect range %q: want MSNPa-MSNPb with 2 <= a <= b <= 23", s)
		}
		return DialectRange(a.Number, b.Number), nil
	}
	var ds []Dialect
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		if _, err := Lookup(Dialect(f)); err != nil {
			return nil, err
		}
		ds = append(ds, Dialect(f))
	}
	if len(ds) == 0 {
		return nil, fmt.Errorf("empty dialect list")
	}
	return ds, nil
}

// Negotiate picks the dialect a server speaking serverSide answers to a
// VER listing clientSide: the highest MSNP version in both, else CVR0 when
// both list it, else "" (the server answers "VER n 0" and closes).
func Negotiate(clientSide, serverSide []Dialect) Dialect {
	best, bestN, cvr0 := Dialect(""), -1, false
	for _, c := range clientSide {
		for _, s := range serverSide {
			if c != s {
				continue
			}
			if c == CVR0 {
				cvr0 = true
			} else if n, ok := c.number(); ok && n > bestN && c.Known() {
				best, bestN = c, n
			}
		}
	}
	if best == "" && cvr0 {
		return CVR0
	}
	return best
}
