package cachet

import (
	"context"
	"errors"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"reflect"
	"sync/atomic"
	"time"

	"github.com/cachet-go/cachet/internal/deadline"
	"github.com/cachet-go/cachet/internal/entry"
	"github.com/cachet-go/cachet/internal/lease"
	"github.com/cachet-go/cachet/store"
)

// The mechanics of a Memoizer. It uses its Cache only through the seam in
// raw.go; entries are encoded by internal/entry, the stampede lock is an
// internal/lease.

func (m *Memoizer[K, V]) key(op string, k K) (string, error) { return m.cfg.keys.build(op, k) }

// callCtx bounds the shared call.
func (m *Memoizer[K, V]) callCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return deadline.Bound(ctx, m.cfg.callTimeout)
}

// closedErr is the error of a memoized call after Cache.Close.
func closedErr(op, key string) error { return &Error{Op: op, Key: key, Err: ErrClosed} }

// entryState classifies a cached entry.
type entryState int

const (
	entryMiss  entryState = iota // absent, foreign, undecodable or expired
	entryFresh                   // within its ttl
	entryEarly                   // within its ttl, but XFetch says refresh
	entryStale                   // past its ttl, within the stale window
	entryGrace                   // past its ttl, within early refresh's margin (memoize_early.go)
)

// lookup reads key's entry. A read error, a value in the other format or
// a decoding error is a miss; only a closed store is an error.
func (m *Memoizer[K, V]) lookup(ctx context.Context, key string) (V, entry.Header, entryState, error) {
	if m.c.local != nil && (m.cfg.realClock || m.c.only != nil) {
		return m.lookupLocal(ctx, key) // local.go
	}
	return m.lookupStore(ctx, key)
}

// lookupStore is lookup from the store.
func (m *Memoizer[K, V]) lookupStore(ctx context.Context, key string) (V, entry.Header, entryState, error) {
	b, at, err := m.c.readRaw(ctx, key, m.hitClock)
	if err != nil {
		var zero V
		if errors.Is(err, ErrClosed) {
			return zero, entry.Header{}, entryMiss, store.Errorf("memoize", key, err)
		}
		return zero, entry.Header{}, entryMiss, nil
	}
	v, h, state := m.decode(key, b, m.unixNano(at))
	return v, h, state, nil
}

// unixNano returns the time of a read at (the zero time when the read did
// not need the clock) for the entries' expiry checks, in Unix nanoseconds;
// 0 makes decode see no entry as expired unless it was kept past its
// expiry.
func (m *Memoizer[K, V]) unixNano(at time.Time) int64 {
	switch {
	case at.IsZero():
		return 0
	case !m.cfg.realClock:
		return m.cfg.now().UnixNano()
	}
	return at.UnixNano()
}

// decode classifies and decodes an entry of key read at now (Unix
// nanoseconds, 0 if not known).
func (m *Memoizer[K, V]) decode(key string, b []byte, now int64) (V, entry.Header, entryState) {
	var v V
	h, err := m.c.decodeEntry("memoize", key, b, &v)
	if err != nil {
		return v, h, entryMiss
	}
	if now == 0 && h.Flags&entry.FlagStale != 0 {
		now = m.cfg.now().UnixNano() // kept past its expiry by the store
	}
	state := entryFresh
	if h.Expiry != 0 && now != 0 && now >= h.Expiry {
		switch {
		case h.Negative():
			state = entryMiss
		case m.cfg.swr > 0 && now < h.Expiry+int64(m.cfg.swr):
			state = entryStale
		case m.cfg.beta > 0 && now < h.Expiry+int64(m.margin(h.Delta)):
			state = entryGrace
		default:
			state = entryMiss
		}
		if state == entryMiss {
			var zero V
			return zero, h, entryMiss
		}
	} else if m.cfg.beta > 0 && h.Expiry != 0 && !h.Negative() && now != 0 && m.early(key, now, h.Expiry, h.Delta) {
		state = entryEarly
	}
	return v, h, state
}

