// Package entry encodes and decodes the header that memoized values carry
// in front of the codec's output: the metadata early refresh,
// stale-while-revalidate and negative caching need.
//
// The layout (version 1), HeaderLen bytes:
//
//	byte 0       Magic
//	byte 1       Version
//	byte 2       flags (FlagNotFound, FlagZero)
//	bytes 3-10   created-at, Unix nanoseconds, big endian
//	bytes 11-18  delta: how long the computation took, nanoseconds
//	bytes 19-26  logical expiry, Unix nanoseconds; 0 for none
//	then         the payload (nothing for negative entries)
//
// Decode never panics, whatever the bytes: anything that is not a
// well-formed entry of this version is reported as not an entry.
package entry

import "encoding/binary"

// Format constants.
const (
	Magic     = 0xC7 // first byte of every entry
	Version   = 1    // the only version Decode accepts
	HeaderLen = 27   // bytes before the payload
)

// Flags of an entry.
const (
	FlagNotFound byte = 1 << 0 // the computation reported not found; no payload
	FlagZero     byte = 1 << 1 // the computation returned the zero value, cached as not found; no payload

	knownFlags = FlagNotFound | FlagZero
)

// Header is an entry's metadata.
type Header struct {
	Flags   byte
	Created int64 // Unix nanoseconds
	Delta   int64 // nanoseconds
	Expiry  int64 // Unix nanoseconds; 0 for none
}

// Negative reports whether the entry stands for "not found" (and so has
// no payload).
func (h Header) Negative() bool { return h.Flags&knownFlags != 0 }

// Append appends h's encoding to b.
func (h Header) Append(b []byte) []byte {
	b = append(b, Magic, Version, h.Flags)
	b = binary.BigEndian.AppendUint64(b, uint64(h.Created))
	b = binary.BigEndian.AppendUint64(b, uint64(h.Delta))
	return binary.BigEndian.AppendUint64(b, uint64(h.Expiry))
}

// Encode returns a new entry: h followed by payload, in one allocation.
// A negative header takes no payload: Decode rejects one that has.
func Encode(h Header, payload []byte) []byte {
	b := make([]byte, 0, HeaderLen+len(payload))
	return append(h.Append(b), payload...)
}

// Decode splits b into header and payload; the payload aliases b. ok is
// false for bytes that are not an entry of this version: too short, another
// magic byte or version, unknown flags, or a negative entry with a payload.
func Decode(b []byte) (h Header, payload []byte, ok bool) {
	if len(b) < HeaderLen || b[0] != Magic || b[1] != Version {
		return Header{}, nil, false
	}
	h.Flags = b[2]
	if h.Flags&^knownFlags != 0 || (h.Negative() && len(b) != HeaderLen) {
		return Header{}, nil, false
	}
	h.Created = int64(binary.BigEndian.Uint64(b[3:]))
	h.Delta = int64(binary.BigEndian.Uint64(b[11:]))
	h.Expiry = int64(binary.BigEndian.Uint64(b[19:]))
	return h, b[HeaderLen:], true
}
