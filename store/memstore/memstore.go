package memstore

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cachet-go/cachet/store"
	"github.com/maypok86/otter/v2"
)

// DefaultMaxBytes is the byte bound of a store whose Options.MaxBytes is
// zero: 64 MiB.
const DefaultMaxBytes = 64 << 20

// EntryOverhead is the number of bytes each entry is counted for on top of
// the length of its key and value when the store is bounded by bytes. It
// approximates the memory the engine and the store spend per entry.
const EntryOverhead = 96

// Options configures a [Store]. A nil *Options is the same as the zero
// Options: at most [DefaultMaxBytes] bytes and no bound on the number of
// entries.
type Options struct {
	// MaxEntries bounds the number of entries. Zero, the default, means
	// that only the byte bound applies. It must not be negative.
	MaxEntries int

	// MaxBytes bounds the total size of the entries, each counted as
	// len(key) + len(value) + EntryOverhead. Zero, the default, means
	// DefaultMaxBytes (64 MiB). A negative value removes the byte bound:
	// with MaxEntries also zero the store is then unbounded. A single
	// entry larger than MaxBytes (or than 4 GiB) is refused with
	// store.ErrInvalidValue.
	MaxBytes int64

	// OnRemove, when not nil, is called with the key and the reason each
	// time an entry leaves the store or its value is replaced. It never
	// blocks the caller: the calls run on a goroutine of the store's, one
	// at a time, in the order the entries left the store, possibly after
	// the operation that removed the entry has returned. A slow OnRemove
	// delays the calls after it (they queue), never an operation. A panic
	// in OnRemove is recovered and discarded. Close removes, and reports
	// as Deleted, every entry.
	OnRemove func(key string, reason RemovalReason)
}

// RemovalReason tells [Options.OnRemove] why an entry left the store.
type RemovalReason int

const (
	// Expired means the entry's ttl had passed, whatever removed it: the
	// engine reclaiming it, or a Delete, Clear, Set, Add, Increment or
	// Expire finding it expired.
	Expired RemovalReason = iota + 1
	// Evicted means the entry was evicted to keep the store within its
	// bounds (MaxBytes, MaxEntries).
	Evicted
	// Deleted means Delete, Clear or Close removed the live entry.
	Deleted
	// Replaced means a write replaced the live entry: Set, SetMany,
	// Increment, or Expire, which rewrites the entry with its new ttl.
	Replaced
)

// String returns the reason's name in lower case ("expired", "evicted",
// "deleted", "replaced").
func (r RemovalReason) String() string {
	switch r {
	case Expired:
		return "expired"
	case Evicted:
		return "evicted"
	case Deleted:
		return "deleted"
	case Replaced:
		return "replaced"
	}
	return "RemovalReason(" + strconv.Itoa(int(r)) + ")"
}

// reasonOf maps the engine's cause. The engine reports an entry found
// expired as expired whatever removed it: its deadline is the entry's.
func reasonOf(c otter.DeletionCause) RemovalReason {
	switch c {
	case otter.CauseExpiration:
		return Expired
	case otter.CauseOverflow:
		return Evicted
	case otter.CauseReplacement:
		return Replaced
	}
	return Deleted
}

// Store is a bounded in-process [store.Store]. When a bound is reached it
// evicts the entries least likely to be used again (W-TinyLFU), so a Get
// may miss a key that was stored without a ttl. ttls have nanosecond
// precision and an expired entry is never visible to any operation.
// Values are copied in and out: no caller can change what the store holds
// through a slice it passed or got back.
//
// A Store is safe for concurrent use by multiple goroutines.
type Store struct {
	cache     *otter.Cache[string, item]
	clock     *clock
	maxWeight uint64 // heaviest entry accepted (0: any)
	minWeight uint32 // lightest weight of an entry, so that MaxEntries also holds
	weighted  bool
	closed    atomic.Bool
	opts      Options // as given to New
}

var (
	_ store.Store  = (*Store)(nil)
	_ store.Lender = (*Store)(nil)
	_ store.Finder = (*Store)(nil)
)

// item is what the engine holds for a key. Its value is never changed in
// place: a write replaces the item.
type item struct {
	value []byte
	exp   int64 // expiry on the store's clock; 0 means none
}

// clock is the time source of the store and of its engine, so that the
// engine's deadline for an entry is exactly the entry's exp and a read can
// check exp against the time the engine read, without reading the clock
// again. It counts monotonic nanoseconds from the store's creation.
type clock struct {
	start  time.Time
	ticker atomic.Pointer[time.Ticker]
}

