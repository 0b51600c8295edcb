// Package batch lets concurrent single-key operations share round trips
// ("flush when the pipe is idle", group commit), for the network stores:
// redisstore's Gets (one MGET) and Sets (one pipeline), memcachestore's
// Gets (one GetMulti).
//
// A caller that finds fewer than InFlight round trips of its kind under
// way sends its own command at once, on its own goroutine and context, as
// without batching; a caller that finds them all busy queues its request.
// The first round trip to finish hands the queue to a runner goroutine,
// which sends everything queued (up to MaxSize) as one round trip,
// answers each caller, and repeats until the queue is empty. There is no
// timer: a lone caller never waits, and the busier the pipe, the larger
// the batches.
//
// Each queued caller waits on its own request and its own context: when
// its context ends first it leaves with the context's error, and a
// request that was still queued is withdrawn (never sent). An operation
// that needs a context for its shared round trip takes it from [Context],
// which carries no caller's cancellation, so that no caller's
// cancellation fails another's operation.
package batch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachet-go/cachet/internal/deadline"
)

// Request states: a queued request is taken by a runner or withdrawn by
// its caller, whichever comes first.
const (
	queued int32 = iota
	taken
	withdrawn
)

// Request is one caller's operation waiting in a Batcher. Exec reads Ctx
// and In and sets Out and Err.
type Request[In, Out any] struct {
	Ctx   context.Context
	In    In
	Out   Out
	Err   error
	state atomic.Int32
	done  chan struct{} // receives once, when Out and Err are set
}

// ErrMaxWait is returned (wrapped) by Join to a queued caller that got no
// answer within the Batcher's MaxWait. It matches context.DeadlineExceeded
// and os.ErrDeadlineExceeded, and is a timeout net.Error, as a round trip
// that timed out at a deadline or on a socket is.
var ErrMaxWait error = maxWaitError{}

type maxWaitError struct{}

func (maxWaitError) Error() string   { return "batch: no answer within the wait bound" }
func (maxWaitError) Timeout() bool   { return true }
func (maxWaitError) Temporary() bool { return true }

func (maxWaitError) Is(target error) bool {
	return target == context.DeadlineExceeded || target == os.ErrDeadlineExceeded
}

// requests recycles the Requests whose answers their callers received
// (a withdrawn or abandoned one may still be referenced by a runner, and
// is left to the garbage collector). A pool per Batcher: Requests of
// different In and Out are different types.
type requests[In, Out any] struct{ sync.Pool }

func (p *requests[In, Out]) get() *Request[In, Out] {
	if r, ok := p.Get().(*Request[In, Out]); ok {
		return r
	}
	return &Request[In, Out]{done: make(chan struct{}, 1)}
}

// put recycles r, whose answer its caller has received.
func (p *requests[In, Out]) put(r *Request[In, Out]) {
	*r = Request[In, Out]{done: r.done}
	p.Put(r)
}

// waitSteps is the number of wait-clock ticks in MaxWait: a bounded
// caller leaves between MaxWait and MaxWait plus one tick after it queued.
const waitSteps = 16

// minWaitStep is the shortest tick of the wait clock.
const minWaitStep = 100 * time.Microsecond

