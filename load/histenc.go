package load

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"math"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// histogramEncoder writes histograms of [NewHistogram]'s geometry in the
// V2 compressed encoding, byte for byte as [EncodeHistogram] does, but
// reusing its buffers and compressor: the per-second series encodes one
// every second, where the library allocates for every run of counts.
//
// The encoding, base64 of:
//
//	int32 cookie 0x1c849314 | int32 length | zlib(payload)
//
// where the payload is:
//
//	int32 cookie 0x1c849313 | int32 counts length | int32 normalizing offset (0)
//	int32 significant digits | int64 lowest | int64 highest | float64 ratio (1)
//	counts up to the highest non-zero one, each a ZigZag LEB128 varint of
//	at most 9 bytes; a run of n > 1 zeros is written as -n.
type histogramEncoder struct {
	payload, out bytes.Buffer
	z            *zlib.Writer
	text         []byte
}

const (
	v2PayloadCookie    = 0x1c849303 | 0x10
	v2CompressedCookie = 0x1c849304 | 0x10
	v2HeaderSize       = 40
)

// encode returns h encoded; h's conversion ratio must be the default.
func (e *histogramEncoder) encode(h *hdrhistogram.Histogram) string {
	counts := h.Export().Counts
	limit := 1
	for i := len(counts) - 1; i > 0; i-- {
		if counts[i] != 0 {
			limit = i + 1
			break
		}
	}
	e.payload.Reset()
	var header [v2HeaderSize]byte
	e.payload.Write(header[:])
	for i := 0; i < limit; {
		n := counts[i]
		i++
		if n == 0 {
			zeros := int64(1)
			for ; i < limit && counts[i] == 0; i++ {
				zeros++
			}
			if zeros > 1 {
				n = -zeros
			}
		}
		e.putVarint(n)
	}
	p := e.payload.Bytes()
	binary.BigEndian.PutUint32(p[0:], v2PayloadCookie)
	binary.BigEndian.PutUint32(p[4:], uint32(len(p)-v2HeaderSize))
	binary.BigEndian.PutUint32(p[8:], 0)
	binary.BigEndian.PutUint32(p[12:], uint32(h.SignificantFigures()))
	binary.BigEndian.PutUint64(p[16:], uint64(h.LowestTrackableValue()))
	binary.BigEndian.PutUint64(p[24:], uint64(h.HighestTrackableValue()))
	binary.BigEndian.PutUint64(p[32:], math.Float64bits(1))

	e.out.Reset()
	e.out.Write(header[:8])
	if e.z == nil {
		e.z, _ = zlib.NewWriterLevel(&e.out, zlib.BestCompression) // the level is valid
	} else {
		e.z.Reset(&e.out)
	}
	e.z.Write(p) // writes to a bytes.Buffer do not fail
	e.z.Close()
	o := e.out.Bytes()
	binary.BigEndian.PutUint32(o[0:], v2CompressedCookie)
	binary.BigEndian.PutUint32(o[4:], uint32(len(o)-8))
	e.text = base64.StdEncoding.AppendEncode(e.text[:0], o)
	return string(e.text)
}

// putVarint appends v as a ZigZag LEB128 varint of at most 9 bytes, the
// ninth holding 8 bits.
func (e *histogramEncoder) putVarint(v int64) {
	u := uint64((v << 1) ^ (v >> 63))
	for i := 0; i < 8; i++ {
		if u>>7 == 0 {
			e.payload.WriteByte(byte(u))
			return
		}
		e.payload.WriteByte(byte(u&0x7f) | 0x80)
		u >>= 7
	}
	e.payload.WriteByte(byte(u))
}
