package codec

// Decoder is an optional interface that may be implemented by a Codec.
// Decode returns the value data encodes: what Unmarshal would store in a
// zero V. Like Unmarshal it must not keep data, nor modify it, and its
// failures wrap ErrDecode. Returning the value, rather than writing
// through a pointer, lets the caller keep its V where it likes (on its
// stack): a pointer passed to Unmarshal through the Codec interface makes
// the caller's V escape to the heap.
//
// If a Codec does not implement Decoder, the package-level [Decode] calls
// Unmarshal with a pointer to a new V.
//
// Implementations must be safe for concurrent use.
type Decoder[V any] interface {
	Decode(data []byte) (V, error)
}

// Appender is an optional interface that may be implemented by a Codec.
// Append appends the encoding of v to dst and returns the extended slice,
// which shares memory with nothing but dst (unlike what Marshal of Bytes
// returns), so that the caller may reuse it; dst may be nil. On failure,
// wrapping ErrEncode, the returned slice is nil. Callers that reuse one buffer for
// many encodings so save the allocation of each (the way
// encoding.BinaryAppender does for a single type).
//
// If a Codec does not implement Appender, the package-level [Append]
// appends the result of Marshal to dst.
//
// Implementations must be safe for concurrent use.
type Appender[V any] interface {
	Append(dst []byte, v V) ([]byte, error)
}

// Decode returns the value data decodes to with c: through c's Decode if
// c implements [Decoder], else through Unmarshal into a new V.
func Decode[V any](c Codec[V], data []byte) (V, error) {
	if d, ok := c.(Decoder[V]); ok {
		return d.Decode(data)
	}
	v := new(V)
	if err := c.Unmarshal(data, v); err != nil {
		var zero V
		return zero, err
	}
	return *v, nil
}

// Append appends the encoding of v with c to dst and returns the
// extended slice: through c's Append if c implements [Appender], else by
// appending what Marshal returns (one more copy). It returns nil and the
// codec's error on failure.
func Append[V any](c Codec[V], dst []byte, v V) ([]byte, error) {
	if a, ok := c.(Appender[V]); ok {
		return a.Append(dst, v)
	}
	b, err := c.Marshal(v)
	if err != nil {
		return nil, err
	}
	if dst == nil {
		dst = []byte{} // an empty encoding is still a value
	}
	return append(dst, b...), nil
}
