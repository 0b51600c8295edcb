package cachet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cachet-go/cachet/internal/deadline"
	"github.com/cachet-go/cachet/store"
)

// The breaker's defaults, used for the zero fields of BreakerOptions.
const (
	// DefaultBreakerThreshold is how many consecutive connection failures
	// open a breaker.
	DefaultBreakerThreshold = 5
	// DefaultBreakerInterval is how long an open breaker fails calls at
	// once before it lets one call through as a probe.
	DefaultBreakerInterval = time.Second
)

// BreakerOptions configures [Breaker], and the breaker [New] puts in front
// of a network store (Options.Breaker). A nil *BreakerOptions means all
// defaults; the zero value of each field is its default.
type BreakerOptions struct {
	// Threshold is the number of consecutive connection failures (see
	// Breaker) that opens the breaker. Any other answer from the store
	// resets the count. Default: 0, meaning DefaultBreakerThreshold (5).
	Threshold int

	// Interval is how long the open breaker fails every call at once
	// before it lets one call through as a probe; while the probe runs,
	// the others still fail at once. A probe that gets an answer closes
	// the breaker; one that fails opens it for another Interval. Default:
	// 0, meaning DefaultBreakerInterval (1s).
	Interval time.Duration

	// Disable turns the breaker off: New does not add one, and Breaker
	// returns the store unchanged. Default: false.
	Disable bool
}

// Breaker returns a Middleware that fails fast on a dead store (a circuit
// breaker). It counts consecutive connection failures: errors from the
// network (connection refused or reset, dial errors, i/o timeouts, a
// connection closed mid-answer) and operations that overran a deadline
// set by the cache (Options.Timeout, a Timeout middleware). After
// Threshold of them in a row the breaker opens: every operation then
// returns at once an error wrapping [ErrUnavailable] (which names the last
// failure), without touching the store, until Interval has passed; then
// one operation is let through as a probe (half-open), and its answer
// closes the breaker or opens it for another Interval.
//
// Answers are not failures and reset the count: a miss, ErrExists,
// ErrNotInteger, any error the server itself returns. The caller's own
// cancellation or deadline neither counts nor resets.
//
// Over FailOpen (FailOpen outside Breaker), an outage then costs a read a
// miss at once instead of a stall of the timeout. New puts a breaker with
// Options.Breaker innermost, around any store that is not in-process;
// each Cache made by New has its own. Close is never refused.
//
// The store returned is safe for concurrent use if the wrapped store is.
// A closed breaker costs an operation two atomic loads.
func Breaker(opts *BreakerOptions) Middleware {
	var o BreakerOptions
	if opts != nil {
		o = *opts
	}
	if o.Threshold <= 0 {
		o.Threshold = DefaultBreakerThreshold
	}
	if o.Interval <= 0 {
		o.Interval = DefaultBreakerInterval
	}
	return func(s store.Store) store.Store {
		if o.Disable {
			return s
		}
		return &breakerStore{Wrapper: store.Wrapper{Store: s}, threshold: int32(min(o.Threshold, 1<<30)), interval: o.Interval}
	}
}

// Breaker states.
const (
	closed int32 = iota
	open
)

type breakerStore struct {
	store.Wrapper // forwards what this wrapper does not override; Unwrap
	threshold     int32
	interval      time.Duration

	state atomic.Int32 // closed or open
	fails atomic.Int32 // consecutive connection failures

	mu      sync.Mutex
	probing bool      // a probe is running
	next    time.Time // when an open breaker lets the next probe through
	last    error     // the failure that opened it, or the last probe's
}

