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
	"time"

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