// NowNano returns the nanoseconds since the clock started, plus one so
// that it is never 0.
func (c *clock) NowNano() int64 { return int64(time.Since(c.start)) + 1 }

// Tick drives the engine's periodic clean-up; stop stops it.
func (c *clock) Tick(d time.Duration) <-chan time.Time {
	t := time.NewTicker(d)
	if old := c.ticker.Swap(t); old != nil {
		old.Stop()
	}
	return t.C
}

func (c *clock) stop() {
	if t := c.ticker.Swap(nil); t != nil {
		t.Stop()
	}
}

// New returns an empty Store with the bounds of o (defaults when o is nil).
func New(o *Options) (*Store, error) {
	var opts Options
	if o != nil {
		opts = *o
	}
	if opts.MaxEntries < 0 {
		return nil, fmt.Errorf("memstore: MaxEntries is %d; want 0 or more", opts.MaxEntries)
	}
	s := &Store{clock: &clock{start: time.Now()}, opts: opts}
	if opts.MaxBytes == 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	oo := &otter.Options[string, item]{
		ExpiryCalculator: otter.ExpiryWritingFunc(expiresAfter),
		Clock:            s.clock,
		Logger:           &otter.NoopLogger{},
	}
	if f := opts.OnRemove; f != nil {
		n := &notifier{f: f}
		oo.OnAtomicDeletion = func(e otter.DeletionEvent[string, item]) { n.add(e.Key, reasonOf(e.Cause)) }
	}
	switch {
	case opts.MaxBytes > 0:
		s.weighted = true
		s.maxWeight = uint64(opts.MaxBytes)
		if s.maxWeight > math.MaxUint32 {
			s.maxWeight = math.MaxUint32
		}
		if opts.MaxEntries > 0 {
			// Every entry weighs at least MaxBytes/MaxEntries, so the
			// weight bound also bounds the number of entries.
			per := (uint64(opts.MaxBytes) + uint64(opts.MaxEntries) - 1) / uint64(opts.MaxEntries)
			s.minWeight = uint32(min(per, math.MaxUint32))
		}
		oo.MaximumWeight = uint64(opts.MaxBytes)
		oo.Weigher = s.weigh
		oo.InitialCapacity = sketchCapacity(opts.MaxBytes, opts.MaxEntries)
	case opts.MaxEntries > 0:
		oo.MaximumSize = opts.MaxEntries
	}
	c, err := otter.New(oo)
	if err != nil {
		return nil, fmt.Errorf("memstore: %w", err)
	}
	s.cache = c
	return s, nil
}

// assumedEntryBytes is the average entry size a store bounded only by bytes
// is sized for up front (see sketchCapacity).
const assumedEntryBytes = 1 << 10

// sketchCapacity returns the number of entries a weighted engine is sized
// for up front (otter's InitialCapacity), which sizes its hash table and,
// above all, its frequency sketch.
//
// Without it a weighted otter sizes the sketch lazily for the entries it
// holds, and reallocates it, forgetting every frequency, each time the
// count of entries it holds passes the next power of two. A write burst
// does that: the engine applies writes in batches of up to 128 × GOMAXPROCS
// (rounded up to a power of two) before it evicts, so a small store
// briefly holds that many more entries, the sketch is rebuilt, and
// frequently read entries lose to one-hit wonders. Sizing it once for the
// bound plus two batches keeps it for the store's life, unless a store
// bounded only by bytes holds far more, smaller, entries than assumed.
// The cost is about 25 bytes per entry of capacity, allocated up front.
func sketchCapacity(maxBytes int64, maxEntries int) int {
	n := maxBytes / assumedEntryBytes
	if maxEntries > 0 {
		n = min(int64(maxEntries), maxBytes/EntryOverhead)
	}
	batch := int64(128 * roundUpPow2(min(runtime.GOMAXPROCS(0), runtime.NumCPU())))
	return int(min(n, math.MaxInt32) + 2*batch)
}

func roundUpPow2(n int) int {
	p := 1
	for p < n {
		p <<= 1
	}
	return p
}

// Options returns the options the store was created with, as given to
// [New]: a zero MaxBytes stands for [DefaultMaxBytes].
func (s *Store) Options() Options { return s.opts }

