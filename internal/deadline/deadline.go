// Package deadline holds the one copy of the rule every cachet layer uses
// to bound an operation: give the context a deadline d from now, unless
// the caller's own deadline is already at most d away.
//
// A deadline set here carries its own cause, so that a layer seeing the
// context end can tell the cache's own timeout (an outage, which FailOpen
// turns into a miss) from the caller giving up (passed through): see
// [CallerDone].
package deadline

import (
	"context"
	"errors"
	"time"
)

// errBound is the cause (context.Cause) of a context ended by a deadline
// set by Bound; its Err is still context.DeadlineExceeded.
var errBound = errors.New("cachet: operation timeout")

func noop() {}

// Noop is a CancelFunc that does nothing, for a context returned as it
// came. A package-level function: a func literal in a generic function
// captures its dictionary and allocates.
var Noop context.CancelFunc = noop

// Bound returns ctx with a deadline d from now, unless d <= 0 (no bound)
// or ctx already has a deadline at most d away; in both cases ctx itself
// is returned with a cancel function that does nothing. The cancel
// function must be called when the operation ends, as for
// context.WithTimeout.
func Bound(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return ctx, noop
	}
	return BoundFrom(ctx, time.Now(), d)
}

// BoundFrom is Bound for a caller that has just read the clock: now
// stands for the current time, so that one clock read serves both the
// caller and the bound.
func BoundFrom(ctx context.Context, now time.Time, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return ctx, noop
	}
	if dl, ok := ctx.Deadline(); ok && dl.Sub(now) <= d {
		return ctx, noop
	}
	return context.WithDeadlineCause(ctx, now.Add(d), errBound)
}

// CallerDone reports whether ctx has ended for a reason of the caller's:
// its cancellation or its own deadline, not a deadline set by Bound (at
// any level: the Cache's Timeout, a Timeout middleware). It is false while
// ctx is live.
func CallerDone(ctx context.Context) bool {
	return ctx.Err() != nil && context.Cause(ctx) != errBound
}
