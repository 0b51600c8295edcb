// Package lease is the stampede lease of memoized functions: a key taken
// with the store's atomic Add under a random token, so that one process
// computes a value while the others wait, and released only by its owner.
//
// Release uses store.CompareAndDeleter when the store, or a store it
// wraps (found with store.As), has it: only the owner can then release the
// lease. Otherwise it falls back to a Get, a comparison and a Delete,
// which leaves a short window in which a lease taken over after this one
// expired can be removed. That fallback is written here and nowhere else.
package lease

import (
	"context"
	"crypto/rand"
	"errors"
	mrand "math/rand/v2"
	"time"

	"github.com/cachet-go/cachet/internal/deadline"
	"github.com/cachet-go/cachet/store"
)

// Lease is a lease this process holds. It is not safe for concurrent use.
type Lease struct {
	s     store.Store
	key   string
	token []byte
}

// Take tries to take the lease key for ttl with one Add of a fresh random
// token. If another holder has it, the error wraps store.ErrExists; other
// errors are the store's.
func Take(ctx context.Context, s store.Store, key string, ttl time.Duration) (*Lease, error) {
	token := []byte(rand.Text())
	if err := s.Add(ctx, key, token, ttl); err != nil {
		return nil, err
	}
	return &Lease{s: s, key: key, token: token}, nil
}

// Key returns the store key of the lease.
func (l *Lease) Key() string { return l.key }

// Release deletes the lease if the store still holds this lease's token,
// and reports whether it did. A lease that expired, or that another
// process has taken over since, is left alone (but see the package
// comment for stores without store.CompareAndDeleter).
func (l *Lease) Release(ctx context.Context) (bool, error) {
	return store.CompareAndDelete(ctx, l.s, l.key, l.token)
}

// Backoff bounds of Acquire: the first wait after a failed Take is about
// FirstWait, each later one doubles, up to MaxWait.
const (
	FirstWait = 2 * time.Millisecond
	MaxWait   = 100 * time.Millisecond
)

// Acquire takes the lease key for ttl, waiting while another holder has
// it: after each failed Take it sleeps a jittered, growing wait (drawn
// uniformly from [w/2, w], w starting at FirstWait and doubling up to
// MaxWait), so that waiters spread out instead of polling in step. Each
// Take is bounded by opTimeout (0: none) unless ctx ends earlier. It
// returns when it holds the lease, when ctx ends (an error wrapping
// ctx's), or on a store error other than store.ErrExists.
func Acquire(ctx context.Context, s store.Store, key string, ttl, opTimeout time.Duration) (*Lease, error) {
	wait := FirstWait
	var timer *time.Timer
	for {
		tctx, cancel := deadline.Bound(ctx, opTimeout)
		l, err := Take(tctx, s, key, ttl)
		cancel()
		if err == nil {
			return l, nil
		}
		if !errors.Is(err, store.ErrExists) {
			if cerr := ctx.Err(); cerr != nil {
				return nil, cerr
			}
			return nil, err
		}
		d := wait/2 + mrand.N(wait/2+1)
		if timer == nil {
			timer = time.NewTimer(d)
			defer timer.Stop()
		} else {
			timer.Reset(d)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-timer.C:
		}
		wait = min(2*wait, MaxWait)
	}
}
