package store

import (
	"bytes"
	"context"
	"errors"
	"time"
)

// This file holds the consumer side of the optional interfaces: each
// function uses the capability when a store in the chain has it (found
// with As, through any middleware) and otherwise falls back, in the one
// way documented on the interface.

// CompareAndDelete deletes key from s only while it holds value and
// reports whether it did. If s, or a store it wraps, implements
// [CompareAndDeleter], its CompareAndDelete is called and the deletion is
// atomic. Otherwise CompareAndDelete reads key with Get, and calls Delete
// when the value matches: not atomic (see CompareAndDeleter). A missing
// key gives false and no error in both cases.
func CompareAndDelete(ctx context.Context, s Store, key string, value []byte) (bool, error) {
	if cad, ok := As[CompareAndDeleter](s); ok {
		return cad.CompareAndDelete(ctx, key, value)
	}
	if err := CheckValue(OpCompareAndDelete.String(), key, value); err != nil {
		return false, err
	}
	b, err := s.Get(ctx, key)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil || !bytes.Equal(b, value) {
		return false, err
	}
	n, err := s.Delete(ctx, key)
	return n > 0, err
}

// IsInProcess reports whether s, or a store it wraps, implements
// [InProcess]: its operations never wait on I/O, so deadlines are not
// needed. A store without InProcess is treated as one that may wait.
func IsInProcess(s Store) bool {
	_, ok := As[InProcess](s)
	return ok
}

// pingKey is the key Ping's fallback asks about.
const pingKey = "cachet:ping"

// Ping checks that s answers. If s, or a store it wraps, implements
// [Pinger], its Ping is called. Otherwise Ping calls Exists for a probe
// key through s (and its middleware), and returns its error: whether the
// key exists does not matter.
func Ping(ctx context.Context, s Store) error {
	if p, ok := As[Pinger](s); ok {
		return p.Ping(ctx)
	}
	_, err := s.Exists(ctx, pingKey)
	return err
}

// GetFunc calls f with the value stored under key in s and returns f's
// error as it is; when key holds no live value, f is not called and the
// error is Get's (wrapping ErrNotFound for a miss). f must not modify the
// slice, nor keep it after it returns. If s itself implements [Lender],
// its GetFunc lends the stored bytes without a copy. Otherwise GetFunc
// calls s.Get and f with the copy it returns.
//
// Unlike [As], GetFunc does not look for a Lender through Unwrap: the
// wrapper s may observe or change Get (count it, log it, fail it open),
// and reading the store below it would bypass that. See [Lender] for how a
// wrapper passes the capability on.
func GetFunc(ctx context.Context, s Store, key string, f func(value []byte) error) error {
	if l, ok := s.(Lender); ok {
		return l.GetFunc(ctx, key, f)
	}
	b, err := s.Get(ctx, key)
	if err != nil {
		return err
	}
	return f(b)
}

// GetVersion reads key and its version token through the [Swapper] of s
// (or of a store it wraps). A store without one gives an error wrapping
// [ErrNotSupported].
func GetVersion(ctx context.Context, s Store, key string) (value, version []byte, err error) {
	if sw, ok := As[Swapper](s); ok {
		return sw.GetVersion(ctx, key)
	}
	return nil, nil, Errorf(OpGetVersion.String(), key, ErrNotSupported)
}

// CompareAndSwap writes value under key only if it is unchanged since the
// GetVersion that returned version, through the [Swapper] of s (or of a
// store it wraps). A store without one gives an error wrapping
// [ErrNotSupported].
func CompareAndSwap(ctx context.Context, s Store, key string, version, value []byte, ttl time.Duration) (bool, error) {
	if sw, ok := As[Swapper](s); ok {
		return sw.CompareAndSwap(ctx, key, version, value, ttl)
	}
	return false, Errorf(OpCompareAndSwap.String(), key, ErrNotSupported)
}

// IncrementFloat adds delta to the number under key through the
// [FloatIncrementer] of s (or of a store it wraps). A store without one
// gives an error wrapping [ErrNotSupported].
func IncrementFloat(ctx context.Context, s Store, key string, delta float64) (float64, error) {
	if fi, ok := As[FloatIncrementer](s); ok {
		return fi.IncrementFloat(ctx, key, delta)
	}
	return 0, Errorf(OpIncrementFloat.String(), key, ErrNotSupported)
}
