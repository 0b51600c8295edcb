package redisstore

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Batching: concurrent Gets share MGETs and concurrent Sets share
// pipelines, "flush when the pipe is idle" (group commit). A caller that
// finds fewer than inFlight round trips of its kind under way sends its
// own command at once, on its own goroutine and context, as without
// batching; a caller that finds them all busy queues its request. The
// first round trip to finish hands the queue to a runner goroutine, which
// sends everything queued (up to maxSize) as one round trip, answers each
// caller, and repeats until the queue is empty. There is no timer: a lone
// caller never waits, and the busier the pipe, the larger the batches.
//
// Each queued caller waits on its own request and its own context: when
// its context ends first it leaves with the context's error, and a
// request that was still queued is withdrawn (never sent). A round trip
// runs on a context that carries the values of its first request, none of
// their cancellation, and the latest of their deadlines (no deadline if one
// of them has none), so that no caller's cancellation fails another's
// operation.

// Batching defaults (see BatchOptions).
const (
	// DefaultBatchInFlight is BatchOptions.InFlight's default.
	DefaultBatchInFlight = 2
	// DefaultBatchMaxSize is BatchOptions.MaxSize's default.
	DefaultBatchMaxSize = 128
)

// BatchOptions configures how a Store lets concurrent Gets and Sets share
// round trips (see "Batching" in the package documentation). The zero
// value means the defaults.
type BatchOptions struct {
	// Disabled turns batching off: every Get and Set is a round trip of
	// its own. Default: false (batching on).
	Disabled bool

	// InFlight is how many Get round trips (and, separately, how many Set
	// round trips) over the go-redis client (when the store does not
	// pipeline, see Conns) may be under way before further callers queue
	// to share the next one. Up to InFlight callers at a time go straight to the
	// server, each on its own connection, exactly as without batching.
	// Must not be negative. Default: DefaultBatchInFlight.
	InFlight int

	// Conns, when positive, is how many pipelined connections of its own
	// the store keeps to a standalone server for its Gets and Sets (see
	// "Batching" in the package documentation); 0 or -1 means none: Gets
	// and Sets go through the go-redis client, batched as InFlight and
	// MaxSize say. Unused for a Cluster, a Ring, a Sentinel failover
	// client, and a client with an OnConnect callback or a context or
	// streaming credentials provider. Default: DefaultBatchConns (none).
	Conns int

	// MaxSize is the largest number of queued Gets one MGET carries (or
	// Sets one pipeline carries) over the go-redis client; callers beyond
	// it share the next round trip. Must not be negative. Default: DefaultBatchMaxSize.
	MaxSize int
}

// Request states: a queued request is taken by a runner or withdrawn by
// its caller, whichever comes first.
const (
	reqQueued int32 = iota
	reqTaken
	reqWithdrawn
)

// request is one caller's operation waiting in a batcher.
type request[In, Out any] struct {
	ctx   context.Context
	in    In
	out   Out
	err   error
	state atomic.Int32
	done  chan struct{} // closed when out and err are set
}

// batcher queues requests of one kind while inFlight round trips are under
// way and runs them in shared round trips through exec.
type batcher[In, Out any] struct {
	inFlight, maxSize int
	// exec runs reqs in one round trip on ctx and sets each one's out and
	// err. It must not retain reqs.
	exec func(ctx context.Context, reqs []*request[In, Out])

	// queueAll, set only by tests, makes every request queue, so that a
	// lone caller's operation also runs through exec.
	queueAll bool

	mu      sync.Mutex
	busy    int // round trips under way: direct calls and runners
	pending []*request[In, Out]
}

func newBatcher[In, Out any](o BatchOptions, exec func(context.Context, []*request[In, Out])) *batcher[In, Out] {
	if o.Disabled {
		return nil
	}
	b := &batcher[In, Out]{inFlight: DefaultBatchInFlight, maxSize: DefaultBatchMaxSize, exec: exec}
	if o.InFlight > 0 {
		b.inFlight = o.InFlight
	}
	if o.MaxSize > 0 {
		b.maxSize = o.MaxSize
	}
	return b
}

// join either lets the caller send its command itself (direct is true:
// fewer than inFlight round trips are under way, and the caller must call
// done when its command has returned), or queues in and waits for its
// answer or for ctx to end. A request withdrawn (its ctx ended) before a
// runner took it is never sent.
func (b *batcher[In, Out]) join(ctx context.Context, in In) (direct bool, out Out, err error) {
	b.mu.Lock()
	if b.busy < b.inFlight && !b.queueAll {
		b.busy++
		b.mu.Unlock()
		return true, out, nil
	}
	r := &request[In, Out]{ctx: ctx, in: in, done: make(chan struct{})}
	b.pending = append(b.pending, r)
	if b.busy < b.inFlight { // queueAll, and the pipe is idle
		b.busy++
		go b.run()
	}
	b.mu.Unlock()
	select {
	case <-r.done:
		return false, r.out, r.err
	case <-ctx.Done():
	}
	if r.state.CompareAndSwap(reqQueued, reqWithdrawn) {
		return false, out, ctx.Err()
	}
	select {
	case <-r.done: // answered as ctx ended: keep the answer
		return false, r.out, r.err
	default: // under way: its outcome is unknown
		return false, out, ctx.Err()
	}
}

// done ends a direct call: when requests queued meanwhile, the round
// trip's slot passes to a runner that sends them.
func (b *batcher[In, Out]) done() {
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
func (b *batcher[In, Out]) run() {
	for {
		b.mu.Lock()
		n := len(b.pending)
		if n == 0 {
			b.busy--
			b.mu.Unlock()
			return
		}
		var batch []*request[In, Out]
		if n <= b.maxSize {
			batch, b.pending = b.pending, nil
		} else {
			batch = make([]*request[In, Out], b.maxSize)
			copy(batch, b.pending)
			m := copy(b.pending, b.pending[b.maxSize:])
			clear(b.pending[m:])
			b.pending = b.pending[:m]
		}
		b.mu.Unlock()
		live := batch[:0]
		for _, r := range batch {
			if r.state.CompareAndSwap(reqQueued, reqTaken) {
				live = append(live, r)
			}
		}
		if len(live) > 0 {
			b.runBatch(live)
		}
	}
}

// runBatch runs reqs in one round trip and answers them all, also when
// exec panics (the panic becomes each request's error).
func (b *batcher[In, Out]) runBatch(reqs []*request[In, Out]) {
	ctx, cancel := batchContext(reqs)
	defer func() {
		cancel()
		if p := recover(); p != nil {
			for _, r := range reqs {
				r.err = fmt.Errorf("redisstore: batch panicked: %v", p)
			}
		}
		for _, r := range reqs {
			close(r.done)
		}
	}()
	b.exec(ctx, reqs)
}

// batchContext returns the context a shared round trip runs on: the
// values of the first request's context, no cancellation, and the latest
// of the requests' deadlines, or none when one of them has none.
func batchContext[In, Out any](reqs []*request[In, Out]) (context.Context, context.CancelFunc) {
	ctx := context.WithoutCancel(reqs[0].ctx)
	var latest time.Time
	for _, r := range reqs {
		d, ok := r.ctx.Deadline()
		if !ok {
			return ctx, func() {}
		}
		if d.After(latest) {
			latest = d
		}
	}
	return context.WithDeadline(ctx, latest)
}
