package cachet

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/cachet-go/cachet/store"
)

// Call-level observation: a Cache reports its read-through calls
// (GetOrLoad, memoized functions) and the loads they make to the plugins
// of its middleware, found once by New (observersOf). Without plugins
// nothing here runs: a Cache's obs is nil and every method takes its
// unobserved path, which only tests that nil.
//
// While an observed call runs, its context carries a *callState, which
// the read-through path (raw.go, memoize_call.go) marks through the note*
// functions below; the observed wrappers turn it into the Call's Hits,
// Misses, Joined, Stale and Refresh. The marks are atomic: a shared call
// runs on its own goroutine.

// callObserver is implemented by the stores that WithPlugins returns: a
// Cache reports its call-level operations to their plugins.
type callObserver interface{ callPlugins() []Plugin }

func (s *pluginStore) callPlugins() []Plugin { return s.plugins }

// observersOf returns a pluginStore (used for its hooks only) holding the
// plugins of every callObserver in the chain from s inward, outermost
// first, or nil when there is none.
func observersOf(s store.Store) *pluginStore {
	var ps []Plugin
	for s != nil {
		if o, ok := s.(callObserver); ok {
			ps = append(ps, o.callPlugins()...)
		}
		u, ok := s.(store.Unwrapper)
		if !ok {
			break
		}
		s = u.Unwrap()
	}
	if len(ps) == 0 {
		return nil
	}
	return &pluginStore{plugins: ps}
}

// callState is what the read-through path learns about one observed call.
type callState struct {
	reached atomic.Bool // the caller went to the shared call
	led     atomic.Bool // the caller's shared call ran (it started it)
	loaded  atomic.Bool // the caller's shared call ran the loader
	stale   atomic.Bool // a stale value was served
	refresh atomic.Bool // a background refresh was started
	local   atomic.Bool // the local tier answered
}

type callStateKey struct{}

// callStateOf returns the state of the observed call ctx belongs to, or
// nil.
func callStateOf(ctx context.Context) *callState {
	st, _ := ctx.Value(callStateKey{}).(*callState)
	return st
}

// inCall reports whether ctx is an observed call's: its store reads are
// counted by the call (see HitMissRatio).
func inCall(ctx context.Context) bool { return callStateOf(ctx) != nil }

// withoutCall returns ctx detached from its observed call, if any: for a
// loader (whose own reads are its business) and background work.
func withoutCall(ctx context.Context) context.Context {
	if callStateOf(ctx) == nil {
		return ctx
	}
	return context.WithValue(ctx, callStateKey{}, (*callState)(nil))
}

// noteReached marks ctx's call as gone to its shared call.
func noteReached(ctx context.Context) {
	if st := callStateOf(ctx); st != nil {
		st.reached.Store(true)
	}
}

// noteLed marks ctx's call as the one whose shared call runs.
func noteLed(ctx context.Context) {
	if st := callStateOf(ctx); st != nil {
		st.led.Store(true)
	}
}

// noteServed marks ctx's call as answered by an entry that is stale
// (past its ttl) or due for an early refresh.
func noteServed(ctx context.Context, stale bool) {
	if st := callStateOf(ctx); st != nil && stale {
		st.stale.Store(true)
	}
}

// noteLocal marks ctx's call as answered by the local tier.
func noteLocal(ctx context.Context) {
	if st := callStateOf(ctx); st != nil {
		st.local.Store(true)
	}
}

// noteBackground marks ctx's call as having started a background refresh
// and returns the context for it, detached from the call.
func noteBackground(ctx context.Context) context.Context {
	st := callStateOf(ctx)
	if st == nil {
		return ctx
	}
	st.refresh.Store(true)
	return withoutCall(ctx)
}

// observeCall runs run as the call-level operation c, between the Before
// and After hooks of o's plugins, with a new callState in its context.
// It returns run's error, joined with any panic of a hook.
func (o *pluginStore) observeCall(ctx context.Context, c *Call, run func(ctx context.Context, st *callState) error) error {
	var h hook
	st := &callState{}
	ctx = o.before(context.WithValue(ctx, callStateKey{}, st), c, &h)
	err := run(ctx, st)
	return o.after(c, &h, err)
}

