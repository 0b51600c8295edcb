package noopstore

import (
	"context"
	"time"

	"github.com/cachet-go/cachet/internal/incrfloat"
	"github.com/cachet-go/cachet/store"
)

var (
	_ store.Swapper          = (*Store)(nil)
	_ store.FloatIncrementer = (*Store)(nil)
)

// GetVersion returns an error wrapping store.ErrNotFound: the key is
// always missing. It implements store.Swapper.
func (s *Store) GetVersion(ctx context.Context, key string) (value, version []byte, err error) {
	if err := s.begin(ctx, store.OpGetVersion, key); err != nil {
		return nil, nil, err
	}
	if err := store.CheckKey(store.OpGetVersion.String(), key); err != nil {
		return nil, nil, err
	}
	return nil, nil, &store.Error{Op: store.OpGetVersion.String(), Key: key, Err: store.ErrNotFound}
}

// CompareAndSwap accepts and drops the write when version is nil (the key
// is still missing, as GetVersion saw it), and reports false for any other
// version, which no GetVersion of this Store returned. It implements
// store.Swapper.
func (s *Store) CompareAndSwap(ctx context.Context, key string, version, value []byte, ttl time.Duration) (bool, error) {
	op := store.OpCompareAndSwap.String()
	if err := s.begin(ctx, store.OpCompareAndSwap, key); err != nil {
		return false, err
	}
	if err := store.CheckKey(op, key); err != nil {
		return false, err
	}
	if err := store.CheckValue(op, key, value); err != nil {
		return false, err
	}
	return version == nil, nil
}

// IncrementFloat returns delta as a missing key would give it, stored
// text included (delta 1e-20 gives 0), and keeps nothing. It implements
// store.FloatIncrementer.
func (s *Store) IncrementFloat(ctx context.Context, key string, delta float64) (float64, error) {
	op := store.OpIncrementFloat.String()
	if err := s.begin(ctx, store.OpIncrementFloat, key); err != nil {
		return 0, err
	}
	if err := store.CheckKey(op, key); err != nil {
		return 0, err
	}
	if err := incrfloat.CheckDelta(delta); err != nil {
		return 0, store.Errorf(op, key, err)
	}
	_, sum, err := incrfloat.Add(nil, delta)
	return sum, store.Errorf(op, key, err)
}
