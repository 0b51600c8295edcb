// Package flight is a typed, context-aware singleflight: concurrent
// callers for one key share one call, each caller stops waiting when its
// own context ends, and a shared call that does not return normally still
// releases every waiter: a panic reaches each of them as a panic (instead
// of a crash in another goroutine), and runtime.Goexit as ErrGoexit
// (instead of a hang).
package flight

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
)

// Group runs at most one call per key at a time. A zero Group is ready to
// use; a Group must not be copied after first use. It is safe for
// concurrent use.
type Group[V any] struct {
	mu    sync.Mutex
	calls map[string]*call[V]
}

// call is one shared call; its fields are written before done is closed
// (dups under the Group's mutex, while the call is in the map).
type call[V any] struct {
	done chan struct{}
	v    V
	err  error
	p    *PanicError
	dups int
	// abandoned (DoHere) means fn failed after its caller's ctx ended:
	// the joined callers start the call anew instead of taking err.
	abandoned bool
}

// PanicError is the value re-panicked in every waiter when the shared call
// panicked. It carries the original value and the stack of the panicking
// goroutine.
type PanicError struct {
	Value any
	Stack []byte
}

// Error describes the panic.
func (p *PanicError) Error() string {
	return fmt.Sprintf("cachet: shared call panicked: %v\n\n%s", p.Value, p.Stack)
}

// Unwrap returns the panic value when it is an error.
func (p *PanicError) Unwrap() error {
	err, _ := p.Value.(error)
	return err
}

// joinHook, when set by tests, is called once a caller has joined (or
// started) the call for key.
var joinHook atomic.Pointer[func(key string)]

// SetJoinHook makes every Do (of any Group or Batch) call f once its caller
// has joined, or started, the call for key, and returns a function that
// removes the hook. It exists for tests that must know that all their
// callers share one call before letting that call finish; f must be safe
// for concurrent use. Production code never sets it.
func SetJoinHook(f func(key string)) (reset func()) {
	joinHook.Store(&f)
	return func() { joinHook.Store(nil) }
}

func joined(key string) {
	if f := joinHook.Load(); f != nil {
		(*f)(key)
	}
}

// Do calls fn once for all concurrent callers with the same key and
// returns its result to each. fn runs in its own goroutine and is given a
// context detached from the first caller's cancellation (its values are
// kept); fn is responsible for bounding its own run time. A caller whose
// ctx ends first returns ctx's error while the call goes on for the
// others. shared reports whether the result was given to more than one
// caller. If fn panics, Do panics with a *PanicError in every caller; if
// fn calls runtime.Goexit, every caller gets ErrGoexit.
func (g *Group[V]) Do(ctx context.Context, key string, fn func(ctx context.Context) (V, error)) (v V, shared bool, err error) {
	c, started := g.join(key)
	if started {
		go g.run(context.WithoutCancel(ctx), key, c, fn)
	}
	joined(key)
	if err := wait(ctx, c); err != nil {
		var zero V
		return zero, false, err
	}
	return c.v, c.dups > 0, c.err
}

// join returns the call in flight for key, counting the caller as one
// more of its callers, or a new call registered for key (started true),
// which the caller must run.
func (g *Group[V]) join(key string) (c *call[V], started bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.calls == nil {
		g.calls = make(map[string]*call[V])
	}
	if c, ok := g.calls[key]; ok {
		c.dups++
		return c, false
	}
	c = &call[V]{done: make(chan struct{})}
	g.calls[key] = c
	return c, true
}

// wait waits until c is done or ctx ends (then it returns ctx's error),
// and re-panics c's panic in the caller.
func wait[V any](ctx context.Context, c *call[V]) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-c.done:
	}
	if c.p != nil {
		panic(c.p)
	}
	return nil
}

// run calls fn and publishes its outcome, however fn ends. A failure
// after ctx ended is marked abandoned (only DoHere's ctx can end: Do's is
// detached).
func (g *Group[V]) run(ctx context.Context, key string, c *call[V], fn func(ctx context.Context) (V, error)) {
	returned := false
	defer func() {
		if !returned {
			// fn called runtime.Goexit: only deferred calls run, so the
			// waiters are released here.
			c.err = ErrGoexit
		}
		g.finish(key, c)
	}()
	c.p = catch(func() { c.v, c.err = fn(ctx) })
	c.abandoned = c.p == nil && c.err != nil && ctx.Err() != nil
	returned = true
}

// finish ends c: later callers start a new call, and c's waiters get its
// outcome.
func (g *Group[V]) finish(key string, c *call[V]) {
	g.mu.Lock()
	if g.calls[key] == c {
		delete(g.calls, key)
	}
	g.mu.Unlock()
	close(c.done)
}

// catch runs f and returns its panic, if any, as a *PanicError. It tells a
// panic from runtime.Goexit, which it lets go on (recover returns nil for
// it): its caller knows f called Goexit when catch does not return, as in
// x/sync/singleflight's doCall double defer.
func catch(f func()) (p *PanicError) {
	defer func() {
		// recover is never nil for a panic, even panic(nil), since Go 1.21.
		if r := recover(); r != nil {
			p = &PanicError{Value: r, Stack: debug.Stack()}
		}
	}()
	f()
	return nil
}

// Forget makes the next Do for key start a new call even if one is in
// flight.
func (g *Group[V]) Forget(key string) {
	g.mu.Lock()
	delete(g.calls, key)
	g.mu.Unlock()
}

// ErrGoexit is the error every caller waiting on a shared call gets when
// the call's function exited with runtime.Goexit (as testing's FailNow
// does) instead of returning.
var ErrGoexit = errors.New("cachet: shared call exited with runtime.Goexit")
