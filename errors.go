package cachet

import (
	"errors"
	"strings"
	"unsafe"

	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/storeurl"
)

// Errors returned by a Cache. They are the store's and codec's sentinel
// errors re-exported, plus the cache's own; compare with errors.Is.
var (
	// ErrNotFound means the key holds no live value.
	ErrNotFound = store.ErrNotFound
	// ErrExists means Add found the key already present.
	ErrExists = store.ErrExists
	// ErrNotInteger means Increment found a value that is not an integer.
	ErrNotInteger = store.ErrNotInteger
	// ErrOverflow means Increment would overflow int64, or IncrementFloat
	// would give an infinite sum.
	ErrOverflow = store.ErrOverflow
	// ErrNotNumber means IncrementFloat found a value that is not a
	// number.
	ErrNotNumber = store.ErrNotNumber
	// ErrConflict means Update lost every compare-and-swap race for its
	// key (see UpdateAttempts).
	ErrConflict = store.ErrConflict
	// ErrClosed means the cache or its store has been closed.
	ErrClosed = store.ErrClosed
	// ErrInvalidKey means a key is empty or its key function failed.
	ErrInvalidKey = store.ErrInvalidKey
	// ErrInvalidValue means the store refused a value (nil, too large).
	ErrInvalidValue = store.ErrInvalidValue
	// ErrNotSupported means the store cannot perform the operation.
	ErrNotSupported = store.ErrNotSupported
	// ErrUnavailable means the store is known to be down: the cache's
	// breaker failed the operation at once after repeated connection
	// failures (see Breaker).
	ErrUnavailable = store.ErrUnavailable
	// ErrEncode means the codec could not encode a value.
	ErrEncode = codec.ErrEncode
	// ErrDecode means the codec could not decode a stored value.
	ErrDecode = codec.ErrDecode

	// ErrInvalidOption means New, Open or a configuration was given an
	// unusable option. It is the store/storeurl package's.
	ErrInvalidOption = storeurl.ErrInvalidOption
	// ErrInvalidTTL means a ttl argument was negative but not NoExpiry.
	ErrInvalidTTL = errors.New("cachet: invalid ttl")
)

// Error describes a failed cache operation: it names the operation and
// the store key, and wraps the cause. It is the store package's type.
type Error = store.Error

// notFound returns the error of a miss, an *Error of op and key wrapping
// ErrNotFound, with a copy of key: key may be lent (see getFind). A key
// of up to 48 bytes is copied into the error's own allocation, so that a
// miss costs one allocation, not two; the error is then of the smallest
// size class that holds the key, since a miss's cost is mostly its
// allocation.
func notFound(op, key string) error {
	var e *Error
	switch n := len(key); {
	case n == 0 || n > len(keyedError48{}.key):
		return &Error{Op: op, Key: strings.Clone(key), Err: ErrNotFound}
	case n <= len(keyedError16{}.key):
		x := new(keyedError16)
		copy(x.key[:], key)
		e, key = &x.Error, unsafe.String(&x.key[0], n)
	default:
		x := new(keyedError48)
		copy(x.key[:], key)
		e, key = &x.Error, unsafe.String(&x.key[0], n)
	}
	// key now points into e's allocation, whose bytes never change after
	// this: it keeps that allocation alive, which keeps nothing else.
	*e = Error{Op: op, Key: key, Err: ErrNotFound}
	return e
}

// keyedError16 and keyedError48 are an Error and the bytes of its Key in
// one allocation of 64 or 96 bytes (Error itself takes 48).
type (
	keyedError16 struct {
		Error
		key [16]byte
	}
	keyedError48 struct {
		Error
		key [48]byte
	}
)