// xfetch reports whether a value expiring at expiry, whose recomputation
// took delta, should be recomputed now; r is uniform in (0, 1].
func xfetch(now, expiry, delta int64, beta, r float64) bool {
	return float64(now)-float64(delta)*beta*math.Log(r) >= float64(expiry)
}

// result turns an entry into the memoized function's answer.
func (m *Memoizer[K, V]) result(v V, h entry.Header, key string) (V, error) {
	if h.Flags&entry.FlagNotFound != 0 {
		if m.cfg.notFound != nil {
			return v, m.cfg.notFound
		}
		return v, &Error{Op: "memoize", Key: key, Err: ErrNotFound}
	}
	return v, nil
}

// answer reads key for a Call of k: a hit (fresh, early or stale, the last
// two starting a background refresh, or within early refresh's margin
// while a refresh of it is under way) or a closed store is the call's
// answer.
func (m *Memoizer[K, V]) answer(ctx context.Context, k K, key string) (V, bool, error) {
	v, h, state, err := m.lookup(ctx, key)
	switch {
	case err != nil:
		return v, false, err
	case state == entryMiss:
		return v, false, nil
	case state == entryGrace:
		if !m.refreshUnderWay(key, h.Expiry) {
			return v, false, nil
		}
		noteServed(ctx, true)
	case state != entryFresh:
		noteServed(ctx, state == entryStale) // observe_call.go
		m.refreshAsync(ctx, k, key, h.Expiry)
	}
	v, err = m.result(v, h, key)
	return v, true, err
}

func (m *Memoizer[K, V]) call(ctx context.Context, k K) (V, error) {
	if m.c.local != nil && m.cfg.realClock && !m.c.life.isClosed() {
		// local.go: no key string (built on the stack), no store, no shared call
		if e := m.c.localFind(&m.cfg.keys, k); e != nil {
			noteLocal(ctx)
			if m.c.local.clone != nil {
				return m.c.local.clone(e.v), nil
			}
			return e.v, nil
		}
	}
	key, err := m.openKey(k)
	if err != nil {
		var zero V
		return zero, err
	}
	if !m.joinFirst {
		// The read before the shared call (see readThrough), inline: a
		// hit allocates nothing.
		if v, hit, err := m.answer(ctx, k, key); hit || err != nil {
			return v, err
		}
	}
	return m.load(ctx, k, key)
}

// load is a Call's read-through after its own read, if any, missed.
func (m *Memoizer[K, V]) load(ctx context.Context, k K, key string) (V, error) {
	lookup := func(ctx context.Context) (V, bool, error) { return m.answer(ctx, k, key) }
	v, _, err := readThrough(ctx, &m.group, "memoize", key, true, lookup, func(ctx context.Context) (V, error) {
		ctx, cancel := m.callCtx(ctx)
		defer cancel()
		if m.cfg.lease > 0 {
			l, done, v, err := m.lock(ctx, key)
			if done {
				return v, err
			}
			if l != nil {
				defer m.unlock(ctx, l)
			}
		}
		return m.compute(ctx, k, key, true)
	})
	return v, err
}

func (m *Memoizer[K, V]) refresh(ctx context.Context, k K) (V, error) {
	key, err := m.openKey(k)
	if err != nil {
		var zero V
		return zero, err
	}
	v, _, err := m.group.Do(ctx, "\x00refresh\x00"+key, func(ctx context.Context) (V, error) {
		ctx, cancel := m.callCtx(ctx)
		defer cancel()
		return m.compute(ctx, k, key, true)
	})
	return v, err
}

func (m *Memoizer[K, V]) callNoWrite(ctx context.Context, k K) (V, error) {
	key, err := m.openKey(k)
	if err != nil {
		var zero V
		return zero, err
	}
	v, h, state, err := m.lookup(ctx, key)
	if err != nil {
		return v, err
	}
	if state != entryMiss && (state != entryGrace || m.refreshUnderWay(key, h.Expiry)) {
		return m.result(v, h, key)
	}
	if err := ctx.Err(); err != nil {
		return v, &Error{Op: "memoize", Key: key, Err: err}
	}
	v, _, err = m.group.Do(ctx, "\x00nowrite\x00"+key, func(ctx context.Context) (V, error) {
		ctx, cancel := m.callCtx(ctx)
		defer cancel()
		return m.compute(ctx, k, key, false)
	})
	return v, err
}

