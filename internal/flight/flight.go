// Package flight is a typed, context-aware layer over
// golang.org/x/sync/singleflight: concurrent callers for one key share one
// call, each caller stops waiting when its own context ends, and a panic in
// the shared call reaches every waiter as a panic instead of a hang or a
// crash in another goroutine.
package flight

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync/atomic"

	"golang.org/x/sync/singleflight"
)

// Group runs at most one call per key at a time. A zero Group is ready to
// use; a Group must not be copied after first use. It is safe for
// concurrent use.
type Group[V any] struct {
	g singleflight.Group
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

type outcome[V any] struct {
	v V
	p *PanicError
}

// Do calls fn once for all concurrent callers with the same key and
// returns its result to each. fn runs in its own goroutine and is given a
// context detached from the first caller's cancellation (its values are
// kept); fn is responsible for bounding its own run time. A caller whose
// ctx ends first returns ctx's error while the call goes on for the
// others. shared reports whether the result was given to more than one
// caller.
func (g *Group[V]) Do(ctx context.Context, key string, fn func(ctx context.Context) (V, error)) (v V, shared bool, err error) {
	detached := context.WithoutCancel(ctx)
	ch := g.g.DoChan(key, func() (res any, err error) {
		defer func() {
			if r := recover(); r != nil {
				res, err = outcome[V]{p: &PanicError{Value: r, Stack: debug.Stack()}}, nil
			}
		}()
		val, err := fn(detached)
		return outcome[V]{v: val}, err
	})
	joined(key)
	select {
	case <-ctx.Done():
		var zero V
		return zero, false, ctx.Err()
	case r := <-ch:
		o, _ := r.Val.(outcome[V])
		if o.p != nil {
			panic(o.p)
		}
		return o.v, r.Shared, r.Err
	}
}

// Forget makes the next Do for key start a new call even if one is in
// flight.
func (g *Group[V]) Forget(key string) { g.g.Forget(key) }
