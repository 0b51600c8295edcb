package redisstore

import "github.com/cachet-go/cachet/internal/batch"

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

// newBatcher returns the batcher of one kind of operation as o says, or
// nil when batching is disabled.
func newBatcher[In, Out any](o BatchOptions, exec func([]*batch.Request[In, Out])) *batch.Batcher[In, Out] {
	if o.Disabled {
		return nil
	}
	inFlight, maxSize := DefaultBatchInFlight, DefaultBatchMaxSize
	if o.InFlight > 0 {
		inFlight = o.InFlight
	}
	if o.MaxSize > 0 {
		maxSize = o.MaxSize
	}
	return batch.New(inFlight, maxSize, exec)
}