func (m *Memoizer[K, V]) invalidate(ctx context.Context, k K) error {
	key, err := m.key("delete", k)
	if err != nil {
		return err
	}
	// Calls of fn under way must not store their older result after the
	// delete, and later callers must not join them.
	m.invalidated.of(key).Add(1)
	m.group.Forget(key)
	return store.Errorf("delete", key, m.c.runOp(ctx, func(ctx context.Context, s store.Store) error {
		_, err := s.Delete(ctx, key)
		return err
	}))
}

// compute calls fn and, when write is set, caches its result.
func (m *Memoizer[K, V]) compute(ctx context.Context, k K, key string, write bool) (V, error) {
	ctx, lt := withLoadTTL(ctx)
	gen := m.invalidated.of(key).Load()
	start := m.cfg.now()
	v, err := m.fn(ctx, k)
	if !write {
		return v, err
	}
	now := m.cfg.now()
	delta := now.Sub(start)
	switch {
	case err != nil:
		if m.cfg.notFound != nil && errors.Is(err, m.cfg.notFound) {
			m.write(ctx, key, gen, now, entry.Header{Flags: entry.FlagNotFound}, v, m.cfg.notFoundTTL)
		}
	case m.cfg.zeroTTL != 0 && isZero(v):
		m.write(ctx, key, gen, now, entry.Header{Flags: entry.FlagZero}, v, m.cfg.zeroTTL)
	case m.cfg.skip != nil && m.cfg.skip(v):
	default:
		ttl := m.cfg.ttl
		if d, ok := lt.get(); ok {
			ttl = d
		}
		m.write(ctx, key, gen, now, entry.Header{Delta: m.delta(delta)}, v, ttl)
	}
	return v, err
}

// delta returns the computation time to keep in an entry: only early
// refresh needs it.
func (m *Memoizer[K, V]) delta(d time.Duration) int64 {
	if m.cfg.beta <= 0 || d <= 0 {
		return 0
	}
	return int64(d)
}

func isZero[V any](v V) bool { return reflect.ValueOf(&v).Elem().IsZero() }

// write stores an entry computed by a call of fn that began when key's
// invalidation count was gen; failures are left to the middleware to
// report. A result that an Invalidate of its key overtook is not stored,
// and one whose write an Invalidate raced is taken back, so that the
// older value never outlives the Invalidate.
func (m *Memoizer[K, V]) write(ctx context.Context, key string, gen uint64, now time.Time, h entry.Header, v V, ttl time.Duration) {
	if m.c.only != nil {
		m.writeOnly(ctx, key, gen, v, ttl) // localonly.go
		return
	}
	b, sttl, err := m.entry(key, now, h, v, ttl)
	if err != nil {
		return
	}
	count := m.invalidated.of(key)
	if count.Load() != gen {
		return
	}
	m.c.writeRaw(ctx, key, b, sttl)
	if count.Load() != gen {
		_ = m.c.runOp(ctx, func(ctx context.Context, s store.Store) error {
			_, err := s.Delete(ctx, key)
			return err
		})
	}
}

// invalidations counts the Invalidate calls of a Memoizer per stripe of
// keys (a key's stripe is a hash of it): a call of fn that began before
// an Invalidate of its key must not store its result after it.
type invalidations [64]atomic.Uint64

func (iv *invalidations) of(key string) *atomic.Uint64 {
	h := uint32(2166136261) // FNV-1a
	for i := 0; i < len(key); i++ {
		h = (h ^ uint32(key[i])) * 16777619
	}
	return &iv[h%uint32(len(iv))]
}