// classify sets the outcome of a single-key call from st: a miss when its
// shared call ran the loader or the caller gave up, joined when it waited
// for a call another caller started, a hit otherwise.
func (st *callState) classify(ctx context.Context, c *Call, err error) {
	switch {
	case st.loaded.Load():
		c.Misses = 1
	case err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()):
		c.Misses = 1
	case st.reached.Load() && !st.led.Load():
		c.Hits, c.Joined = 1, true
	default:
		c.Hits = 1
	}
	c.Stale = st.stale.Load()
	c.Refresh = st.refresh.Load()
	c.Local = c.Hits == 1 && !c.Joined && st.local.Load()
}

// observeLoad runs a loader, f, as OpLoad c between the Before and After
// hooks of o's plugins, and marks the call it runs for as loaded. f runs
// detached from that call: its own store reads are counted as such.
func (o *pluginStore) observeLoad(ctx context.Context, c Call, f func(ctx context.Context) error) error {
	if st := callStateOf(ctx); st != nil {
		st.loaded.Store(true)
	}
	var h hook
	ctx = o.before(withoutCall(ctx), &c, &h)
	err := f(ctx)
	return o.after(&c, &h, err)
}

// getOrLoadObserved is GetOrLoad reported as OpGetOrLoad.
func (c *Cache[K, V]) getOrLoadObserved(ctx context.Context, k K, load func(ctx context.Context) (V, error)) (V, error) {
	var v V
	key, err := c.keys.build("get", k)
	if err != nil {
		return v, err
	}
	observed := func(ctx context.Context) (V, error) {
		var v V
		err := c.obs.observeLoad(ctx, Call{Op: OpLoad, Key: key}, func(ctx context.Context) error {
			var err error
			v, err = load(ctx)
			return err
		})
		return v, err
	}
	call := Call{Op: OpGetOrLoad, Key: key}
	err = c.obs.observeCall(ctx, &call, func(ctx context.Context, st *callState) error {
		var err error
		if lv, ok := c.localHit(key); ok {
			v, call.Hits, call.Local = lv, 1, true
			return nil
		}
		if c.inProc {
			if v, err = c.get(ctx, key); err == nil {
				call.Hits = 1
				return nil
			}
		}
		v, err = c.load(ctx, key, observed)
		st.classify(ctx, &call, err)
		return err
	})
	return v, err
}

// callObserved is Memoizer.Call reported as OpMemoize.
func (m *Memoizer[K, V]) callObserved(ctx context.Context, k K) (V, error) {
	key, err := m.key("memoize", k)
	if err != nil || m.c.life.isClosed() {
		return m.call(ctx, k) // the key's or ErrClosed: no call made
	}
	var v V
	call := Call{Op: OpMemoize, Key: key}
	err = m.c.obs.observeCall(ctx, &call, func(ctx context.Context, st *callState) error {
		var err error
		v, err = m.call(ctx, k)
		st.classify(ctx, &call, err)
		return err
	})
	return v, err
}

// observedFn returns fn reported as OpLoad.
func (m *Memoizer[K, V]) observedFn(fn func(ctx context.Context, k K) (V, error)) func(ctx context.Context, k K) (V, error) {
	return func(ctx context.Context, k K) (V, error) {
		key, _ := m.key("memoize", k)
		var v V
		err := m.c.obs.observeLoad(ctx, Call{Op: OpLoad, Key: key}, func(ctx context.Context) error {
			var err error
			v, err = fn(ctx, k)
			return err
		})
		return v, err
	}
}

// observedFn returns fn reported as OpLoad.
func (mm *ManyMemoizer[K, V]) observedFn(fn func(ctx context.Context, keys []K) (map[K]V, error)) func(ctx context.Context, keys []K) (map[K]V, error) {
	return func(ctx context.Context, ks []K) (map[K]V, error) {
		keys := make([]string, 0, len(ks))
		for _, k := range ks {
			if key, err := mm.m.key("memoize_many", k); err == nil {
				keys = append(keys, key)
			}
		}
		var res map[K]V
		err := mm.m.c.obs.observeLoad(ctx, Call{Op: OpLoad, Keys: keys}, func(ctx context.Context) error {
			var err error
			res, err = fn(ctx, ks)
			return err
		})
		return res, err
	}
}
