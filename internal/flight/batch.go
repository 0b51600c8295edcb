package flight

import (
	"context"
	"sync"
)

// Batch shares calls of a batch function per key: when overlapping Do
// calls ask for some of the same keys at the same time, each key is loaded
// by one call only, and the other Do calls wait for it. A zero Batch is
// ready to use; a Batch must not be copied after first use. It is safe for
// concurrent use.
type Batch[V any] struct {
	mu    sync.Mutex
	calls map[string]*batchCall[V]
}

// batchCall is the pending result of one key within one call of fn.
type batchCall[V any] struct {
	done  chan struct{}
	v     V
	found bool
	err   error
	p     *PanicError
}

// Do returns the values of keys. Keys that no other Do is loading are
// passed, deduplicated, to one call of fn, which runs in its own goroutine
// with a context detached from ctx's cancellation (its values are kept);
// keys that another Do is loading are awaited. The returned map holds the
// keys that were found; a key fn's map lacks is absent. If a call covering
// one of keys failed, Do returns the values found so far and that error.
// A caller whose ctx ends first returns ctx's error while the calls go on.
// A panic in fn is re-panicked, as a *PanicError, in every Do waiting on
// one of its keys; fn calling runtime.Goexit gives them ErrGoexit. fn is not called when every key is already in flight.
func (b *Batch[V]) Do(ctx context.Context, keys []string, fn func(ctx context.Context, keys []string) (map[string]V, error)) (map[string]V, error) {
	if len(keys) == 0 {
		return map[string]V{}, nil
	}
	waits := make(map[string]*batchCall[V], len(keys))
	var owned []string
	var mine map[string]*batchCall[V]
	b.mu.Lock()
	if b.calls == nil {
		b.calls = make(map[string]*batchCall[V])
	}
	for _, k := range keys {
		if _, dup := waits[k]; dup {
			continue
		}
		c, ok := b.calls[k]
		if !ok {
			c = &batchCall[V]{done: make(chan struct{})}
			b.calls[k] = c
			owned = append(owned, k)
			if mine == nil {
				mine = make(map[string]*batchCall[V])
			}
			mine[k] = c
		}
		waits[k] = c
	}
	b.mu.Unlock()
	for k := range waits {
		joined(k)
	}

	if len(owned) > 0 {
		go b.run(context.WithoutCancel(ctx), owned, mine, fn)
	}

	out := make(map[string]V, len(waits))
	var firstErr error
	var panicked *PanicError
	for k, c := range waits {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-c.done:
		}
		switch {
		case c.p != nil:
			panicked = c.p
		case c.err != nil:
			if firstErr == nil {
				firstErr = c.err
			}
		case c.found:
			out[k] = c.v
		}
	}
	if panicked != nil {
		panic(panicked)
	}
	return out, firstErr
}

// run calls fn for the keys this Do owns and publishes the results.
func (b *Batch[V]) run(ctx context.Context, owned []string, mine map[string]*batchCall[V], fn func(ctx context.Context, keys []string) (map[string]V, error)) {
	var res map[string]V
	var err error
	var p *PanicError
	returned := false
	defer func() {
		if !returned {
			err = ErrGoexit // fn called runtime.Goexit (see catch)
		}
		b.publish(owned, mine, res, err, p)
	}()
	p = catch(func() { res, err = fn(ctx, owned) })
	returned = true
}

// publish hands the outcome of one call of fn to the keys it owned.
func (b *Batch[V]) publish(owned []string, mine map[string]*batchCall[V], res map[string]V, err error, p *PanicError) {
	b.mu.Lock()
	for _, k := range owned {
		if b.calls[k] == mine[k] {
			delete(b.calls, k)
		}
	}
	b.mu.Unlock()
	for _, k := range owned {
		c := mine[k]
		switch {
		case p != nil:
			c.p = p
		case err != nil:
			c.err = err
		default:
			c.v, c.found = res[k]
		}
		close(c.done)
	}
}
