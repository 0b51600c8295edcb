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
		c, started := g.join(key)
		joined(key)
		if started {
			g.run(ctx, key, c, fn)
			if c.p != nil {
				panic(c.p)
			}
			return c.v, c.dups > 0, c.err
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