// Batcher queues requests of one kind while InFlight round trips are under
// way and runs them in shared round trips through its exec function. It
// is safe for concurrent use; a nil *Batcher is not (callers check).
type Batcher[In, Out any] struct {
	inFlight, maxSize int
	// exec runs reqs in one round trip and sets each one's Out and Err.
	// It must not retain reqs.
	exec func(reqs []*Request[In, Out])

	// QueueAll, set only by tests before use, makes every request queue,
	// so that a lone caller's operation also runs through exec.
	QueueAll bool

	// MaxWait, when positive, bounds how long a queued caller waits for
	// its answer, also when its context has no deadline or a later one:
	// past it, Join returns ErrMaxWait. A store whose round trips are
	// bounded by a client timeout (and that promises that bound to its
	// callers) sets it to that timeout, so that a caller queued behind
	// round trips hung on an unresponsive server is not held for several
	// timeouts. Set before use.
	//
	// The bound costs a queued caller no timer of its own: while bounded
	// callers wait, one clock goroutine per Batcher ticks every
	// MaxWait/16, and a caller leaves at the first tick at least MaxWait
	// after it queued (so within MaxWait/16 past it).
	MaxWait time.Duration

	mu      sync.Mutex
	busy    int // round trips under way: direct calls and runners
	pending []*Request[In, Out]
	closed  error // set by Close: every later Join fails with it
	pool    requests[In, Out]

	// The wait clock, running while waiting > 0: tick is closed and
	// replaced at every tick, ticks counts them, step is their interval.
	// tick is nil while the clock is stopped. Guarded by mu.
	tick    chan struct{}
	ticks   uint64
	step    time.Duration
	waiting atomic.Int32 // bounded callers waiting
}

// New returns a Batcher that lets inFlight round trips run at once
// before callers queue, and sends at most maxSize queued requests in one
// round trip through exec. Both must be positive.
func New[In, Out any](inFlight, maxSize int, exec func(reqs []*Request[In, Out])) *Batcher[In, Out] {
	return &Batcher[In, Out]{inFlight: inFlight, maxSize: maxSize, exec: exec}
}

// Pending returns the number of queued requests (for tests).
func (b *Batcher[In, Out]) Pending() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.pending)
}

// Join either lets the caller send its command itself (direct is true:
// fewer than inFlight round trips are under way, and the caller must call
// Done when its command has returned), or queues in and waits for its
// answer or for ctx to end. A request withdrawn (its ctx ended) before a
// runner took it is never sent.
func (b *Batcher[In, Out]) Join(ctx context.Context, in In) (direct bool, out Out, err error) {
	b.mu.Lock()
	if b.closed != nil {
		err = b.closed
		b.mu.Unlock()
		return false, out, err
	}
	if b.busy < b.inFlight && !b.QueueAll {
		b.busy++
		b.mu.Unlock()
		return true, out, nil
	}
	w := b.MaxWait
	bounded := false
	if w > 0 {
		dl, ok := ctx.Deadline()
		bounded = !ok || time.Until(dl) > w
	}
	r := b.pool.get()
	r.Ctx, r.In = ctx, in
	b.pending = append(b.pending, r)
	if b.busy < b.inFlight { // QueueAll, and the pipe is idle
		b.busy++
		go b.run()
	}
	// tick is nil (never ready) without a MaxWait bound.
	var tick chan struct{}
	var due uint64
	if bounded {
		b.waiting.Add(1)
		if b.tick == nil {
			b.step = max(w/waitSteps, minWaitStep)
			b.tick = make(chan struct{})
			go b.clock(b.step)
		}
		// The first tick may come at once: one more than MaxWait holds.
		due = b.ticks + uint64((w+b.step-1)/b.step) + 1
		tick = b.tick
	}
	b.mu.Unlock()
	var end error
wait:
	for {
		select {
		case <-r.done:
			b.unwait(bounded)
			return b.answer(r)
		case <-ctx.Done():
			end = ctx.Err()
			break wait
		case <-tick:
			b.mu.Lock()
			now := b.ticks
			tick = b.tick
			b.mu.Unlock()
			if now >= due {
				end = ErrMaxWait
				break wait
			}
		}
	}
	b.unwait(bounded)
	if r.state.CompareAndSwap(queued, withdrawn) {
		return false, out, end
	}
	select {
	case <-r.done: // answered as the wait ended: keep the answer
		return b.answer(r)
	default: // under way: its outcome is unknown
		return false, out, end
	}
}

// unwait ends a bounded caller's wait on the clock.
func (b *Batcher[In, Out]) unwait(bounded bool) {
	if bounded {
		b.waiting.Add(-1)
	}
}

