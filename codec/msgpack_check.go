package codec

import (
	"encoding/binary"
	"fmt"
)

// maxNesting is how deeply MessagePack arrays and maps may nest in a value
// that Msgpack's Unmarshal accepts, the limit encoding/json also applies. It bounds the decoders' recursion, whose stack grows with each
// level, on input that is only brackets.
const maxNesting = 10000

// checkMsgpack walks data as exactly one MessagePack value, without
// allocating, and reports the first thing that makes it unsafe or
// impossible to decode: a header that claims more elements or bytes than
// the rest of data could hold (every element takes at least one byte, so
// a claim beyond that is a lie), nesting deeper than maxNesting, a byte
// that starts no value, a truncated value, or data after the value.
//
// It exists because msgpack v5.4.1 trusts length headers: six bytes
// claiming an array of 2^32-1 int64 make it allocate 32 GiB at once, a
// fatal out-of-memory that no recover catches. After checkMsgpack, every
// allocation the decoder makes is bounded by the input: the elements that
// all open arrays and maps still expect never outnumber the bytes left.
func checkMsgpack(data []byte) error {
	pos := 0
	// need counts the values still expected: the top-level value plus the
	// unread elements of every open array and map.
	var need uint64 = 1
	// open holds the unread elements of each open array or map, innermost
	// last; its first levels live on the stack.
	var openBuf [32]uint64
	open := openBuf[:0]
	for need > 0 {
		if pos >= len(data) {
			return fmt.Errorf("msgpack: value truncated after %d bytes", len(data))
		}
		start := pos
		c := data[pos]
		pos++
		need--
		if len(open) > 0 {
			open[len(open)-1]--
		}
		var (
			kind  string // what a length header announces
			n     uint64 // elements (array, map) or bytes (the others)
			items uint64 // values n adds to need: n for arrays, 2n for maps
		)
		switch {
		case c <= 0x7f, c >= 0xe0, c == 0xc0, c == 0xc2, c == 0xc3: // fixint, nil, bool
		case c >= 0x80 && c <= 0x8f:
			kind, n = "map", uint64(c&0x0f)
		case c >= 0x90 && c <= 0x9f:
			kind, n = "array", uint64(c&0x0f)
		case c >= 0xa0 && c <= 0xbf:
			kind, n = "string", uint64(c&0x1f)
		case c == 0xc1:
			return fmt.Errorf("msgpack: byte %#02x at offset %d starts no value", c, start)
		case c == 0xcc, c == 0xd0: // uint8, int8
			n = 1
		case c == 0xcd, c == 0xd1: // uint16, int16
			n = 2
		case c == 0xca, c == 0xce, c == 0xd2: // float32, uint32, int32
			n = 4
		case c == 0xcb, c == 0xcf, c == 0xd3: // float64, uint64, int64
			n = 8
		case c >= 0xd4 && c <= 0xd8: // fixext 1, 2, 4, 8, 16: type byte, data
			n = 1 + 1<<(c-0xd4)
		default:
			// Headers with a length field: size bytes of big-endian length.
			var size int
			switch c {
			case 0xc4, 0xc5, 0xc6:
				kind, size = "binary", 1<<(c-0xc4)
			case 0xc7, 0xc8, 0xc9:
				kind, size = "extension", 1<<(c-0xc7)
			case 0xd9, 0xda, 0xdb:
				kind, size = "string", 1<<(c-0xd9)
			case 0xdc, 0xdd:
				kind, size = "array", 2<<(c-0xdc)
			case 0xde, 0xdf:
				kind, size = "map", 2<<(c-0xde)
			}
			if len(data)-pos < size {
				return fmt.Errorf("msgpack: value truncated after %d bytes", len(data))
			}
			switch size {
			case 1:
				n = uint64(data[pos])
			case 2:
				n = uint64(binary.BigEndian.Uint16(data[pos:]))
			case 4:
				n = uint64(binary.BigEndian.Uint32(data[pos:]))
			}
			pos += size
			if kind == "extension" {
				n++ // the type byte
			}
		}
		left := uint64(len(data) - pos)
		switch kind {
		case "array", "map":
			items = n
			if kind == "map" {
				items = 2 * n
			}
			if need+items > left {
				what := fmt.Sprintf("array of %d elements", n)
				if kind == "map" {
					what = fmt.Sprintf("map of %d entries", n)
				}
				return fmt.Errorf("msgpack: %s at offset %d, but only %d bytes follow", what, start, left)
			}
		default:
			if n > left {
				if kind == "" { // a fixed-size number or fixext
					return fmt.Errorf("msgpack: value truncated after %d bytes", len(data))
				}
				if kind == "extension" {
					n-- // report the data length, as the header gives it
				}
				return fmt.Errorf("msgpack: %s of %d bytes at offset %d, but only %d bytes follow", kind, n, start, left)
			}
			pos += int(n)
		}
		if items > 0 {
			// A container stays open, its parents with it, until its
			// last element has been read.
			if len(open) == maxNesting {
				return fmt.Errorf("msgpack: arrays and maps nested deeper than %d levels at offset %d", maxNesting, start)
			}
			open = append(open, items)
			need += items
			continue
		}
		for len(open) > 0 && open[len(open)-1] == 0 {
			open = open[:len(open)-1]
		}
	}
	if pos != len(data) {
		return fmt.Errorf("%w (%d bytes)", errTrailingData, len(data)-pos)
	}
	return nil
}
