package memstore

import (
	"bytes"
	"context"

	"github.com/cachet-go/cachet/store"
	"github.com/maypok86/otter/v2"
)

var _ store.CompareAndDeleter = (*Store)(nil)

// CompareAndDelete deletes key only if it holds a live value equal to
// value, atomically, and reports whether it did. It implements
// store.CompareAndDeleter.
func (s *Store) CompareAndDelete(ctx context.Context, key string, value []byte) (bool, error) {
	if err := s.begin(ctx, store.OpCompareAndDelete, key); err != nil {
		return false, err
	}
	if err := s.checkEntry(store.OpCompareAndDelete, key, value); err != nil {
		return false, err
	}
	deleted := false
	s.cache.Compute(key, func(old item, found bool) (item, otter.ComputeOp) {
		if found && s.live(old) && bytes.Equal(old.value, value) {
			deleted = true
			return old, otter.InvalidateOp
		}
		return old, otter.CancelOp
	})
	return deleted, nil
}