// entry returns an entry's bytes and its store ttl; ttl is a store ttl (0:
// none) or NoExpiry.
func (m *Memoizer[K, V]) entry(key string, now time.Time, h entry.Header, v V, ttl time.Duration) ([]byte, time.Duration, error) {
	if ttl == NoExpiry {
		ttl = 0
	}
	sttl := ttl
	if ttl > 0 {
		h.Expiry = expiryAt(now, ttl)
		if keep := m.keep(h); keep > 0 {
			sttl += keep
			h.Flags |= entry.FlagStale
		}
	}
	if h.Negative() {
		return entry.Encode(h, nil), sttl, nil
	}
	b, err := m.c.encodeEntry("memoize", key, v, h)
	return b, sttl, err
}

// writeMany stores entries; failures are left to the middleware to report.
func (m *Memoizer[K, V]) writeMany(ctx context.Context, entries []store.Entry, ttl time.Duration) {
	if len(entries) == 0 {
		return
	}
	if ttl == NoExpiry {
		ttl = 0
	}
	m.c.writeRawMany(ctx, entries, ttl)
}

// takeLease tries to take key's stampede lock.
func (m *Memoizer[K, V]) takeLease(ctx context.Context, key string) (*lease.Lease, error) {
	var l *lease.Lease
	err := m.c.runOp(ctx, func(ctx context.Context, s store.Store) error {
		var err error
		l, err = lease.Take(ctx, s, lockKey(key), m.cfg.lease)
		return err
	})
	return l, err
}

// lock takes key's stampede lock, or waits for another process's value.
// done reports that the wait produced the call's answer (v, err);
// otherwise the caller computes the value and unlocks l, if not nil,
// afterwards. When the store fails, the call goes on without the lock.
// An entry within early refresh's margin is the answer once the lock is
// found taken: its refresh is under way (see graceLocked).
func (m *Memoizer[K, V]) lock(ctx context.Context, key string) (l *lease.Lease, done bool, v V, err error) {
	backoff := m.cfg.poll
	maxBackoff := min(16*m.cfg.poll, m.cfg.lease)
	for first := true; ; first = false {
		l, err := m.takeLease(ctx, key)
		if err == nil {
			// The value may have been written, and the lock released,
			// between our miss and our Add.
			if v, h, state, _ := m.lookup(ctx, key); state != entryMiss && state != entryGrace {
				m.unlock(ctx, l)
				v, err := m.result(v, h, key)
				return nil, true, v, err
			}
			return l, false, v, nil
		}
		if !errors.Is(err, ErrExists) {
			return nil, false, v, nil
		}
		if first && m.cfg.beta > 0 {
			if v, h, ok := m.graceLocked(ctx, key); ok {
				v, err := m.result(v, h, key)
				return nil, true, v, err
			}
		}
		// Jitter: sleep a random time in [backoff/2, backoff].
		d := backoff/2 + time.Duration(mrand.Int64N(int64(backoff/2)+1))
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, true, v, &Error{Op: "memoize", Key: key, Err: fmt.Errorf("waiting for the stampede lock: %w", ctx.Err())}
		case <-t.C:
		}
		backoff = min(2*backoff, maxBackoff)
		if v, h, state, _ := m.lookup(ctx, key); state != entryMiss {
			if state == entryGrace {
				m.markLocked(key, h.Expiry)
				noteServed(ctx, true)
			}
			v, err := m.result(v, h, key)
			return nil, true, v, err
		}
	}
}

// unlock releases a lock this process holds, even when the call's context
// has ended.
func (m *Memoizer[K, V]) unlock(ctx context.Context, l *lease.Lease) {
	m.c.runOp(context.WithoutCancel(ctx), func(ctx context.Context, _ store.Store) error {
		_, err := l.Release(ctx)
		return err
	})
}

// openKey returns k's store key for a memoized call, or the error of a bad
// key or of a closed cache.
func (m *Memoizer[K, V]) openKey(k K) (string, error) {
	key, err := m.key("memoize", k)
	if err == nil && m.c.life.isClosed() {
		err = closedErr("memoize", key)
	}
	return key, err
}
