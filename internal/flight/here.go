package flight

import "context"

// DoHere is Do with fn run on the goroutine of the caller that starts the
// call, under that caller's own ctx, instead of on a goroutine of its own
// under a detached context: a caller that finds no call in flight pays no
// goroutine hand-off and wake-up, and its cancellation reaches fn as it
// would without sharing.
//
// The callers that join a call wait as in Do, each until its own ctx ends.
// If the starting caller's ctx ends while fn runs and fn then fails, the
// joined callers do not get that failure (it may be only the starter's
// cancellation): each of them whose ctx is still live starts or joins the
// call anew, so one caller's cancellation never fails another's call. A
// panic in fn is re-panicked, as a *PanicError, in every caller; if fn
// calls runtime.Goexit, the starting goroutine exits and the joined
// callers get ErrGoexit.
func (g *Group[V]) DoHere(ctx context.Context, key string, fn func(ctx context.Context) (V, error)) (v V, shared bool, err error) {
	for {
		g.mu.Lock()
		if g.calls == nil {
			g.calls = make(map[string]*call[V])
		}
		c, ok := g.calls[key]
		if !ok {
			c = &call[V]{done: make(chan struct{})}
			g.calls[key] = c
			g.mu.Unlock()
			joined(key)
			g.runHere(ctx, key, c, fn)
			if c.p != nil {
				panic(c.p)
			}
			return c.v, c.dups > 0, c.err
		}
		c.dups++
		g.mu.Unlock()
		joined(key)
		select {
		case <-ctx.Done():
			var zero V
			return zero, false, ctx.Err()
		case <-c.done:
		}
		if c.p != nil {
			panic(c.p)
		}
		if !c.abandoned {
			return c.v, true, c.err
		}
	}
}

// runHere calls fn on this goroutine and publishes its outcome, however fn
// ends; a failure after ctx ended is published as abandoned.
func (g *Group[V]) runHere(ctx context.Context, key string, c *call[V], fn func(ctx context.Context) (V, error)) {
	returned := false
	defer func() {
		if !returned {
			c.err = ErrGoexit // fn called runtime.Goexit
		}
		g.mu.Lock()
		if g.calls[key] == c {
			delete(g.calls, key)
		}
		g.mu.Unlock()
		close(c.done)
	}()
	c.p = catch(func() { c.v, c.err = fn(ctx) })
	c.abandoned = c.p == nil && c.err != nil && ctx.Err() != nil
	returned = true
}
