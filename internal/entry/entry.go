// Package entry encodes and decodes the header that every value of a
// Cache in the entry format (the default) carries in front of the codec's
// output: the metadata that negative caching, expiry checks, early refresh
// and stale-while-revalidate need.
//
// The layout (version 2):
//
//	byte 0   Magic (0xC7)
//	byte 1   Version (2)
//	byte 2   flags
//	then     the fields the flags announce, in this order, as uvarints:
//	         FlagDelta:  how long the computation took, nanoseconds
//	         FlagExpiry: logical expiry, Unix milliseconds
//	then     the payload (nothing for negative entries)
//
// A plain value without a ttl costs 3 bytes of header; with a ttl, about 9.
//
// Decode never panics, whatever the bytes, and tells why bytes are not an
// entry of this version.
package entry

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Format constants.
const (
	Magic   = 0xC7 // first byte of every entry
	Version = 2    // the only version Decode accepts
	// MinLen is the length of the smallest entry: magic, version, flags.
	MinLen = 3
)

// Flags of an entry.
const (
	FlagNotFound byte = 1 << 0 // the computation reported not found; no payload
	FlagZero     byte = 1 << 1 // the computation returned the zero value, cached as not found; no payload
	FlagDelta    byte = 1 << 2 // a delta field follows
	FlagExpiry   byte = 1 << 3 // an expiry field follows
	// FlagStale means the store keeps the entry past its logical expiry
	// (stale-while-revalidate): a reader must compare the expiry with the
	// clock even where the store hides expired entries itself.
	FlagStale byte = 1 << 4

	negative   = FlagNotFound | FlagZero
	knownFlags = FlagNotFound | FlagZero | FlagDelta | FlagExpiry | FlagStale
)

// Header is an entry's metadata. Encode sets FlagDelta and FlagExpiry
// itself, from Delta and Expiry.
type Header struct {
	Flags  byte
	Delta  int64 // nanoseconds; 0 for none
	Expiry int64 // Unix nanoseconds, kept to the millisecond (rounded up); 0 for none
}

// Negative reports whether the entry stands for "not found" (and so has
// no payload).
func (h Header) Negative() bool { return h.Flags&negative != 0 }

// Expired reports whether the entry's logical expiry is at or before now
// (Unix nanoseconds).
func (h Header) Expired(now int64) bool { return h.Expiry != 0 && now >= h.Expiry }

// Append appends h's encoding to b.
func (h Header) Append(b []byte) []byte {
	flags := h.Flags &^ (FlagDelta | FlagExpiry)
	if h.Delta > 0 {
		flags |= FlagDelta
	}
	if h.Expiry > 0 {
		flags |= FlagExpiry
	}
	b = append(b, Magic, Version, flags)
	if flags&FlagDelta != 0 {
		b = binary.AppendUvarint(b, uint64(h.Delta))
	}
	if flags&FlagExpiry != 0 {
		b = binary.AppendUvarint(b, uint64((h.Expiry+999_999)/1_000_000))
	}
	return b
}

// Encode returns a new entry: h followed by payload, in one allocation.
// A negative header takes no payload: Decode rejects one that has.
func Encode(h Header, payload []byte) []byte {
	b := make([]byte, 0, MinLen+2*binary.MaxVarintLen64+len(payload))
	return append(h.Append(b), payload...)
}

// ErrNotEntry is wrapped by Decode's error for bytes that do not begin
// with Magic: bytes written by something other than an entry-format cache.
var ErrNotEntry = errors.New("not in cachet's entry format")

// Decode splits b into header and payload; the payload aliases b. Its
// error says why b is not an entry of this version: no magic byte
// (ErrNotEntry), truncated, another version, unknown flags, or a negative
// entry with a payload.
func Decode(b []byte) (h Header, payload []byte, err error) {
	if len(b) == 0 || b[0] != Magic {
		return Header{}, nil, ErrNotEntry
	}
	if len(b) < MinLen {
		return Header{}, nil, fmt.Errorf("truncated entry header (%d bytes)", len(b))
	}
	if b[1] != Version {
		return Header{}, nil, fmt.Errorf("entry header version %d, this version of cachet reads %d", b[1], Version)
	}
	h.Flags = b[2]
	if h.Flags&^knownFlags != 0 {
		return Header{}, nil, fmt.Errorf("entry header with unknown flags %#02x", h.Flags&^knownFlags)
	}
	rest := b[MinLen:]
	if h.Flags&FlagDelta != 0 {
		d, n := binary.Uvarint(rest)
		if n <= 0 || d > 1<<62 {
			return Header{}, nil, errors.New("truncated or corrupt entry header (delta)")
		}
		h.Delta, rest = int64(d), rest[n:]
	}
	if h.Flags&FlagExpiry != 0 {
		ms, n := binary.Uvarint(rest)
		if n <= 0 || ms == 0 || ms > 1<<62/1_000_000 {
			return Header{}, nil, errors.New("truncated or corrupt entry header (expiry)")
		}
		h.Expiry, rest = int64(ms)*1_000_000, rest[n:]
	}
	if h.Negative() && len(rest) != 0 {
		return Header{}, nil, fmt.Errorf("negative entry with a %d-byte payload", len(rest))
	}
	return h, rest, nil
}
