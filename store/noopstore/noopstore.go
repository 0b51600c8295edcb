package noopstore

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/cachet-go/cachet/store"
)

// Store is a [store.Store] that keeps nothing. Writes succeed and are
// forgotten; reads miss. Input is still validated, contexts are still
// honoured and a closed Store still refuses every call, so that code that
// works over a Store behaves the same apart from the misses.
//
// The zero Store is ready to use. A Store is safe for concurrent use by
// multiple goroutines.
type Store struct {
	closed atomic.Bool
}

var _ store.Store = (*Store)(nil)

// New returns a Store.
func New() *Store { return new(Store) }

// begin makes the checks every operation starts with.
func (s *Store) begin(ctx context.Context, op store.Op, key string) error {
	if s.closed.Load() {
		return &store.Error{Op: op.String(), Key: key, Err: store.ErrClosed}
	}
	if err := ctx.Err(); err != nil {
		return &store.Error{Op: op.String(), Key: key, Err: err}
	}
	return nil
}

// checkKeys validates keys for a batch operation.
func checkKeys(op store.Op, keys []string) error {
	for _, k := range keys {
		if err := store.CheckKey(op.String(), k); err != nil {
			return err
		}
	}
	return nil
}

func firstKey(keys []string) string {
	if len(keys) == 0 {
		return ""
	}
	return keys[0]
}

// Get returns an error wrapping store.ErrNotFound.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	if err := s.begin(ctx, store.OpGet, key); err != nil {
		return nil, err
	}
	if err := store.CheckKey(store.OpGet.String(), key); err != nil {
		return nil, err
	}
	return nil, &store.Error{Op: store.OpGet.String(), Key: key, Err: store.ErrNotFound}
}

// GetMany returns one nil slot per key.
func (s *Store) GetMany(ctx context.Context, keys []string) ([][]byte, error) {
	if err := s.begin(ctx, store.OpGetMany, firstKey(keys)); err != nil {
		return nil, err
	}
	if err := checkKeys(store.OpGetMany, keys); err != nil {
		return nil, err
	}
	return make([][]byte, len(keys)), nil
}

// Set validates key and value and forgets them.
func (s *Store) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := s.begin(ctx, store.OpSet, key); err != nil {
		return err
	}
	if err := store.CheckKey(store.OpSet.String(), key); err != nil {
		return err
	}
	return store.CheckValue(store.OpSet.String(), key, value)
}

// SetMany validates the entries and forgets them.
func (s *Store) SetMany(ctx context.Context, entries []store.Entry, ttl time.Duration) error {
	var first string
	if len(entries) > 0 {
		first = entries[0].Key
	}
	if err := s.begin(ctx, store.OpSetMany, first); err != nil {
		return err
	}
	for _, e := range entries {
		if err := store.CheckKey(store.OpSetMany.String(), e.Key); err != nil {
			return err
		}
		if err := store.CheckValue(store.OpSetMany.String(), e.Key, e.Value); err != nil {
			return err
		}
	}
	return nil
}

// Add validates key and value and succeeds: the key is always absent.
func (s *Store) Add(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := s.begin(ctx, store.OpAdd, key); err != nil {
		return err
	}
	if err := store.CheckKey(store.OpAdd.String(), key); err != nil {
		return err
	}
	return store.CheckValue(store.OpAdd.String(), key, value)
}

// Delete returns 0: no key exists.
func (s *Store) Delete(ctx context.Context, keys ...string) (int, error) {
	if err := s.begin(ctx, store.OpDelete, firstKey(keys)); err != nil {
		return 0, err
	}
	return 0, checkKeys(store.OpDelete, keys)
}

// Exists reports false.
func (s *Store) Exists(ctx context.Context, key string) (bool, error) {
	if err := s.begin(ctx, store.OpExists, key); err != nil {
		return false, err
	}
	return false, store.CheckKey(store.OpExists.String(), key)
}

// Increment returns delta, as for a missing key.
func (s *Store) Increment(ctx context.Context, key string, delta int64) (int64, error) {
	if err := s.begin(ctx, store.OpIncrement, key); err != nil {
		return 0, err
	}
	if err := store.CheckKey(store.OpIncrement.String(), key); err != nil {
		return 0, err
	}
	return delta, nil
}

// Expire reports false: the key is always missing.
func (s *Store) Expire(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if err := s.begin(ctx, store.OpExpire, key); err != nil {
		return false, err
	}
	return false, store.CheckKey(store.OpExpire.String(), key)
}

// TTL returns an error wrapping store.ErrNotFound.
func (s *Store) TTL(ctx context.Context, key string) (time.Duration, error) {
	if err := s.begin(ctx, store.OpTTL, key); err != nil {
		return 0, err
	}
	if err := store.CheckKey(store.OpTTL.String(), key); err != nil {
		return 0, err
	}
	return 0, &store.Error{Op: store.OpTTL.String(), Key: key, Err: store.ErrNotFound}
}

// Clear does nothing.
func (s *Store) Clear(ctx context.Context, prefix string) error {
	return s.begin(ctx, store.OpClear, prefix)
}

// Close marks the store closed: later calls of any method return
// store.ErrClosed.
func (s *Store) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return &store.Error{Op: store.OpClose.String(), Err: store.ErrClosed}
	}
	return nil
}
