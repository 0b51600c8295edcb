package memcachestore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/cachet-go/cachet/internal/incrfloat"
	"github.com/cachet-go/cachet/store"
)

var (
	_ store.Swapper          = (*Store)(nil)
	_ store.FloatIncrementer = (*Store)(nil)
)

// GetVersion returns the value stored under key and its version token,
// memcached's CAS id (gets), or an error wrapping store.ErrNotFound. A key
// of a declared namespace is read under the namespace's generation, as by
// Get. It implements store.Swapper.
func (s *Store) GetVersion(ctx context.Context, key string) (value, version []byte, err error) {
	op := store.OpGetVersion.String()
	if err := s.begin(ctx, op, key); err != nil {
		return nil, nil, err
	}
	it, err := s.getItem(ctx, key)
	if err != nil {
		return nil, nil, fail(op, key, err)
	}
	return it.Value, binary.BigEndian.AppendUint64(nil, it.CasID), nil
}

// CompareAndSwap stores value under key with ttl (rounded as in Set) only
// if the item is unchanged since the GetVersion that returned version
// (memcached's cas), or, for a nil version, only if key is missing
// (memcached's add), and reports whether it did. Any write of the item
// since, even of the same bytes, changes its CAS id and gives false, as
// does a Clear of the key's namespace (its new generation holds another
// item, or none). One round trip, plus a generation lookup as for Get. It
// implements store.Swapper.
func (s *Store) CompareAndSwap(ctx context.Context, key string, version, value []byte, ttl time.Duration) (bool, error) {
	op := store.OpCompareAndSwap.String()
	if version == nil {
		err := s.put(ctx, op, key, value, ttl, s.client.Add)
		if errors.Is(err, memcache.ErrNotStored) {
			return false, nil
		}
		return err == nil, fail(op, key, err)
	}
	if err := s.begin(ctx, op, key); err != nil {
		return false, err
	}
	if err := store.CheckValue(op, key, value); err != nil {
		return false, err
	}
	if len(version) != 8 {
		return false, store.Errorf(op, key, fmt.Errorf("%w: version %q did not come from a memcachestore GetVersion", store.ErrInvalidValue, show(version)))
	}
	pk, ok, err := s.readKey(ctx, key)
	if err != nil {
		return false, fail(op, key, err)
	}
	if !ok {
		return false, nil // the namespace has no generation: the item is gone
	}
	exp, rec := expiry(ttl)
	it := &memcache.Item{Key: pk, Value: value, Flags: rec, Expiration: exp, CasID: binary.BigEndian.Uint64(version)}
	if s.async(ctx) {
		it.Value = bytes.Clone(value)
	}
	err = s.call(ctx, func() error { return s.client.CompareAndSwap(it) })
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, memcache.ErrCASConflict), errors.Is(err, memcache.ErrNotStored), errors.Is(err, memcache.ErrCacheMiss):
		return false, nil
	}
	return false, fail(op, key, err)
}

// IncrementFloat atomically adds delta to the number stored under key and
// returns the new value, stored as Redis's INCRBYFLOAT stores it (see
// store.FloatIncrementer). memcached has no such command, so it reads the
// item with gets and writes the new text with cas, retrying on conflict,
// as Increment does; a missing key is created with add, without expiry,
// and an existing key keeps the expiry the Store recorded in its flags.
// After maxCASAttempts lost races it gives an error wrapping
// store.ErrConflict.
func (s *Store) IncrementFloat(ctx context.Context, key string, delta float64) (float64, error) {
	op := store.OpIncrementFloat.String()
	if err := s.begin(ctx, op, key); err != nil {
		return 0, err
	}
	if err := incrfloat.CheckDelta(delta); err != nil {
		return 0, store.Errorf(op, key, err)
	}
	pk, err := s.writeKey(ctx, key)
	if err != nil {
		return 0, fail(op, key, err)
	}
	for attempt := 0; attempt < maxCASAttempts; attempt++ {
		if err := ctx.Err(); err != nil {
			return 0, store.Errorf(op, key, err)
		}
		it, err := s.get1(ctx, pk)
		if errors.Is(err, memcache.ErrCacheMiss) {
			text, sum, aerr := incrfloat.Add(nil, delta)
			if text == nil {
				return 0, store.Errorf(op, key, aerr)
			}
			err = s.call(ctx, func() error { return s.client.Add(&memcache.Item{Key: pk, Value: text}) })
			if errors.Is(err, memcache.ErrNotStored) {
				continue // created meanwhile: add to that
			}
			if err != nil {
				return 0, fail(op, key, err)
			}
			return sum, store.Errorf(op, key, aerr)
		}
		if err != nil {
			return 0, fail(op, key, err)
		}
		text, sum, aerr := incrfloat.Add(it.Value, delta)
		if text == nil {
			return 0, store.Errorf(op, key, aerr)
		}
		it.Value = text
		it.Expiration = recorded(it.Flags)
		err = s.call(ctx, func() error { return s.client.CompareAndSwap(it) })
		switch {
		case err == nil:
			return sum, store.Errorf(op, key, aerr)
		case errors.Is(err, memcache.ErrCASConflict), errors.Is(err, memcache.ErrNotStored), errors.Is(err, memcache.ErrCacheMiss):
			continue // changed, evicted or deleted meanwhile: read again
		default:
			return 0, fail(op, key, err)
		}
	}
	return 0, store.Errorf(op, key, fmt.Errorf("%w: gave up after %d compare-and-swap conflicts", store.ErrConflict, maxCASAttempts))
}
