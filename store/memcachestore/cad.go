package memcachestore

import (
	"bytes"
	"context"
	"errors"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/cachet-go/cachet/store"
)

var _ store.CompareAndDeleter = (*Store)(nil)

// testHookCompared, set only by tests, runs in CompareAndDelete between
// the compare and the cas, with the physical key.
var testHookCompared func(pk string)

// CompareAndDelete deletes key only if it holds value, atomically, and
// reports whether it did. It implements store.CompareAndDeleter.
//
// memcached's text protocol has no conditional delete, so it reads the
// item with gets and replaces it, with cas, by an empty item that expires
// at once: the cas fails, and nothing is deleted, if anyone wrote the key
// in between. Two or three round trips.
func (s *Store) CompareAndDelete(ctx context.Context, key string, value []byte) (bool, error) {
	op := store.OpCompareAndDelete.String()
	if err := s.begin(ctx, op, key); err != nil {
		return false, err
	}
	if err := store.CheckValue(op, key, value); err != nil {
		return false, err
	}
	pk, ok, err := s.readKey(ctx, key)
	if err != nil {
		return false, fail(op, key, err)
	}
	if !ok {
		return false, nil
	}
	it, err := s.get1(ctx, pk)
	if errors.Is(err, memcache.ErrCacheMiss) {
		return false, nil
	}
	if err != nil {
		return false, fail(op, key, err)
	}
	if !bytes.Equal(it.Value, value) {
		return false, nil
	}
	if testHookCompared != nil {
		testHookCompared(pk)
	}
	// A negative expiration makes memcached expire the item immediately.
	it.Value = []byte{}
	it.Expiration = -1
	err = s.call(ctx, func() error { return s.client.CompareAndSwap(it) })
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, memcache.ErrCASConflict), errors.Is(err, memcache.ErrNotStored), errors.Is(err, memcache.ErrCacheMiss):
		return false, nil
	}
	return false, fail(op, key, err)
}
