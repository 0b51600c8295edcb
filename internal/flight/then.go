package flight

import "context"

// DoThen is Do in two phases, for a read-through: first runs on the
// goroutine of the caller that starts the call, under that caller's own
// ctx (as in DoHere), and when it reports done (a hit, or an error) its
// result is every caller's; otherwise then runs as Do's fn does, on a
// goroutine of its own under a context detached from the starting
// caller's cancellation. So a call that first settles (a cache hit) costs
// no goroutine hand-off, and a call that needs then (a load) still lets
// each caller leave when its own ctx ends while the load goes on for the
// others.
//
// If the starting caller's ctx ends while first runs and first then
// fails, the joined callers do not get that failure: each of them whose
// ctx is still live starts or joins the call anew, as in DoHere. A panic
// in either phase is re-panicked, as a *PanicError, in every caller; if
// first calls runtime.Goexit, the starting goroutine exits and the joined
// callers get ErrGoexit; if then does, every caller gets ErrGoexit.
func (g *Group[V]) DoThen(ctx context.Context, key string, first func(ctx context.Context) (v V, done bool, err error), then func(ctx context.Context) (V, error)) (v V, shared bool, err error) {
	for {
		c, started := g.join(key)
		joined(key)
		if started {
			return g.lead(ctx, key, c, first, then)
		}
		if err := wait(ctx, c); err != nil {
			var zero V
			return zero, false, err
		}
		if !c.abandoned {
			return c.v, true, c.err
		}
	}
}

// lead runs c, which the caller started: first here, then (when first is
// not done) on a goroutine of its own.
func (g *Group[V]) lead(ctx context.Context, key string, c *call[V], first func(ctx context.Context) (V, bool, error), then func(ctx context.Context) (V, error)) (V, bool, error) {
	handOn := false
	returned := false
	func() {
		defer func() {
			if handOn {
				return // then publishes
			}
			if !returned {
				c.err = ErrGoexit // first called runtime.Goexit
			}
			g.finish(key, c)
		}()
		var done bool
		c.p = catch(func() { c.v, done, c.err = first(ctx) })
		returned = true
		switch {
		case c.p != nil:
		case c.err != nil:
			c.abandoned = ctx.Err() != nil
		case !done:
			handOn = true
		}
	}()
	if !handOn {
		if c.p != nil {
			panic(c.p)
		}
		return c.v, c.dups > 0, c.err
	}
	var zero V
	c.v = zero
	go g.run(context.WithoutCancel(ctx), key, c, then)
	if err := wait(ctx, c); err != nil {
		return zero, false, err
	}
	return c.v, c.dups > 0, c.err
}