// enter reports whether the operation may run, and whether it is the
// probe; when it may not, err wraps ErrUnavailable.
func (b *breakerStore) enter(op Op, key string) (probe bool, err error) {
	if b.state.Load() == closed {
		return false, nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state.Load() == closed {
		return false, nil
	}
	now := time.Now()
	if !b.probing && !now.Before(b.next) {
		b.probing = true
		return true, nil
	}
	wait := max(b.next.Sub(now), 0)
	return false, &store.Error{Op: op.String(), Key: key, Err: fmt.Errorf("%w: %d consecutive connection failures, next probe in %v; last: %v",
		ErrUnavailable, b.threshold, wait.Round(time.Millisecond), b.last)}
}

// exit records the outcome of an operation that ran.
func (b *breakerStore) exit(ctx context.Context, probe bool, err error) {
	failed := connFailure(ctx, err)
	if !probe {
		switch {
		case failed:
			if b.fails.Add(1) >= b.threshold {
				b.mu.Lock()
				if b.state.Load() == closed {
					b.trip(err)
				}
				b.mu.Unlock()
			}
		case err != nil && deadline.CallerDone(ctx):
			// the caller gave up: no news of the store
		case b.fails.Load() != 0:
			b.fails.Store(0)
		}
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.probing = false
	switch {
	case failed:
		b.trip(err)
	case err != nil && deadline.CallerDone(ctx):
		// no news: the next call may probe
	default:
		b.fails.Store(0)
		b.state.Store(closed)
	}
}

// trip opens the breaker for an interval; b.mu is held.
func (b *breakerStore) trip(err error) {
	b.last = err
	b.next = time.Now().Add(b.interval)
	b.state.Store(open)
}

// connFailure reports whether err, returned by an operation run with
// ctx, says that the store could not be reached or did not answer in
// time (as opposed to an answer, or the caller giving up).
func connFailure(ctx context.Context, err error) bool {
	if err == nil || deadline.CallerDone(ctx) {
		return false
	}
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed)
}

func (b *breakerStore) Get(ctx context.Context, key string) ([]byte, error) {
	probe, err := b.enter(OpGet, key)
	if err != nil {
		return nil, err
	}
	v, err := b.Store.Get(ctx, key)
	b.exit(ctx, probe, err)
	return v, err
}

func (b *breakerStore) GetMany(ctx context.Context, keys []string) ([][]byte, error) {
	probe, err := b.enter(OpGetMany, firstOf(keys))
	if err != nil {
		return nil, err
	}
	vs, err := b.Store.GetMany(ctx, keys)
	b.exit(ctx, probe, err)
	return vs, err
}

func (b *breakerStore) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	probe, err := b.enter(OpSet, key)
	if err != nil {
		return err
	}
	err = b.Store.Set(ctx, key, value, ttl)
	b.exit(ctx, probe, err)
	return err
}

func (b *breakerStore) SetMany(ctx context.Context, entries []store.Entry, ttl time.Duration) error {
	key := ""
	if len(entries) > 0 {
		key = entries[0].Key
	}
	probe, err := b.enter(OpSetMany, key)
	if err != nil {
		return err
	}
	err = b.Store.SetMany(ctx, entries, ttl)
	b.exit(ctx, probe, err)
	return err
}

func (b *breakerStore) Add(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	probe, err := b.enter(OpAdd, key)
	if err != nil {
		return err
	}
	err = b.Store.Add(ctx, key, value, ttl)
	b.exit(ctx, probe, err)
	return err
}

func (b *breakerStore) Delete(ctx context.Context, keys ...string) (int, error) {
	probe, err := b.enter(OpDelete, firstOf(keys))
	if err != nil {
		return 0, err
	}
	n, err := b.Store.Delete(ctx, keys...)
	b.exit(ctx, probe, err)
	return n, err
}

func (b *breakerStore) Exists(ctx context.Context, key string) (bool, error) {
	probe, err := b.enter(OpExists, key)
	if err != nil {
		return false, err
	}
	ok, err := b.Store.Exists(ctx, key)
	b.exit(ctx, probe, err)
	return ok, err
}

func (b *breakerStore) Increment(ctx context.Context, key string, delta int64) (int64, error) {
	probe, err := b.enter(OpIncrement, key)
	if err != nil {
		return 0, err
	}
	n, err := b.Store.Increment(ctx, key, delta)
	b.exit(ctx, probe, err)
	return n, err
}

func (b *breakerStore) Expire(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	probe, err := b.enter(OpExpire, key)
	if err != nil {
		return false, err
	}
	ok, err := b.Store.Expire(ctx, key, ttl)
	b.exit(ctx, probe, err)
	return ok, err
}

func (b *breakerStore) TTL(ctx context.Context, key string) (time.Duration, error) {
	probe, err := b.enter(OpTTL, key)
	if err != nil {
		return 0, err
	}
	d, err := b.Store.TTL(ctx, key)
	b.exit(ctx, probe, err)
	return d, err
}

func (b *breakerStore) Clear(ctx context.Context, prefix string) error {
	probe, err := b.enter(OpClear, prefix)
	if err != nil {
		return err
	}
	err = b.Store.Clear(ctx, prefix)
	b.exit(ctx, probe, err)
	return err
}

func firstOf(keys []string) string {
	if len(keys) == 0 {
		return ""
	}
	return keys[0]
}