// Must is like [New] but panics when the options are invalid.
func Must(o *Options) *Store {
	s, err := New(o)
	if err != nil {
		panic(err)
	}
	return s
}

// expiry returns the item expiry for a ttl given now (0: no expiry).
func (s *Store) expiry(ttl time.Duration) int64 {
	if ttl <= 0 {
		return 0
	}
	exp := s.clock.NowNano() + int64(ttl)
	if exp < 0 { // overflow: as good as never
		return 0
	}
	return exp
}

// live reports whether it has not expired now.
func (s *Store) live(it item) bool {
	return it.exp == 0 || s.clock.NowNano() < it.exp
}

// liveAt reports whether the entry e, read from the engine, had not
// expired when the engine read it. The engine makes the same check; doing
// it here too keeps the store's promise independent of the engine's.
func liveAt(e otter.Entry[string, item]) bool {
	return e.Value.exp == 0 || e.SnapshotAtNano < e.Value.exp
}

// expiresAfter tells the engine how long an entry written at
// e.SnapshotAtNano lives, so that its deadline is exactly e.Value.exp.
func expiresAfter(e otter.Entry[string, item]) time.Duration {
	if e.Value.exp == 0 {
		return math.MaxInt64
	}
	return max(time.Duration(e.Value.exp-e.SnapshotAtNano), 1)
}

func (s *Store) weigh(key string, it item) uint32 {
	w := uint64(len(key)) + uint64(len(it.value)) + EntryOverhead
	if w > math.MaxUint32 {
		w = math.MaxUint32
	}
	return max(uint32(w), s.minWeight)
}

// begin makes the checks every operation starts with.
func (s *Store) begin(ctx context.Context, op store.Op, key string) error {
	if s.closed.Load() {
		return &store.Error{Op: op.String(), Key: key, Err: store.ErrClosed}
	}
	if err := ctx.Err(); err != nil {
		return &store.Error{Op: op.String(), Key: key, Err: err}
	}
	return nil
}

// checkEntry validates a key and value about to be written.
func (s *Store) checkEntry(op store.Op, key string, value []byte) error {
	if err := store.CheckKey(op.String(), key); err != nil {
		return err
	}
	if err := store.CheckValue(op.String(), key, value); err != nil {
		return err
	}
	if s.weighted && uint64(len(key))+uint64(len(value))+EntryOverhead > s.maxWeight {
		return &store.Error{Op: op.String(), Key: key, Err: fmt.Errorf("%w: %d bytes do not fit in a store of at most %d bytes", store.ErrInvalidValue, len(value), s.maxWeight)}
	}
	return nil
}

func clone(b []byte) []byte {
	c := make([]byte, len(b))
	copy(c, b)
	return c
}

func notFound(op store.Op, key string) error {
	return &store.Error{Op: op.String(), Key: key, Err: store.ErrNotFound}
}

// Get returns a copy of the value stored under key, or an error wrapping
// store.ErrNotFound.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	if err := s.begin(ctx, store.OpGet, key); err != nil {
		return nil, err
	}
	if err := store.CheckKey(store.OpGet.String(), key); err != nil {
		return nil, err
	}
	e, ok := s.cache.GetEntry(key)
	if !ok || !liveAt(e) {
		return nil, notFound(store.OpGet, key)
	}
	return clone(e.Value.value), nil
}

// GetMany returns a copy of the value of each key, nil for a missing one.
func (s *Store) GetMany(ctx context.Context, keys []string) ([][]byte, error) {
	if err := s.begin(ctx, store.OpGetMany, firstKey(keys)); err != nil {
		return nil, err
	}
	for _, k := range keys {
		if err := store.CheckKey(store.OpGetMany.String(), k); err != nil {
			return nil, err
		}
	}
	out := make([][]byte, len(keys))
	for i, k := range keys {
		if e, ok := s.cache.GetEntry(k); ok && liveAt(e) {
			out[i] = clone(e.Value.value)
		}
	}
	return out, nil
}

func firstKey(keys []string) string {
	if len(keys) == 0 {
		return ""
	}
	return keys[0]
}

// Set stores a copy of value under key; ttl <= 0 means no expiry.
func (s *Store) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := s.begin(ctx, store.OpSet, key); err != nil {
		return err
	}
	if err := s.checkEntry(store.OpSet, key, value); err != nil {
		return err
	}
	s.cache.Set(key, item{value: clone(value), exp: s.expiry(ttl)})
	return nil
}

