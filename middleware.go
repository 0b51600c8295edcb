package cachet

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/cachet-go/cachet/internal/deadline"
	"github.com/cachet-go/cachet/store"
)

// Middleware wraps a store.Store to add behaviour around its operations:
// a func(store.Store) store.Store. It is store.Middleware, so middleware
// written for package store and package cachet mix freely.
//
// A middleware's store should embed store.Wrapper, the forwarding base,
// and override only the methods it changes. Optional capabilities of the
// backend then stay reachable through any number of wrappers with
// store.As, which follows Unwrap; storetest.RunMiddleware checks both.
type Middleware = store.Middleware

// Chain composes middlewares into one, the first being the outermost:
// Chain(a, b)(s) is a(b(s)), so a call passes through a, then b, then s.
// Nil middlewares are skipped.
func Chain(mws ...Middleware) Middleware { return store.Chain(mws...) }

// Timeout returns a Middleware that gives every operation (Close excepted)
// a context with a deadline d from now, unless the caller's context already
// has a deadline at most d away, in which case the caller's context is used
// as it is. A store that overruns the deadline returns an error wrapping
// context.DeadlineExceeded. A d of zero or less gives a middleware that
// returns the store unchanged.
//
// The store returned is safe for concurrent use if the wrapped store is.
// Each call that needs a deadline allocates a context and a timer.
func Timeout(d time.Duration) Middleware {
	return func(s store.Store) store.Store {
		if d <= 0 {
			return s
		}
		return &timeoutStore{Wrapper: store.Wrapper{Store: s}, d: d}
	}
}

type timeoutStore struct {
	store.Wrapper // forwards what this wrapper does not override; Unwrap
	d             time.Duration
}

func (s *timeoutStore) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return deadline.Bound(ctx, s.d)
}

func (s *timeoutStore) Get(ctx context.Context, key string) ([]byte, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.Store.Get(ctx, key)
}

func (s *timeoutStore) GetMany(ctx context.Context, keys []string) ([][]byte, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.Store.GetMany(ctx, keys)
}

func (s *timeoutStore) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.Store.Set(ctx, key, value, ttl)
}

func (s *timeoutStore) SetMany(ctx context.Context, entries []store.Entry, ttl time.Duration) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.Store.SetMany(ctx, entries, ttl)
}

func (s *timeoutStore) Add(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.Store.Add(ctx, key, value, ttl)
}

func (s *timeoutStore) Delete(ctx context.Context, keys ...string) (int, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.Store.Delete(ctx, keys...)
}

func (s *timeoutStore) Exists(ctx context.Context, key string) (bool, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.Store.Exists(ctx, key)
}

func (s *timeoutStore) Increment(ctx context.Context, key string, delta int64) (int64, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.Store.Increment(ctx, key, delta)
}

func (s *timeoutStore) Expire(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.Store.Expire(ctx, key, ttl)
}

func (s *timeoutStore) TTL(ctx context.Context, key string) (time.Duration, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.Store.TTL(ctx, key)
}

func (s *timeoutStore) Clear(ctx context.Context, prefix string) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.Store.Clear(ctx, prefix)
}

// FailOpen returns a Middleware that turns failed reads into misses, so
// that a cache outage costs speed, not correctness: when Get, GetMany,
// Exists or TTL fails, report is called with the operation, the key (the
// first key for GetMany) and the error, and the read answers as if nothing
// were stored: Get and TTL return an error wrapping store.ErrNotFound (and
// naming the cause in its text), GetMany nil slots, Exists false. Writes
// (Set, SetMany, Add, Delete, Increment, Expire, Clear) return their
// errors as usual and do not call report.
//
// Some errors are not outages and are returned as they are: the caller's
// context cancelled or past its own deadline (the caller gave up), an
// invalid key (store.ErrInvalidKey), an unsupported operation
// (store.ErrNotSupported), and store.ErrClosed once the store was closed
// through this middleware. A backend closed beneath it, by someone else,
// is an outage. The cache's own deadlines are outages too: a store that
// overruns the Cache's Options.Timeout, or a Timeout middleware's d,
// wherever it sits in the chain, gives a miss, while the caller's earlier
// deadline or cancellation is returned as it is.
//
// report runs on the caller's goroutine and must not block. A nil report
// absorbs the errors without reporting them; use it only when a middleware
// inside FailOpen (Logging, Metrics) already reports them.
//
// The store returned is safe for concurrent use if the wrapped store and
// report are.
func FailOpen(report func(op Op, key string, err error)) Middleware {
	return func(s store.Store) store.Store {
		return &failOpenStore{Wrapper: store.Wrapper{Store: s}, report: report}
	}
}

type failOpenStore struct {
	store.Wrapper // forwards what this wrapper does not override; Unwrap
	report        func(op Op, key string, err error)
	closed        atomic.Bool
}

// absorb reports whether err, returned by a read, is an outage to turn
// into a miss, and reports it if so.
func (s *failOpenStore) absorb(ctx context.Context, op Op, key string, err error) bool {
	switch {
	case err == nil, errors.Is(err, store.ErrNotFound), deadline.CallerDone(ctx),
		errors.Is(err, store.ErrInvalidKey), errors.Is(err, store.ErrNotSupported),
		errors.Is(err, store.ErrClosed) && s.closed.Load():
		return false
	}
	if s.report != nil {
		s.report(op, key, err)
	}
	return true
}

func missError(op Op, key string, cause error) error {
	return &store.Error{Op: op.String(), Key: key, Err: fmt.Errorf("%w (fail-open after: %v)", store.ErrNotFound, cause)}
}

func (s *failOpenStore) Get(ctx context.Context, key string) ([]byte, error) {
	v, err := s.Store.Get(ctx, key)
	if s.absorb(ctx, OpGet, key, err) {
		return nil, missError(OpGet, key, err)
	}
	return v, err
}

func (s *failOpenStore) GetMany(ctx context.Context, keys []string) ([][]byte, error) {
	vs, err := s.Store.GetMany(ctx, keys)
	if err != nil {
		key := ""
		if len(keys) > 0 {
			key = keys[0]
		}
		if s.absorb(ctx, OpGetMany, key, err) {
			return make([][]byte, len(keys)), nil
		}
	}
	return vs, err
}

func (s *failOpenStore) Exists(ctx context.Context, key string) (bool, error) {
	ok, err := s.Store.Exists(ctx, key)
	if s.absorb(ctx, OpExists, key, err) {
		return false, nil
	}
	return ok, err
}

func (s *failOpenStore) TTL(ctx context.Context, key string) (time.Duration, error) {
	d, err := s.Store.TTL(ctx, key)
	if s.absorb(ctx, OpTTL, key, err) {
		return 0, missError(OpTTL, key, err)
	}
	return d, err
}

// Close closes the wrapped store; from then on ErrClosed is returned as
// it is rather than read as a miss.
func (s *failOpenStore) Close() error {
	s.closed.Store(true)
	return s.Store.Close()
}
