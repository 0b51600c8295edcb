package cachet

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cachet-go/cachet/internal/deadline"
	"github.com/cachet-go/cachet/internal/lease"
	"github.com/cachet-go/cachet/store"
)

// ErrLockLost is wrapped by the error of Lock.Unlock when the lock was no
// longer held: its lease had expired (and another owner may hold it now,
// which Unlock leaves alone), or it was already unlocked.
var ErrLockLost = errors.New("cachet: lock no longer held (lease expired or already unlocked)")

// Lock is a distributed lock held on a key of a Cache's store (aiocache's
// RedLock): taken by Cache.Lock or Cache.TryLock, released by Unlock.
//
// It is a lease: a store key holding a random token, written with the
// store's atomic Add, with a ttl of the lease given when it was taken. It
// is released only by its owner (Unlock deletes the key only while it
// still holds this Lock's token, atomically on memstore, Redis and
// memcached), and released by the store itself when the lease runs out:
// a holder that crashes, or that takes longer than its lease, does not
// keep others out beyond it, and then no longer has the lock. Choose a
// lease longer than the critical section can last.
//
// It is the mechanism of the stampede lock of memoized functions (the
// one implementation, package internal/lease), over one store: on a Redis
// Cluster the key lives on one master, and a failover that loses the key
// can let two owners in. It is meant for efficiency (not doing work
// twice), not for correctness that must survive such failures.
//
// A Lock is not safe for concurrent use; the caches and stores it uses
// are.
type Lock struct {
	l       *lease.Lease
	timeout time.Duration
}

// Lock takes the lock on k for lease, waiting while another owner holds
// it, and returns it held. It polls the store: after each failed attempt
// it waits a jittered, growing time (from about 2ms, doubling up to
// 100ms, drawn uniformly from the upper half of that range, so that
// waiters spread out). It gives up when ctx ends, with an error wrapping
// ctx's error; a store failure ends it too. lease must be positive (an
// error wrapping ErrInvalidTTL otherwise); memcached rounds it up to
// whole seconds.
//
// The lock's store key is k's key followed by LockSuffix: the key of the
// stampede lock of a Memoizer over this cache (without WithPrefix or
// WithKey), so a Lock on k and a stampede-locked computation of k
// exclude each other. The lock ignores the cache's kill switch (Disable):
// turning caching off does not turn mutual exclusion off.
func (c *Cache[K, V]) Lock(ctx context.Context, k K, lease time.Duration) (*Lock, error) {
	return c.lock(ctx, "lock", k, lease, true)
}

// TryLock takes the lock on k for lease if no one holds it, as Lock does,
// but does not wait: when another owner holds it the error wraps
// ErrExists.
func (c *Cache[K, V]) TryLock(ctx context.Context, k K, lease time.Duration) (*Lock, error) {
	return c.lock(ctx, "try_lock", k, lease, false)
}

func (c *Cache[K, V]) lock(ctx context.Context, op string, k K, ttl time.Duration, wait bool) (*Lock, error) {
	key, err := c.keys.build(op, k)
	if err != nil {
		return nil, err
	}
	key = lockKey(key)
	if ttl <= 0 {
		return nil, &Error{Op: op, Key: key, Err: fmt.Errorf("%w: lease %v must be positive", ErrInvalidTTL, ttl)}
	}
	s := c.liveStore()
	var l *lease.Lease
	if wait {
		l, err = lease.Acquire(ctx, s, key, ttl, c.timeout)
	} else {
		tctx, cancel := deadline.Bound(ctx, c.timeout)
		l, err = lease.Take(tctx, s, key, ttl)
		cancel()
	}
	if err != nil {
		return nil, store.Errorf(op, key, err)
	}
	return &Lock{l: l, timeout: c.timeout}, nil
}

// Key returns the store key of the lock.
func (l *Lock) Key() string { return l.l.Key() }

// Unlock releases the lock if this Lock still holds it. When it does not
// (the lease expired, whether or not another owner has taken the lock
// since, or Unlock was already called) it changes nothing and returns an
// error wrapping ErrLockLost: the critical section may have overlapped
// another owner's.
func (l *Lock) Unlock(ctx context.Context) error {
	ctx, cancel := deadline.Bound(ctx, l.timeout)
	defer cancel()
	ok, err := l.l.Release(ctx)
	if err != nil {
		return store.Errorf("unlock", l.l.Key(), err)
	}
	if !ok {
		return &Error{Op: "unlock", Key: l.l.Key(), Err: ErrLockLost}
	}
	return nil
}