// SetMany stores a copy of every entry. It checks all entries before it
// stores any, so bad input stores nothing.
func (s *Store) SetMany(ctx context.Context, entries []store.Entry, ttl time.Duration) error {
	var first string
	if len(entries) > 0 {
		first = entries[0].Key
	}
	if err := s.begin(ctx, store.OpSetMany, first); err != nil {
		return err
	}
	for _, e := range entries {
		if err := s.checkEntry(store.OpSetMany, e.Key, e.Value); err != nil {
			return err
		}
	}
	exp := s.expiry(ttl)
	for _, e := range entries {
		s.cache.Set(e.Key, item{value: clone(e.Value), exp: exp})
	}
	return nil
}

// Add stores a copy of value under key only if key holds no live value,
// atomically; otherwise it returns an error wrapping store.ErrExists.
func (s *Store) Add(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := s.begin(ctx, store.OpAdd, key); err != nil {
		return err
	}
	if err := s.checkEntry(store.OpAdd, key, value); err != nil {
		return err
	}
	exists := false
	s.cache.Compute(key, func(old item, found bool) (item, otter.ComputeOp) {
		if found && s.live(old) {
			exists = true
			return old, otter.CancelOp
		}
		return item{value: clone(value), exp: s.expiry(ttl)}, otter.WriteOp
	})
	if exists {
		return &store.Error{Op: store.OpAdd.String(), Key: key, Err: store.ErrExists}
	}
	return nil
}

// Delete removes the keys and returns how many held a live value.
func (s *Store) Delete(ctx context.Context, keys ...string) (int, error) {
	if err := s.begin(ctx, store.OpDelete, firstKey(keys)); err != nil {
		return 0, err
	}
	for _, k := range keys {
		if err := store.CheckKey(store.OpDelete.String(), k); err != nil {
			return 0, err
		}
	}
	n := 0
	for _, k := range keys {
		if it, ok := s.cache.Invalidate(k); ok && s.live(it) {
			n++
		}
	}
	return n, nil
}

// Exists reports whether key holds a live value.
func (s *Store) Exists(ctx context.Context, key string) (bool, error) {
	if err := s.begin(ctx, store.OpExists, key); err != nil {
		return false, err
	}
	if err := store.CheckKey(store.OpExists.String(), key); err != nil {
		return false, err
	}
	e, ok := s.cache.GetEntry(key)
	return ok && liveAt(e), nil
}

// Increment atomically adds delta to the decimal integer stored under key
// (0 when missing) and returns the result. The key keeps its ttl. As on
// Redis, only a canonical decimal counts as an integer: a value with a '+',
// a leading zero, "-0" or spaces gives an error wrapping
// store.ErrNotInteger.
func (s *Store) Increment(ctx context.Context, key string, delta int64) (int64, error) {
	if err := s.begin(ctx, store.OpIncrement, key); err != nil {
		return 0, err
	}
	if err := store.CheckKey(store.OpIncrement.String(), key); err != nil {
		return 0, err
	}
	var (
		n   int64
		err error
	)
	s.cache.Compute(key, func(old item, found bool) (item, otter.ComputeOp) {
		var cur int64
		exp := int64(0)
		if found && s.live(old) {
			v, ok := parseInt(old.value)
			if !ok {
				err = fmt.Errorf("%w: %q", store.ErrNotInteger, truncate(old.value))
				return old, otter.CancelOp
			}
			cur, exp = v, old.exp
		}
		if (delta > 0 && cur > math.MaxInt64-delta) || (delta < 0 && cur < math.MinInt64-delta) {
			err = fmt.Errorf("%w: %d%+d", store.ErrOverflow, cur, delta)
			return old, otter.CancelOp
		}
		n = cur + delta
		return item{value: strconv.AppendInt(nil, n, 10), exp: exp}, otter.WriteOp
	})
	if err != nil {
		return 0, &store.Error{Op: store.OpIncrement.String(), Key: key, Err: err}
	}
	return n, nil
}

// parseInt parses a canonical decimal int64, as Redis does: an optional
// '-', then no leading zero unless the number is 0, so that exactly the
// strings strconv.FormatInt returns are accepted ("+1", "01", "-0", "00"
// and " 1" are not). It does not allocate.
func parseInt(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 19 || (b[0] == '0' && (len(b) > 1 || neg)) {
		return 0, false
	}
	var u uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		u = u*10 + uint64(c-'0') // 19 digits cannot overflow a uint64
	}
	switch {
	case neg && u <= 1<<63:
		return int64(-u), true
	case !neg && u < 1<<63:
		return int64(u), true
	}
	return 0, false
}

