// Package codec turns typed values into bytes and back for cachet.
//
// A [Codec] is chosen per cache and fixes the cache's value type:
//
//	c, err := cachet.New[string](s, codec.JSON[User](), nil) // Cache[string, User]
//
// Encoding and decoding failures are returned wrapped so that
// errors.Is(err, codec.ErrEncode) and errors.Is(err, codec.ErrDecode) hold;
// a codec never returns a half-written value or a zero value with a nil
// error.
package codec

import "errors"

// Codec encodes values of type V to bytes and decodes them back.
// Implementations must be safe for concurrent use.
type Codec[V any] interface {
	// Marshal returns the encoding of v. The returned slice is owned by
	// the caller. Failures wrap ErrEncode.
	Marshal(v V) ([]byte, error)
	// Unmarshal decodes data into *v. It must not retain data after it
	// returns. Failures wrap ErrDecode.
	Unmarshal(data []byte, v *V) error
}

var (
	// ErrEncode is wrapped by every encoding failure.
	ErrEncode = errors.New("codec: cannot encode value")
	// ErrDecode is wrapped by every decoding failure, such as a corrupt
	// or foreign stored value.
	ErrDecode = errors.New("codec: cannot decode value")
)
