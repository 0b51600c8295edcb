package memcachestore

import (
	"bytes"
	"context"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/cachet-go/cachet/internal/batch"
)

// Batching defaults (see BatchOptions).
const (
	// DefaultBatchInFlight is BatchOptions.InFlight's default.
	DefaultBatchInFlight = 2
	// DefaultBatchMaxSize is BatchOptions.MaxSize's default.
	DefaultBatchMaxSize = 128
)

// BatchOptions configures how a Store lets concurrent Gets share round
// trips (see "Batching" in the package documentation). The zero value
// means the defaults.
type BatchOptions struct {
	// Disabled turns batching off: every Get is a round trip of its own.
	// Default: false (batching on).
	Disabled bool

	// InFlight is how many single-key get round trips may be under way
	// before further callers queue to share the next one. Up to InFlight
	// callers at a time go straight to the server, each on its own
	// connection, exactly as without batching. Must not be negative.
	// Default: DefaultBatchInFlight.
	InFlight int

	// MaxSize is the largest number of queued Gets one GetMulti carries;
	// callers beyond it share the next round trip. Must not be negative.
	// Default: DefaultBatchMaxSize.
	MaxSize int
}

// newGetBatcher returns the batcher of s's single-key gets as o says, or
// nil when batching is disabled.
func (s *Store) newGetBatcher(o BatchOptions) *batch.Batcher[string, *memcache.Item] {
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
	b := batch.New(inFlight, maxSize, s.execGets)
	// A queued get waits at most one client Timeout, as a direct one does
	// (RoundTripTimeout promises that bound), not also for the round
	// trips under way before its own.
	b.MaxWait = s.timeout
	return b
}

// get1 gets one physical key (with its CAS id): on the caller's
// goroutine while fewer than InFlight gets are under way, else queued to
// share the next GetMulti.
func (s *Store) get1(ctx context.Context, pk string) (*memcache.Item, error) {
	if s.gets != nil {
		direct, it, err := s.gets.Join(ctx, pk)
		if !direct {
			return it, err
		}
		defer s.gets.Done()
	}
	if !s.async(ctx) { // the common path, without a closure
		it, err := s.client.Get(pk)
		for i := 1; i < s.attempts && brokenConn(err); i++ {
			it, err = s.client.Get(pk)
		}
		return it, err
	}
	return do(s, ctx, func() (*memcache.Item, error) { return s.client.Get(pk) })
}

// execGets runs queued gets in one GetMulti (one round trip per server
// holding some of the keys), bounded by the client's Timeout; a queued
// caller waits for it only as long as its own context allows. Each caller
// gets its own item: a key asked for twice is copied.
func (s *Store) execGets(reqs []*batch.Request[string, *memcache.Item]) {
	pks := make([]string, len(reqs))
	for i, r := range reqs {
		pks[i] = r.In
	}
	m, err := retry(s, func() (map[string]*memcache.Item, error) { return s.client.GetMulti(pks) })
	for i, r := range reqs {
		if err != nil {
			r.Err = err
			continue
		}
		it, ok := m[r.In]
		switch {
		case !ok:
			r.Err = memcache.ErrCacheMiss
		case it != nil:
			r.Out, m[r.In] = it, nil // nil: handed out
		default: // asked for again in this batch: a copy of the first
			for _, q := range reqs[:i] {
				if q.In == r.In && q.Out != nil {
					c := *q.Out
					c.Value = bytes.Clone(c.Value)
					r.Out = &c
					break
				}
			}
		}
	}
}
