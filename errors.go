package cachet

import (
	"errors"

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
