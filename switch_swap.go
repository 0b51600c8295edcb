package cachet

import (
	"context"
	"time"

	"github.com/cachet-go/cachet/store"
)

// The kill switch covers Update and IncrementFloat too: while off they
// act on the noopstore (Update's fn sees a missing key and its result is
// dropped; IncrementFloat returns delta), and while on they reach the
// optional interface of the store beneath, or ErrNotSupported.

var (
	_ store.Swapper          = (*switchStore)(nil)
	_ store.FloatIncrementer = (*switchStore)(nil)
)

func (s *switchStore) GetVersion(ctx context.Context, key string) (value, version []byte, err error) {
	if st := s.state.Load(); st != switchOn {
		if st == switchClosed {
			return nil, nil, closedOp(store.OpGetVersion, key)
		}
		return s.noop.GetVersion(ctx, key)
	}
	return store.GetVersion(ctx, s.Store, key)
}

func (s *switchStore) CompareAndSwap(ctx context.Context, key string, version, value []byte, ttl time.Duration) (bool, error) {
	if st := s.state.Load(); st != switchOn {
		if st == switchClosed {
			return false, closedOp(store.OpCompareAndSwap, key)
		}
		return s.noop.CompareAndSwap(ctx, key, version, value, ttl)
	}
	return store.CompareAndSwap(ctx, s.Store, key, version, value, ttl)
}

func (s *switchStore) IncrementFloat(ctx context.Context, key string, delta float64) (float64, error) {
	if st := s.state.Load(); st != switchOn {
		if st == switchClosed {
			return 0, closedOp(store.OpIncrementFloat, key)
		}
		return s.noop.IncrementFloat(ctx, key, delta)
	}
	return store.IncrementFloat(ctx, s.Store, key, delta)
}
