package cachet

import (
	"context"
	"errors"
	"math"
	"time"

	"github.com/cachet-go/cachet/internal/entry"
)

// Early refresh and the background refresh lifecycle (issue 17).
//
// The XFetch decision of an entry is drawn once per entry: the uniform
// number r it uses is a hash of the entry's key and expiry, so every read
// of one entry, in every process, makes the same decision, and the moment
// the refresh fires,
//
//	expiry - delta - delta*beta*(-ln r)
//
// has XFetch's distribution, one delta earlier so that the recomputation
// ends before the expiry, whatever the read rate and the number of
// processes. A fresh draw on every read fires earlier the more reads
// there are (about delta*beta*ln(reads per delta*beta) before the
// expiry); a draw per process fires at the earliest of the processes'
// moments (mean lead delta*beta*H(n) with n processes, 2.08 for 4). No
// state is kept.
//
// A refresh that runs late (the machine is loaded, fn is slower than
// last time) must not leave readers without a value: the store keeps an
// early-refreshed entry for a margin past its ttl (margin), and a reader
// of an entry past its ttl but within the margin is served the old value
// while a refresh of that entry is under way (this process's background
// refresh, or another process's, whose stampede lock this process found
// taken); otherwise it is a miss, as without the margin. So a reader waits
// only if no refresh of the entry began before its expiry, or the refresh
// outlasts the margin.

// entrySeed is the seed of the draws (tests replace it).
const entrySeed = 0x5ca1ab1e_cac4e7

// maxEarlyLead bounds -ln r for the r that uniform returns (r >= 2^-53):
// an entry further than delta*beta*maxEarlyLead from its expiry is never
// refreshed early, and needs no draw.
var maxEarlyLead = 53 * math.Ln2

// uniform returns a number in (0, 1] determined by seed, key and expiry,
// uniformly distributed over seeds: FNV-1a over the key, then a
// SplitMix64 finalizer over the hash, the seed and the expiry.
func uniform(seed uint64, key string, expiry int64) float64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(key); i++ {
		h ^= uint64(key[i])
		h *= 1099511628211
	}
	h = mix64(h ^ seed)
	h = mix64(h ^ uint64(expiry))
	return float64(h>>11+1) / (1 << 53)
}

