package codec

// String returns a Codec that stores a string as its bytes, unchanged.
//
// Every byte sequence is a valid encoding (Go strings may hold any bytes,
// not only UTF-8), so Unmarshal never fails except on a nil target.
// Marshal copies s into a new slice and Unmarshal copies data into a new
// string: nothing is shared with the caller. The empty string encodes to
// an empty, non-nil slice, which stores accept as a value.
//
// The codec is safe for concurrent use.
func String() Codec[string] {
	return stringCodec{}
}

type stringCodec struct{}

func (stringCodec) Marshal(s string) ([]byte, error) {
	if s == "" {
		return []byte{}, nil
	}
	return []byte(s), nil
}

func (stringCodec) Unmarshal(data []byte, v *string) error {
	if v == nil {
		return decodeError(errNilTarget)
	}
	*v = string(data)
	return nil
}

// Decode implements Decoder: one copy of data, into the new string.
func (stringCodec) Decode(data []byte) (string, error) { return string(data), nil }

// Append implements Appender: one copy of s, into dst.
func (stringCodec) Append(dst []byte, s string) ([]byte, error) {
	if dst == nil {
		dst = []byte{} // the empty string still encodes to a non-nil slice
	}
	return append(dst, s...), nil
}

// Bytes returns a Codec that stores a []byte as it is.
//
// Aliasing rules:
//
//   - Marshal does not copy: for a non-empty b it returns b itself, so the
//     encoding shares memory with the caller's slice. This is safe in a
//     Cache because stores never keep the slice they are given (in-process
//     stores copy it, network stores send it) and nothing writes to it;
//     it does mean that b must not be modified while the Set that
//     encodes it is running, the same rule as for io.Writer.Write. A
//     caller that wants to modify the result of Marshal must copy it.
//     A nil or empty b encodes to a new empty, non-nil slice, because
//     stores reject a nil value.
//   - Unmarshal copies: *v receives a new slice that shares nothing with
//     data, as the Codec contract requires. (Stores already return fresh
//     slices, but data may also be a buffer that its owner reuses, such as
//     the decompression buffer of Compress.) A stored empty value decodes
//     to an empty, non-nil slice, never to nil.
//
// Every byte sequence is a valid encoding, so Unmarshal never fails except
// on a nil target.
//
// The codec is safe for concurrent use.
func Bytes() Codec[[]byte] {
	return bytesCodec{}
}

type bytesCodec struct{}

func (bytesCodec) Marshal(b []byte) ([]byte, error) {
	if len(b) == 0 {
		return []byte{}, nil
	}
	return b, nil
}

func (bytesCodec) Unmarshal(data []byte, v *[]byte) error {
	if v == nil {
		return decodeError(errNilTarget)
	}
	*v = append(make([]byte, 0, len(data)), data...)
	return nil
}

// Decode implements Decoder: one copy of data, into a new slice (empty
// and non-nil for an empty value).
func (bytesCodec) Decode(data []byte) ([]byte, error) {
	return append(make([]byte, 0, len(data)), data...), nil
}
