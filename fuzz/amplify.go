package fuzz

import (
	"bytes"
	"context"
	"fmt"
	"strconv"

	"github.com/cvrswarm/cvrswarm/corpus"
)

// How an amplification is pinned on a field of its request line.
const (
	// growBytes is the most bytes of its own a field is lengthened by.
	growBytes = 256
	// growFields is how many fields of the line are tried.
	growFields = 12
	// growRate is how many reply bytes per added byte make a field the
	// driver: more than an echo (1 per byte) gives.
	growRate = 1.5
)

// cvrFields names the fields of a CVR line by position.
var cvrFields = [...]string{"command", "TrID", "locale", "system-type", "system-version", "system-arch",
	"library", "client-version", "client-id", "user-handle"}

// fieldName names field i of a line of the command.
func fieldName(command string, i int) string {
	switch {
	case i < 2 || ((command == "CVR" || command == "CVQ") && i < len(cvrFields)):
		return cvrFields[i]
	case command == "VER":
		return "dialect " + strconv.Itoa(i-1)
	}
	return "field " + strconv.Itoa(i+1)
}

// grownLine returns the index of the request whose reply is the
// longest: the one the reply's TrID names, else the one at its place;
// -1 for a phase without requests.
func grownLine(p *phase) int {
	if len(p.Requests) == 0 {
		return -1
	}
	if p.End == endTooLong { // the line too long to read answers the next request
		return min(len(p.Replies), len(p.Requests)-1)
	}
	at, longest := -1, -1
	for i, r := range p.Replies {
		if r.Len > longest {
			at, longest = i, r.Len
		}
	}
	if at < 0 {
		return len(p.Requests) - 1
	}
	for i, q := range p.Requests {
		if q.TrID == int64(p.Replies[at].TrID) {
			return i
		}
	}
	return min(at, len(p.Requests)-1)
}

// attribute names what grew in an amplification: it lengthens each field
// of the request line whose reply is the longest, one at a time, with
// bytes of its own, and runs the case again; the field whose bytes add
// the most reply bytes each, more than an echo would, drives the reply,
// and the signature names it. A case whose reply no field drives is
// signed as such.
func (o *Oracle) attribute(ctx context.Context, x *exchanger, c corpus.Case, obs *observation, v Verdict) Verdict {
	p, data, inVER := &obs.CVR, c.CVR, false
	if o.amplified("VER", &obs.VER).Kind != "" {
		p, data, inVER = &obs.VER, c.VER, true
	}
	i := grownLine(p)
	lines := splitLines(data)
	if i < 0 || i >= len(lines) || p.End == endTooLong {
		v.Signature = "amplification: " + grownCommand(p) + " reply line over " + strconv.Itoa(maxReplyLine>>20) + " MiB"
		return v
	}
	if i == 0 && p.Carried > 0 {
		// The line began in the write before: its fields are not all in
		// this write's bytes to lengthen.
		v.Signature = "amplification: " + grownCommand(p) + " reply to a line begun in the write before"
		return v
	}
	command := p.Requests[i].Command
	body, eol := splitEOL(lines[i])
	var fl fieldList
	fl.split(body)
	best, bestRate, bestAdded := -1, 0.0, 0
	for f := 0; f < min(fl.n, growFields) && ctx.Err() == nil; f++ {
		field := body[fl.f[f].lo:fl.f[f].hi]
		if len(field) == 0 {
			continue
		}
		add := field[:min(len(field), growBytes)]
		line := appendReplaced(nil, body, &fl, f, append(bytes.Clone(field), add...))
		variant := bytes.Join(append(append(append([][]byte(nil), lines[:i]...), append(line, eol...)), lines[i+1:]...), nil)
		vc := corpus.Case{VER: c.VER, CVR: variant}
		if inVER {
			vc = corpus.Case{VER: variant, CVR: c.CVR}
		}
		rate := float64(o.replyBytes(ctx, x, vc, inVER)-p.Bytes) / float64(len(add))
		if rate > bestRate {
			best, bestRate, bestAdded = f, rate, len(add)
		}
	}
	if best < 0 || bestRate < growRate {
		v.Signature = "amplification: " + command + " reply, not driven by one field's length"
		v.Detail += "; lengthening any one field of the line did not grow the reply faster than an echo would"
		return v
	}
	name := fieldName(command, best)
	v.Signature = "amplification: " + command + " reply grows with its " + name + " field"
	v.Detail += fmt.Sprintf("; %d more bytes in the %s field drew %.1f more reply bytes each", bestAdded, name, bestRate)
	return v
}

// replyBytes runs c on a fresh connection and returns how many reply
// bytes its VER phase (inVER) or its CVR phase drew.
func (o *Oracle) replyBytes(ctx context.Context, x *exchanger, c corpus.Case, inVER bool) int {
	var obs observation
	cn := x.open(ctx, c.VER, o.generation(), &obs)
	if cn == nil {
		return 0
	}
	defer cn.close()
	if inVER {
		return obs.VER.Bytes
	}
	if len(c.VER) == 0 || obs.VER.End == endOpen {
		x.runCVR(ctx, cn, c.CVR, &obs)
	}
	return obs.CVR.Bytes
}
