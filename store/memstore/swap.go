package memstore

import (
	"bytes"
	"context"
	"time"

	"github.com/maypok86/otter/v2"

	"github.com/cachet-go/cachet/internal/incrfloat"
	"github.com/cachet-go/cachet/store"
)

var (
	_ store.Swapper          = (*Store)(nil)
	_ store.FloatIncrementer = (*Store)(nil)
)

// GetVersion returns a copy of the value stored under key and its version
// token, or an error wrapping store.ErrNotFound. The token is the value
// itself (the same slice): CompareAndSwap compares values. It implements
// store.Swapper.
func (s *Store) GetVersion(ctx context.Context, key string) (value, version []byte, err error) {
	b, err := s.get(ctx, store.OpGetVersion, key)
	if err != nil {
		return nil, nil, err
	}
	return b, b, nil
}

// get is Get named op.
func (s *Store) get(ctx context.Context, op store.Op, key string) ([]byte, error) {
	if err := s.begin(ctx, op, key); err != nil {
		return nil, err
	}
	if err := store.CheckKey(op.String(), key); err != nil {
		return nil, err
	}
	e, ok := s.cache.GetEntry(key)
	if !ok || !liveAt(e) {
		return nil, notFound(op, key)
	}
	return clone(e.Value.value), nil
}

// CompareAndSwap stores a copy of value under key with ttl only if key
// still holds a live value equal to version (or, for a nil version, holds
// none), atomically, and reports whether it did. It implements
// store.Swapper.
func (s *Store) CompareAndSwap(ctx context.Context, key string, version, value []byte, ttl time.Duration) (bool, error) {
	if err := s.begin(ctx, store.OpCompareAndSwap, key); err != nil {
		return false, err
	}
	if err := s.checkEntry(store.OpCompareAndSwap, key, value); err != nil {
		return false, err
	}
	swapped := false
	s.cache.Compute(key, func(old item, found bool) (item, otter.ComputeOp) {
		live := found && s.live(old)
		if (version == nil && live) || (version != nil && (!live || !bytes.Equal(old.value, version))) {
			return old, otter.CancelOp
		}
		swapped = true
		return item{value: clone(value), exp: s.expiry(ttl)}, otter.WriteOp
	})
	return swapped, nil
}

// IncrementFloat atomically adds delta to the number stored under key (0
// when missing) and returns the result, stored as Redis's INCRBYFLOAT
// stores it (see store.FloatIncrementer). The key keeps its ttl.
func (s *Store) IncrementFloat(ctx context.Context, key string, delta float64) (float64, error) {
	op := store.OpIncrementFloat
	if err := s.begin(ctx, op, key); err != nil {
		return 0, err
	}
	if err := store.CheckKey(op.String(), key); err != nil {
		return 0, err
	}
	if err := incrfloat.CheckDelta(delta); err != nil {
		return 0, store.Errorf(op.String(), key, err)
	}
	var (
		sum float64
		err error
	)
	s.cache.Compute(key, func(old item, found bool) (item, otter.ComputeOp) {
		var (
			cur []byte
			exp int64
		)
		if found && s.live(old) {
			cur, exp = old.value, old.exp
		}
		var text []byte
		text, sum, err = incrfloat.Add(cur, delta)
		if text == nil {
			return old, otter.CancelOp
		}
		return item{value: text, exp: exp}, otter.WriteOp
	})
	return sum, store.Errorf(op.String(), key, err)
}
