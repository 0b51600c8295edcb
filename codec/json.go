package codec

import "encoding/json"

// JSON returns a Codec that encodes V with encoding/json.
//
// Everything encoding/json accepts works, including types implementing
// json.Marshaler and json.Unmarshaler, and struct tags. Values JSON cannot
// represent give ErrEncode: channels, functions, complex numbers, NaN and
// ±Inf floats, maps with unsupported key types. Note the usual JSON
// round-trip differences: invalid UTF-8 in strings is replaced by U+FFFD,
// time.Time keeps its offset but not its *time.Location name nor its
// monotonic reading, and an interface-typed V (such as any) decodes to
// map[string]any, []any, float64, string, bool or nil.
//
// Unmarshal decodes into a fresh V and stores it in *v only on success,
// so *v is replaced rather than merged into, and left unchanged on
// failure. Trailing data after the JSON value is an error (ErrDecode).
//
// The codec is safe for concurrent use.
func JSON[V any]() Codec[V] {
	return jsonCodec[V]{}
}

type jsonCodec[V any] struct{}

func (jsonCodec[V]) Marshal(v V) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, encodeError(err)
	}
	return b, nil
}

func (c jsonCodec[V]) Unmarshal(data []byte, v *V) error {
	if v == nil {
		return decodeError(errNilTarget)
	}
	tmp, err := c.Decode(data)
	if err != nil {
		return err
	}
	*v = tmp
	return nil
}

// Decode implements Decoder: the V it returns is the only one it
// allocates.
func (jsonCodec[V]) Decode(data []byte) (V, error) {
	tmp := new(V)
	if err := json.Unmarshal(data, tmp); err != nil {
		var zero V
		return zero, decodeError(err)
	}
	return *tmp, nil
}
