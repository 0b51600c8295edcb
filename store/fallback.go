package store

import (
	"bytes"
	"context"
	"errors"
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
