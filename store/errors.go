package store

import (
	"errors"
	"fmt"
)

// Sentinel errors shared by every backend. Compare with errors.Is: the
// errors returned by stores wrap these with the operation and key.
var (
	// ErrNotFound means the key holds no live value.
	ErrNotFound = errors.New("store: key not found")
	// ErrExists means Add found the key already present.
	ErrExists = errors.New("store: key already exists")
	// ErrNotInteger means Increment found a value that is not a decimal
	// integer.
	ErrNotInteger = errors.New("store: value is not an integer")
	// ErrOverflow means Increment would overflow int64, or IncrementFloat
	// would give an infinite or NaN result.
	ErrOverflow = errors.New("store: increment would overflow")
	// ErrNotNumber means IncrementFloat found a value that is not a
	// decimal number (see [FloatIncrementer]).
	ErrNotNumber = errors.New("store: value is not a number")
	// ErrConflict means a compare-and-swap lost: the key changed between
	// the read and the write (see [Swapper]).
	ErrConflict = errors.New("store: key changed concurrently")
	// ErrClosed means the store has been closed.
	ErrClosed = errors.New("store: closed")
	// ErrInvalidKey means a key is empty or otherwise unusable.
	ErrInvalidKey = errors.New("store: invalid key")
	// ErrInvalidValue means a value is unusable, such as a nil value or
	// one larger than the backend accepts.
	ErrInvalidValue = errors.New("store: invalid value")
	// ErrNotSupported means the backend cannot perform the operation as
	// asked (for example, reading a ttl back from memcached).
	ErrNotSupported = errors.New("store: operation not supported")
	// ErrUnavailable means the store is known to be unreachable: a circuit
	// breaker (cachet.Breaker) failed the operation at once, without
	// trying the store, after repeated connection failures.
	ErrUnavailable = errors.New("store: unavailable")
)

// Error describes a failed store operation. Backends return it (usually via
// [Errorf]) so that messages name the operation and key while errors.Is
// still finds the sentinel or backend error in Err.
type Error struct {
	Op  string // operation, e.g. "get"
	Key string // key, or the first key of a batch; may be empty
	Err error  // the underlying error
}

// Error returns "cachet: op "key": err".
func (e *Error) Error() string {
	if e.Key == "" {
		return "cachet: " + e.Op + ": " + e.Err.Error()
	}
	return fmt.Sprintf("cachet: %s %q: %v", e.Op, e.Key, e.Err)
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error for op and key wrapping err. When err is nil it
// returns nil, and when err is already an *Error it is returned as is so
// that wrapping layers do not repeat themselves.
func Errorf(op, key string, err error) error {
	if err == nil || hasError(err) {
		return err
	}
	return &Error{Op: op, Key: key, Err: err}
}

// hasError reports whether err's tree holds an *Error: what errors.As
// with an **Error target finds, without its reflection and without an
// allocation for the target, since Errorf runs on every failed operation
// (every miss among them).
func hasError(err error) bool {
	for err != nil {
		switch e := err.(type) {
		case *Error:
			return true
		case interface{ As(any) bool }:
			var target *Error
			if e.As(&target) {
				return true
			}
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, err := range u.Unwrap() {
				if hasError(err) {
					return true
				}
			}
			return false
		default:
			return false
		}
	}
	return false
}

// CheckKey returns an error wrapping ErrInvalidKey when key is empty.
// Backends call it at the start of every keyed operation.
func CheckKey(op, key string) error {
	if key == "" {
		return &Error{Op: op, Err: fmt.Errorf("%w: empty key", ErrInvalidKey)}
	}
	return nil
}

// CheckValue returns an error wrapping ErrInvalidValue when value is nil.
// An empty non-nil value is valid.
func CheckValue(op, key string, value []byte) error {
	if value == nil {
		return &Error{Op: op, Key: key, Err: fmt.Errorf("%w: nil value", ErrInvalidValue)}
	}
	return nil
}