// truncate shortens a value quoted in an error message.
func truncate(b []byte) []byte {
	if len(b) > 32 {
		return b[:32]
	}
	return b
}

// Expire gives key a new ttl (ttl <= 0 removes its expiry) and reports
// whether key held a live value.
func (s *Store) Expire(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if err := s.begin(ctx, store.OpExpire, key); err != nil {
		return false, err
	}
	if err := store.CheckKey(store.OpExpire.String(), key); err != nil {
		return false, err
	}
	ok := false
	s.cache.ComputeIfPresent(key, func(old item) (item, otter.ComputeOp) {
		if !s.live(old) {
			return old, otter.InvalidateOp
		}
		ok = true
		return item{value: old.value, exp: s.expiry(ttl)}, otter.WriteOp
	})
	return ok, nil
}

// TTL returns the remaining time to live of key, 0 when it has no expiry,
// or an error wrapping store.ErrNotFound.
func (s *Store) TTL(ctx context.Context, key string) (time.Duration, error) {
	if err := s.begin(ctx, store.OpTTL, key); err != nil {
		return 0, err
	}
	if err := store.CheckKey(store.OpTTL.String(), key); err != nil {
		return 0, err
	}
	e, ok := s.cache.GetEntry(key)
	if !ok || !liveAt(e) {
		return 0, notFound(store.OpTTL, key)
	}
	if e.Value.exp == 0 {
		return 0, nil
	}
	return time.Duration(e.Value.exp - e.SnapshotAtNano), nil
}

// Clear removes every key that starts with prefix; "" removes all. A
// non-empty prefix visits every key, so its cost grows with the size of
// the store; it stops early, with the context's error, when ctx is done.
// Keys written while Clear runs may survive it.
func (s *Store) Clear(ctx context.Context, prefix string) error {
	if err := s.begin(ctx, store.OpClear, prefix); err != nil {
		return err
	}
	if prefix == "" {
		s.cache.InvalidateAll()
		return nil
	}
	n := 0
	for k := range s.cache.Keys() {
		if n++; n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return &store.Error{Op: store.OpClear.String(), Key: prefix, Err: err}
			}
		}
		if strings.HasPrefix(k, prefix) {
			s.cache.Invalidate(k)
		}
	}
	return nil
}

// Close empties the store and stops the engine's background work. Later
// calls of any method return store.ErrClosed.
func (s *Store) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return &store.Error{Op: store.OpClose.String(), Err: store.ErrClosed}
	}
	s.cache.InvalidateAll()
	s.cache.StopAllGoroutines()
	s.clock.stop()
	return nil
}

// GetFunc calls f with the value stored under key, without copying it
// (store.Lender), and returns f's error. The store never changes a stored
// value in place, so the bytes f reads stay as they are whatever writes
// happen meanwhile; f must not modify them nor keep them after it
// returns. A missing key gives an error wrapping store.ErrNotFound, and f
// is not called.
func (s *Store) GetFunc(ctx context.Context, key string, f func(value []byte) error) error {
	if err := s.begin(ctx, store.OpGet, key); err != nil {
		return err
	}
	if err := store.CheckKey(store.OpGet.String(), key); err != nil {
		return err
	}
	e, ok := s.cache.GetEntry(key)
	if !ok || !liveAt(e) {
		return notFound(store.OpGet, key)
	}
	return f(e.Value.value)
}

// Find calls f with the value stored under key, without copying it, as
// GetFunc does, and reports whether key holds a live value
// (store.Finder). key is only read during the call: it may be built in a
// buffer the caller reuses. A missing key gives false and no error, and
// the errors Find returns itself (store.ErrClosed, store.ErrInvalidKey,
// the context's) do not name the key.
func (s *Store) Find(ctx context.Context, key string, f func(value []byte) error) (bool, error) {
	if s.closed.Load() {
		return false, store.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if key == "" {
		return false, errEmptyKey
	}
	e, ok := s.cache.GetEntry(key)
	if !ok || !liveAt(e) {
		return false, nil
	}
	return true, f(e.Value.value)
}

// errEmptyKey is Find's error for an empty key, which names no key.
var errEmptyKey = fmt.Errorf("%w: empty key", store.ErrInvalidKey)
