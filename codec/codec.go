package codec

import (
	"errors"
	"fmt"
)

// Codec encodes values of type V to bytes and decodes them back.
// Implementations must be safe for concurrent use.
//
// The codecs of this package also guarantee that a successful Unmarshal
// replaces *v (it never merges into what *v held) and a failed one leaves
// *v as it was; code that accepts any Codec should rely only on the
// error.
type Codec[V any] interface {
	// Marshal returns the encoding of v. The returned slice is owned by
	// the caller; the one documented exception in this package is Bytes,
	// whose encoding of a non-empty slice is that slice itself.
	// Failures wrap ErrEncode.
	Marshal(v V) ([]byte, error)
	// Unmarshal decodes data into *v. It must not modify data, nor
	// retain it after it returns: a store may lend it its own bytes.
	// Failures wrap ErrDecode.
	Unmarshal(data []byte, v *V) error
}

var (
	// ErrEncode is wrapped by every encoding failure.
	ErrEncode = errors.New("codec: cannot encode value")
	// ErrDecode is wrapped by every decoding failure, such as a corrupt
	// or foreign stored value.
	ErrDecode = errors.New("codec: cannot decode value")
)

// errNilTarget is wrapped (with ErrDecode) when Unmarshal is given a nil
// pointer: a programmer error, reported rather than panicking.
var errNilTarget = errors.New("Unmarshal into a nil pointer")

// encodeError wraps err, the underlying encoder's failure, with ErrEncode
// so that both stay reachable through errors.Is and errors.As.
func encodeError(err error) error {
	return fmt.Errorf("%w: %w", ErrEncode, err)
}

// decodeError wraps err, the underlying decoder's failure, with ErrDecode
// so that both stay reachable through errors.Is and errors.As.
func decodeError(err error) error {
	return fmt.Errorf("%w: %w", ErrDecode, err)
}
