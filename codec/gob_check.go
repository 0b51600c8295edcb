package codec

import (
	"errors"
	"fmt"
)

// checkGobFraming walks data as a sequence of gob messages, each a
// length followed by that many bytes, without allocating, and reports a
// message whose length claims more bytes than data still holds.
//
// encoding/gob reads a message of up to 10 MB before noticing that its
// input is shorter, so seven bytes claiming a long message cost 10 MB.
// Counts and lengths inside the value are checked by checkGob.
func checkGobFraming(data []byte) error {
	for pos := 0; pos < len(data); {
		start := pos
		n, size, err := gobUint(data[pos:])
		if err != nil {
			return err
		}
		pos += size
		if left := uint64(len(data) - pos); n > left {
			return fmt.Errorf("gob: message of %d bytes at offset %d, but only %d bytes follow", n, start, left)
		}
		pos += int(n)
	}
	return nil
}

var errGobTruncated = errors.New("gob: value truncated")

// gobUint decodes the unsigned integer at the start of b as gob encodes
// it (a byte below 0x80 is the value; otherwise its negation is the count
// of big-endian bytes that follow) and returns it with its encoded size.
func gobUint(b []byte) (v uint64, size int, err error) {
	if len(b) == 0 {
		return 0, 0, errGobTruncated
	}
	if b[0] < 0x80 {
		return uint64(b[0]), 1, nil
	}
	n := -int(int8(b[0]))
	if n > 8 {
		return 0, 0, fmt.Errorf("gob: invalid unsigned integer header %#02x", b[0])
	}
	if len(b) < 1+n {
		return 0, 0, errGobTruncated
	}
	for _, c := range b[1 : 1+n] {
		v = v<<8 | uint64(c)
	}
	return v, 1 + n, nil
}
