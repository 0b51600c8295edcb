package redisstore

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachet-go/cachet/internal/deadline"
)

// DeadlineHook returns a go-redis hook that gives a command or pipeline
// whose context has no deadline a deadline d from now (up to
// DeadlineWindow later); contexts with a deadline are left as they are.
// A d of zero or less gives a hook that changes nothing. [Open] adds one
// (Options.ContextTimeout); add it to a client given to [New] whose
// socket timeouts are off (-1) so that a hung server cannot block a call
// without a deadline forever.
//
// Commands whose contexts can never be cancelled (context.Background, or
// values over it) that start within the same DeadlineWindow share one
// deadline context, and each gets a small context that carries its own
// values over it: the hook then costs one small allocation per command,
// not a timer of its own. A context that can be cancelled gets its own
// context.WithTimeout.
func DeadlineHook(d time.Duration) redis.Hook { return &deadlineHook{d: d} }

// DeadlineWindow is how much later than DeadlineHook's d a deadline it
// gives may be: the width of the windows that share a deadline.
const DeadlineWindow = 10 * time.Millisecond

type deadlineHook struct {
	d   time.Duration
	cur atomic.Pointer[deadlineWindow] // the latest window
}

// deadlineWindow is the deadline shared by the commands that start in one
// window of time.
type deadlineWindow struct {
	slot int64           // start time / DeadlineWindow
	ctx  context.Context // deadline (slot+1)*DeadlineWindow + d; no values
	// cancel releases ctx; its own timer does so at the deadline, which is
	// when the window is done with (commands cancel nothing early).
	cancel context.CancelFunc
}

func (h *deadlineHook) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok || h.d <= 0 {
		return ctx, deadline.Noop
	}
	if ctx.Done() != nil {
		return context.WithTimeout(ctx, h.d)
	}
	slot := time.Now().UnixNano() / int64(DeadlineWindow)
	w := h.cur.Load()
	if w == nil || w.slot != slot {
		nw := &deadlineWindow{slot: slot}
		dl := time.Unix(0, (slot+1)*int64(DeadlineWindow)).Add(h.d)
		nw.ctx, nw.cancel = context.WithDeadline(context.Background(), dl)
		switch {
		case h.cur.CompareAndSwap(w, nw):
			w = nw
		default:
			// Another command made this window's first: share it.
			if o := h.cur.Load(); o != nil && o.slot == slot {
				nw.cancel()
				w = o
			} else {
				w = nw
			}
		}
	}
	return &windowCtx{Context: ctx, win: w.ctx}, deadline.Noop
}

// windowCtx is a command's context under a shared deadline: the values of
// its caller's context (which can never be cancelled), and the deadline,
// Done, Err and cancellation callbacks of its window.
type windowCtx struct {
	context.Context                 // the caller's, for Value
	win             context.Context // the window's
}

func (c *windowCtx) Deadline() (time.Time, bool) { return c.win.Deadline() }
func (c *windowCtx) Done() <-chan struct{}       { return c.win.Done() }
func (c *windowCtx) Err() error                  { return c.win.Err() }

// AfterFunc lets a context derived from c (context.WithCancel and the
// like) follow c's end through the window's, with no goroutine of its own
// (the context package looks for this method).
func (c *windowCtx) AfterFunc(f func()) func() bool { return context.AfterFunc(c.win, f) }

func (c *windowCtx) String() string { return "redisstore.DeadlineHook context" }

func (h *deadlineHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *deadlineHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		ctx, cancel := h.bound(ctx)
		defer cancel()
		return next(ctx, cmd)
	}
}

func (h *deadlineHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		ctx, cancel := h.bound(ctx)
		defer cancel()
		return next(ctx, cmds)
	}
}