// clock ticks every step while bounded callers wait, and stops at the
// first tick that finds none.
func (b *Batcher[In, Out]) clock(step time.Duration) {
	t := time.NewTimer(step)
	defer t.Stop()
	for {
		<-t.C
		b.mu.Lock()
		b.ticks++
		close(b.tick)
		if b.waiting.Load() == 0 {
			b.tick = nil
			b.mu.Unlock()
			return
		}
		b.tick = make(chan struct{})
		b.mu.Unlock()
		t.Reset(step)
	}
}

// Close makes every queued request (not yet taken by a runner) and every
// later Join fail with err, which must not be nil; requests already taken
// get their round trip's answer. Close may be called more than once: the
// first err stays.
func (b *Batcher[In, Out]) Close(err error) {
	if err == nil {
		err = errors.New("batch: closed")
	}
	b.mu.Lock()
	if b.closed == nil {
		b.closed = err
	}
	err = b.closed
	pending := b.pending
	b.pending = nil
	b.mu.Unlock()
	for _, r := range pending {
		if r.state.CompareAndSwap(queued, taken) {
			r.Err = err
			r.done <- struct{}{}
		}
	}
}

// answer returns r's answer, received by its caller, and recycles r.
func (b *Batcher[In, Out]) answer(r *Request[In, Out]) (direct bool, out Out, err error) {
	out, err = r.Out, r.Err
	b.pool.put(r)
	return false, out, err
}

// Done ends a direct call: when requests queued meanwhile, the round
// trip's slot passes to a runner that sends them.
func (b *Batcher[In, Out]) Done() {
	b.mu.Lock()
	if len(b.pending) == 0 {
		b.busy--
		b.mu.Unlock()
		return
	}
	b.mu.Unlock()
	go b.run()
}

// run sends queued requests, maxSize at a time, until none are left, and
// then gives back its round-trip slot.
func (b *Batcher[In, Out]) run() {
	var batch []*Request[In, Out]
	for {
		b.mu.Lock()
		n := len(b.pending)
		if n == 0 {
			b.busy--
			b.mu.Unlock()
			return
		}
		if n <= b.maxSize {
			// Swap the queue with the previous batch's (emptied) slice,
			// so that a busy pipe allocates no new queue per round trip.
			batch, b.pending = b.pending, batch[:0]
		} else {
			batch = append(batch[:0], b.pending[:b.maxSize]...)
			m := copy(b.pending, b.pending[b.maxSize:])
			clear(b.pending[m:])
			b.pending = b.pending[:m]
		}
		b.mu.Unlock()
		live := batch[:0]
		for _, r := range batch {
			if r.state.CompareAndSwap(queued, taken) {
				live = append(live, r)
			}
		}
		if len(live) > 0 {
			b.runBatch(live)
		}
		clear(batch[:cap(batch)])
	}
}

// runBatch runs reqs in one round trip and answers them all, also when
// exec panics (the panic becomes each request's error).
func (b *Batcher[In, Out]) runBatch(reqs []*Request[In, Out]) {
	defer func() {
		if p := recover(); p != nil {
			for _, r := range reqs {
				r.Err = fmt.Errorf("batch panicked: %v", p)
			}
		}
		for _, r := range reqs {
			r.done <- struct{}{} // r's last use here: its caller may recycle it
		}
	}()
	b.exec(reqs)
}

// Context returns the context a shared round trip runs on: the values of
// the first request's context, no cancellation, and the latest of the
// requests' deadlines, or none when one of them has none.
func Context[In, Out any](reqs []*Request[In, Out]) (context.Context, context.CancelFunc) {
	ctx := context.WithoutCancel(reqs[0].Ctx)
	var latest time.Time
	for _, r := range reqs {
		d, ok := r.Ctx.Deadline()
		if !ok {
			return ctx, deadline.Noop
		}
		if d.After(latest) {
			latest = d
		}
	}
	return context.WithDeadline(ctx, latest)
}