func mix64(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// early reports whether the fresh entry of key with expiry and delta
// (nanoseconds), read at now, is due for an early refresh in this
// process.
func (m *Memoizer[K, V]) early(key string, now, expiry, delta int64) bool {
	span := float64(delta) * m.cfg.beta
	if float64(expiry-now-delta) > span*maxEarlyLead {
		return false // too far from expiry for any draw
	}
	var r float64
	if m.cfg.draw != nil {
		r = m.cfg.draw(key, expiry)
	} else {
		r = uniform(m.cfg.seed, key, expiry)
	}
	// One delta earlier than XFetch's moment, so that the recomputation,
	// which takes about delta, ends before the expiry.
	return xfetch(now+delta, expiry, delta, m.cfg.beta, r)
}

// refreshMark is the value of Memoizer.refreshing for a key: a refresh of
// the entry with the expiry trigger runs in this process (until == 0), or
// ran, or found another process's lock (other), and further triggers by
// that entry are ignored until until (Unix nanoseconds of cfg.now).
type refreshMark struct {
	trigger int64
	until   int64
	other   bool // another process's lock was found taken: it refreshes the entry
}

// margin is how long past its ttl the store keeps an entry whose
// computation took delta (nanoseconds), with early refresh:
// max(2*delta, TTL/10), at most TTL, where TTL is the configured ttl
// (MemoizeOptions.TTL, or the cache's default).
func (m *Memoizer[K, V]) margin(delta int64) time.Duration {
	ttl := m.cfg.ttl
	return min(ttl, max(2*time.Duration(delta), ttl/10))
}

// keep is how long past its ttl the store keeps the entry with header h:
// the stale window, or early refresh's margin, whichever is longer;
// negative entries not at all.
func (m *Memoizer[K, V]) keep(h entry.Header) time.Duration {
	if h.Negative() {
		return 0
	}
	keep := m.cfg.swr
	if m.cfg.beta > 0 {
		keep = max(keep, m.margin(h.Delta))
	}
	return keep
}

// refreshUnderWay reports whether this process knows that a refresh of
// key's entry with expiry runs: its own background refresh, or another
// process's, whose lock it found taken less than StampedeLease ago (the
// lock's own bound).
func (m *Memoizer[K, V]) refreshUnderWay(key string, expiry int64) bool {
	o, ok := m.refreshing.Load(key)
	if !ok {
		return false
	}
	mark := o.(*refreshMark)
	return mark.trigger == expiry && (mark.until == 0 || (mark.other && m.cfg.now().UnixNano() < mark.until))
}

// markLocked notes that another process holds the lock of key's entry
// with expiry trigger: until the hold is over, reads of the entry within
// its margin are served and trigger no refresh here. A refresh running in
// this process keeps its mark.
func (m *Memoizer[K, V]) markLocked(key string, trigger int64) {
	held := &refreshMark{trigger: trigger, until: m.cfg.now().Add(m.hold()).UnixNano(), other: true}
	for {
		old, loaded := m.refreshing.LoadOrStore(key, held)
		if !loaded {
			break
		}
		if o := old.(*refreshMark); o.until == 0 || (o.trigger == trigger && o.other) {
			return
		}
		if m.refreshing.CompareAndSwap(key, old, held) {
			break
		}
	}
	time.AfterFunc(m.hold(), func() { m.refreshing.CompareAndDelete(key, held) })
}

// graceLocked is a reader's answer when it missed, found key's stampede
// lock taken, and reads the entry again: an entry within its margin is
// served, and its key marked (markLocked), so that later reads in this
// process are served without a lock attempt.
func (m *Memoizer[K, V]) graceLocked(ctx context.Context, key string) (V, entry.Header, bool) {
	v, h, state, _ := m.lookup(ctx, key)
	if state != entryGrace {
		var zero V
		return zero, h, false
	}
	m.markLocked(key, h.Expiry)
	noteServed(ctx, true)
	return v, h, true
}

// refreshHold is how long triggers by an entry that this process has
// refreshed, or found locked by another process, are ignored: a read
// that fetched the entry just before the new one landed, or while
// another process computes it, costs no further lock attempt or
// recomputation. Without a stampede lock it is this default; with one,
// the lease (after which a lock left by a dead holder expires).
const refreshHold = time.Second

func (m *Memoizer[K, V]) hold() time.Duration {
	if m.cfg.lease > 0 {
		return m.cfg.lease
	}
	return refreshHold
}

// refreshAsync recomputes key in the background when the entry whose
// expiry is trigger asks for it (early refresh or stale-while-revalidate):
// once per key at a time in this process, and once per entry. Cache.Close
// cancels it and waits for it. A panic in fn there is recovered: the
// entry is left as it was.
func (m *Memoizer[K, V]) refreshAsync(ctx context.Context, k K, key string, trigger int64) {
	var mark *refreshMark
	if old, ok := m.refreshing.Load(key); ok {
		// Every read of a due entry lands here until the new one is
		// stored: a blocked trigger allocates nothing.
		o := old.(*refreshMark)
		if o.until == 0 || (o.trigger == trigger && m.cfg.now().UnixNano() < o.until) {
			return
		}
		mark = &refreshMark{trigger: trigger}
		if !m.refreshing.CompareAndSwap(key, old, mark) {
			return
		}
	} else {
		mark = &refreshMark{trigger: trigger}
		if _, loaded := m.refreshing.LoadOrStore(key, mark); loaded {
			return
		}
	}
	started := m.c.life.goBackground(ctx, func(ctx context.Context) {
		var done, other bool
		func() {
			defer func() { _ = recover() }()
			done, other = m.refreshEntry(ctx, k, key, trigger)
		}()
		if done {
			// Hold the mark: later triggers by the same entry are ignored
			// for a while; a newer entry is not held back.
			held := &refreshMark{trigger: trigger, until: m.cfg.now().Add(m.hold()).UnixNano(), other: other}
			if m.refreshing.CompareAndSwap(key, mark, held) {
				time.AfterFunc(m.hold(), func() { m.refreshing.CompareAndDelete(key, held) })
			}
		} else {
			m.refreshing.CompareAndDelete(key, mark)
		}
		if m.cfg.onRefresh != nil {
			m.cfg.onRefresh(key)
		}
	})
	if !started {
		m.refreshing.CompareAndDelete(key, mark)
	}
}

// refreshEntry is a background refresh of key, triggered by the entry
// with expiry trigger. With the stampede lock it takes the lock only if
// it is free; it then reads the entry again and calls fn only if the
// entry is still the one that triggered the refresh (or is gone). It
// reports whether the entry is dealt with (done): refreshed, found newer,
// or being refreshed by another process (other: the lock was taken);
// false when fn failed, so that a later read tries again.
func (m *Memoizer[K, V]) refreshEntry(ctx context.Context, k K, key string, trigger int64) (done, other bool) {
	ctx, cancel := m.callCtx(ctx)
	defer cancel()
	if m.cfg.lease > 0 {
		l, err := m.takeLease(ctx, key)
		if errors.Is(err, ErrExists) {
			return true, true // another process computes it
		}
		if err == nil {
			defer m.unlock(ctx, l)
		}
	}
	_, h, state, err := m.lookup(ctx, key)
	if err != nil {
		return true, false // closed
	}
	if state != entryMiss && h.Expiry != trigger {
		return true, false // a newer value is there
	}
	_, err = m.compute(ctx, k, key, true)
	return err == nil, false
}
