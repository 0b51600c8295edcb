package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cachet-go/cachet/store"
)

// Options describes what the store under test can do. The zero value
// describes a full store with millisecond ttl precision.
type Options struct {
	// KeepsNothing declares that the store accepts writes and keeps
	// nothing, as store/noopstore does. Run then checks the expectations
	// described in the package documentation instead of the storing ones.
	KeepsNothing bool

	// TTLResolution is the granularity to which the store rounds ttls up,
	// such as time.Second for memcached. Zero means millisecond precision.
	TTLResolution time.Duration

	// NoTTL declares that TTL cannot read a ttl back and returns an error
	// wrapping store.ErrNotSupported. Expiry itself is still checked.
	NoTTL bool

	// NamespaceClearOnly declares that Clear works only for an empty
	// prefix and for prefixes of the form "<segment>:" where the segment
	// holds no ':'; other prefixes may give store.ErrNotSupported. When it
	// is false, Clear is also checked with arbitrary prefixes.
	NamespaceClearOnly bool

	// MaxValueSize is the size of the largest value Run stores. Zero means
	// 1 MiB.
	MaxValueSize int
}

// Run checks that the stores made by newStore satisfy the [store.Store]
// contract, each rule in a subtest of t. The subtests run one after the
// other. newStore is called once per subtest and must return a store whose
// keyspace is empty (stores sharing a server can clear it first); it may
// call t.Skip or t.Fatal. Run closes the store when the subtest ends (a
// store closed by the subtest itself must then return store.ErrClosed).
// A nil opts means the zero Options.
func Run(t *testing.T, newStore func(t *testing.T) store.Store, opts *Options) {
	t.Helper()
	if newStore == nil {
		t.Fatal("storetest.Run: newStore is nil")
	}
	su := &suite{newStore: newStore}
	if opts != nil {
		su.opts = *opts
	}
	if su.opts.MaxValueSize <= 0 {
		su.opts.MaxValueSize = 1 << 20
	}
	checks := su.common()
	if su.opts.KeepsNothing {
		checks = append(checks, su.nothing()...)
	} else {
		checks = append(checks, su.storing()...)
	}
	checks = append(checks, su.optional()...)
	checks = append(checks, su.swapChecks()...)
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			c.fn(t, su.open(t))
		})
	}
}

// check is one rule of the contract.
type check struct {
	name string
	fn   func(t *testing.T, s store.Store)
}

type suite struct {
	newStore func(t *testing.T) store.Store
	opts     Options
}

// open returns a fresh store that is closed when t ends.
func (su *suite) open(t *testing.T) store.Store {
	t.Helper()
	s := su.newStore(t)
	if s == nil {
		t.Fatal("newStore returned a nil store")
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil && !errors.Is(err, store.ErrClosed) {
			t.Errorf("Close: got error %v; want nil (or ErrClosed when already closed)", err)
		}
	})
	return s
}

// shortTTL is the ttl of keys that are meant to expire during a check.
func (su *suite) shortTTL() time.Duration {
	if su.opts.TTLResolution > 0 {
		return 2 * su.opts.TTLResolution
	}
	return 50 * time.Millisecond
}

// expiryDeadline is how long after a write with ttl the key may still be
// visible before the check fails.
func (su *suite) expiryDeadline(ttl time.Duration) time.Duration {
	if su.opts.TTLResolution > 0 {
		return ttl + su.opts.TTLResolution + time.Second
	}
	return ttl + 500*time.Millisecond
}

// pollEvery is the polling interval used while waiting for expiry.
func (su *suite) pollEvery() time.Duration {
	if su.opts.TTLResolution > 0 {
		return su.opts.TTLResolution / 20
	}
	return 2 * time.Millisecond
}

// surelyAlive reports whether a key written at start with ttl must still be
// visible: less than its ttl (less the rounding slack) has passed.
func (su *suite) surelyAlive(start time.Time, ttl time.Duration) bool {
	return time.Since(start) < ttl-su.opts.TTLResolution
}

// waitGone polls Get until key is gone, failing when it is still visible
// after the expiry deadline of a write made at start with ttl.
func (su *suite) waitGone(t *testing.T, s store.Store, key string, start time.Time, ttl time.Duration) {
	t.Helper()
	deadline := start.Add(su.expiryDeadline(ttl))
	for {
		_, err := s.Get(context.Background(), key)
		if errors.Is(err, store.ErrNotFound) {
			return
		}
		if err != nil {
			t.Fatalf("Get(%q) while waiting for expiry: got error %v; want a value or ErrNotFound", key, err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("Get(%q): still present %v after a write with ttl %v; want ErrNotFound", key, time.Since(start).Round(time.Millisecond), ttl)
		}
		time.Sleep(su.pollEvery())
	}
}

// waitProbe writes a probe key with the short ttl and waits until it has
// expired: afterwards any key that was given the short ttl before the probe
// would have expired too.
func (su *suite) waitProbe(t *testing.T, s store.Store) {
	t.Helper()
	ttl := su.shortTTL()
	start := time.Now()
	mustSet(t, s, "storetest:probe", []byte("probe"), ttl)
	su.waitGone(t, s, "storetest:probe", start, ttl)
}

// op is one store operation called with a key, for the checks that apply
// to every operation.
type op struct {
	name  string
	keyed bool // takes a key that must be non-empty
	call  func(ctx context.Context, s store.Store, key string) error
}

func ops() []op {
	v := []byte("v")
	return []op{
		{"Get", true, func(ctx context.Context, s store.Store, k string) error {
			_, err := s.Get(ctx, k)
			return err
		}},
		{"GetMany", true, func(ctx context.Context, s store.Store, k string) error {
			_, err := s.GetMany(ctx, []string{"storetest:other", k})
			return err
		}},
		{"Set", true, func(ctx context.Context, s store.Store, k string) error {
			return s.Set(ctx, k, v, 0)
		}},
		{"SetMany", true, func(ctx context.Context, s store.Store, k string) error {
			return s.SetMany(ctx, []store.Entry{{Key: "storetest:other", Value: v}, {Key: k, Value: v}}, 0)
		}},
		{"Add", true, func(ctx context.Context, s store.Store, k string) error {
			return s.Add(ctx, k, v, 0)
		}},
		{"Delete", true, func(ctx context.Context, s store.Store, k string) error {
			_, err := s.Delete(ctx, "storetest:other", k)
			return err
		}},
		{"Exists", true, func(ctx context.Context, s store.Store, k string) error {
			_, err := s.Exists(ctx, k)
			return err
		}},
		{"Increment", true, func(ctx context.Context, s store.Store, k string) error {
			_, err := s.Increment(ctx, k, 1)
			return err
		}},
		{"Expire", true, func(ctx context.Context, s store.Store, k string) error {
			_, err := s.Expire(ctx, k, time.Minute)
			return err
		}},
		{"TTL", true, func(ctx context.Context, s store.Store, k string) error {
			_, err := s.TTL(ctx, k)
			return err
		}},
		{"Clear", false, func(ctx context.Context, s store.Store, k string) error {
			return s.Clear(ctx, k+":") // a namespace prefix, which every store can clear
		}},
	}
}

// wantOpErr reports whether err matches target for operation o; TTL on a
// store that cannot read ttls may answer ErrNotSupported instead.
func (su *suite) wantOpErr(t *testing.T, o op, err, target error) {
	t.Helper()
	if errors.Is(err, target) {
		return
	}
	if o.name == "TTL" && su.opts.NoTTL && errors.Is(err, store.ErrNotSupported) {
		return
	}
	t.Errorf("%s: got error %v; want an error wrapping %v", o.name, err, target)
}

// common returns the checks that apply to every store, including stores
// that keep nothing.
func (su *suite) common() []check {
	return []check{
		{"InvalidKey/Empty", su.testEmptyKey},
		{"InvalidValue/Nil", su.testNilValue},
		{"Context/Canceled", func(t *testing.T, s store.Store) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			su.testContext(t, s, ctx, context.Canceled)
		}},
		{"Context/DeadlineExceeded", func(t *testing.T, s store.Store) {
			ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
			defer cancel()
			su.testContext(t, s, ctx, context.DeadlineExceeded)
		}},
		{"Close/EveryOpAfterClose", su.testClosed},
		{"SetMany/Empty", func(t *testing.T, s store.Store) {
			if err := s.SetMany(context.Background(), nil, 0); err != nil {
				t.Errorf("SetMany(no entries): got error %v; want nil", err)
			}
		}},
		{"GetMany/NoKeys", func(t *testing.T, s store.Store) {
			got, err := s.GetMany(context.Background(), nil)
			if err != nil || len(got) != 0 {
				t.Errorf("GetMany(no keys): got %q, %v; want no slots, nil", got, err)
			}
		}},
		{"Delete/NoKeys", func(t *testing.T, s store.Store) {
			n, err := s.Delete(context.Background())
			if err != nil || n != 0 {
				t.Errorf("Delete(no keys): got %d, %v; want 0, nil", n, err)
			}
		}},
	}
}

func (su *suite) testEmptyKey(t *testing.T, s store.Store) {
	ctx := context.Background()
	for _, o := range ops() {
		if !o.keyed {
			continue
		}
		su.wantOpErr(t, o, o.call(ctx, s, ""), store.ErrInvalidKey)
	}
	// Bad input in a batch is refused as a whole.
	if !su.opts.KeepsNothing {
		if ok, err := s.Exists(ctx, "storetest:other"); err != nil || ok {
			t.Errorf("Exists(%q) after a SetMany with an empty key: got %v, %v; want false, nil (nothing written)", "storetest:other", ok, err)
		}
	}
}

func (su *suite) testNilValue(t *testing.T, s store.Store) {
	ctx := context.Background()
	if err := s.Set(ctx, "a", nil, 0); !errors.Is(err, store.ErrInvalidValue) {
		t.Errorf("Set(nil value): got error %v; want ErrInvalidValue", err)
	}
	if err := s.Add(ctx, "b", nil, 0); !errors.Is(err, store.ErrInvalidValue) {
		t.Errorf("Add(nil value): got error %v; want ErrInvalidValue", err)
	}
	err := s.SetMany(ctx, []store.Entry{{Key: "c", Value: []byte("c")}, {Key: "d", Value: nil}}, 0)
	if !errors.Is(err, store.ErrInvalidValue) {
		t.Errorf("SetMany(one nil value): got error %v; want ErrInvalidValue", err)
	}
	if err := s.Set(ctx, "e", []byte{}, 0); err != nil {
		t.Errorf("Set(empty non-nil value): got error %v; want nil", err)
	}
	if su.opts.KeepsNothing {
		return
	}
	for _, k := range []string{"a", "b", "c", "d"} {
		if ok, err := s.Exists(ctx, k); err != nil || ok {
			t.Errorf("Exists(%q) after a refused nil value: got %v, %v; want false, nil (nothing written)", k, ok, err)
		}
	}
}

func (su *suite) testContext(t *testing.T, s store.Store, ctx context.Context, want error) {
	if !su.opts.KeepsNothing {
		mustSet(t, s, "k", []byte("old"), 0)
	}
	for _, o := range ops() {
		su.wantOpErr(t, o, o.call(ctx, s, "k"), want)
	}
	if su.opts.KeepsNothing {
		return
	}
	// The operations were refused before doing anything.
	got, err := s.Get(bg, "k")
	if err != nil || string(got) != "old" {
		t.Errorf("Get after refused writes: got %q, %v; want \"old\", nil", got, err)
	}
	if ok, err := s.Exists(bg, "storetest:other"); err != nil || ok {
		t.Errorf("Exists(%q) after a refused SetMany: got %v, %v; want false, nil", "storetest:other", ok, err)
	}
}

func (su *suite) testClosed(t *testing.T, s store.Store) {
	ctx := context.Background()
	if !su.opts.KeepsNothing {
		mustSet(t, s, "k", []byte("v"), 0)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: got error %v; want nil", err)
	}
	for _, o := range ops() {
		su.wantOpErr(t, o, o.call(ctx, s, "k"), store.ErrClosed)
	}
	if err := s.Close(); !errors.Is(err, store.ErrClosed) {
		t.Errorf("second Close: got error %v; want ErrClosed", err)
	}
}

// nothing returns the expectations for a store that keeps nothing.
func (su *suite) nothing() []check {
	ctx := context.Background()
	return []check{
		{"KeepsNothing/GetMisses", func(t *testing.T, s store.Store) {
			mustSet(t, s, "k", []byte("v"), 0)
			if got, err := s.Get(ctx, "k"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("Get after Set: got %q, %v; want ErrNotFound", got, err)
			}
		}},
		{"KeepsNothing/GetManyNilSlots", func(t *testing.T, s store.Store) {
			entries := []store.Entry{{Key: "a", Value: []byte("1")}, {Key: "b", Value: []byte{}}}
			if err := s.SetMany(ctx, entries, time.Minute); err != nil {
				t.Fatalf("SetMany: got error %v; want nil", err)
			}
			got, err := s.GetMany(ctx, []string{"a", "b", "c"})
			if err != nil || len(got) != 3 {
				t.Fatalf("GetMany: got %q, %v; want 3 nil slots, nil", got, err)
			}
			for i, v := range got {
				if v != nil {
					t.Errorf("GetMany slot %d: got %q; want nil", i, v)
				}
			}
		}},
		{"KeepsNothing/AddAlwaysSucceeds", func(t *testing.T, s store.Store) {
			for i := range 2 {
				if err := s.Add(ctx, "k", []byte("v"), 0); err != nil {
					t.Errorf("Add #%d: got error %v; want nil", i+1, err)
				}
			}
		}},
		{"KeepsNothing/IncrementReturnsDelta", func(t *testing.T, s store.Store) {
			for _, d := range []int64{5, 5, -3} {
				if n, err := s.Increment(ctx, "k", d); err != nil || n != d {
					t.Errorf("Increment(%d): got %d, %v; want %d, nil", d, n, err, d)
				}
			}
		}},
		{"KeepsNothing/ExistsFalse", func(t *testing.T, s store.Store) {
			mustSet(t, s, "k", []byte("v"), 0)
			if ok, err := s.Exists(ctx, "k"); err != nil || ok {
				t.Errorf("Exists after Set: got %v, %v; want false, nil", ok, err)
			}
		}},
		{"KeepsNothing/TTLNotFound", func(t *testing.T, s store.Store) {
			mustSet(t, s, "k", []byte("v"), time.Minute)
			if d, err := s.TTL(ctx, "k"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("TTL after Set: got %v, %v; want ErrNotFound", d, err)
			}
		}},
		{"KeepsNothing/ExpireFalse", func(t *testing.T, s store.Store) {
			mustSet(t, s, "k", []byte("v"), 0)
			if ok, err := s.Expire(ctx, "k", time.Minute); err != nil || ok {
				t.Errorf("Expire after Set: got %v, %v; want false, nil", ok, err)
			}
		}},
		{"KeepsNothing/DeleteZero", func(t *testing.T, s store.Store) {
			mustSet(t, s, "k", []byte("v"), 0)
			if n, err := s.Delete(ctx, "k", "k2"); err != nil || n != 0 {
				t.Errorf("Delete after Set: got %d, %v; want 0, nil", n, err)
			}
		}},
		{"KeepsNothing/Clear", func(t *testing.T, s store.Store) {
			for _, p := range []string{"", "ns:"} {
				if err := s.Clear(ctx, p); err != nil {
					t.Errorf("Clear(%q): got error %v; want nil", p, err)
				}
			}
		}},
	}
}

// storing returns the checks for a store that keeps what it is given.
func (su *suite) storing() []check {
	checks := []check{
		{"Get/Missing", su.testGetMissing},
		{"Set/Get", su.testSetGet},
		{"Set/Overwrite", su.testOverwrite},
		{"Set/EmptyValue", su.testEmptyValue},
		{"Set/BinaryValues", su.testBinaryValues},
		{"Set/LargeValue", su.testLargeValue},
		{"Keys/RoundTrip", su.testKeys},
		{"Keys/ControlCharacters", su.testControlKeys},
		{"Values/AreCopies", su.testCopies},
		{"GetMany/OrderAndSlots", su.testGetMany},
		{"SetMany/Stores", su.testSetMany},
		{"SetMany/DuplicateKeysLastWins", su.testSetManyDuplicates},
		{"SetMany/TTL", su.testSetManyTTL},
		{"Add/Absent", su.testAddAbsent},
		{"Add/ExistingUnchanged", su.testAddExisting},
		{"Add/AfterExpiry", su.testAddAfterExpiry},
		{"Add/TTL", su.testAddTTL},
		{"Add/Concurrent", su.testAddConcurrent},
		{"Delete/Count", su.testDelete},
		{"Exists", su.testExists},
		{"Increment/Missing", su.testIncrementMissing},
		{"Increment/NegativeDelta", su.testIncrementNegative},
		{"Increment/StoredAsDecimal", su.testIncrementDecimal},
		{"Increment/NotInteger", su.testIncrementNotInteger},
		{"Increment/Overflow", su.testIncrementOverflow},
		{"Increment/KeepsTTL", su.testIncrementKeepsTTL},
		{"Increment/Concurrent", su.testIncrementConcurrent},
		{"TTL/SubSecondExpiry", su.testSubSecondExpiry},
		{"TTL/ExpiredInvisible", su.testExpiredInvisible},
		{"TTL/NoExpiry", su.testNoExpiry},
		{"TTL/OverwriteResetsTTL", su.testOverwriteResetsTTL},
		{"TTL/OverwriteShortensTTL", su.testOverwriteShortensTTL},
		{"TTL/ReadBack", su.testTTLReadBack},
		{"TTL/Missing", su.testTTLMissing},
		{"Expire/SetsTTL", su.testExpireSets},
		{"Expire/PersistWithZeroOrNegative", su.testExpirePersist},
		{"Expire/Missing", su.testExpireMissing},
		{"Clear/NamespacePrefix", su.testClearNamespace},
		{"Clear/GlobCharacters", su.testClearGlob},
		{"Clear/All", su.testClearAll},
	}
	if !su.opts.NamespaceClearOnly {
		checks = append(checks, check{"Clear/AnyPrefix", su.testClearAnyPrefix})
	}
	return checks
}

// mustSet stores value under key or stops the check.
func mustSet(t *testing.T, s store.Store, key string, value []byte, ttl time.Duration) {
	t.Helper()
	if err := s.Set(context.Background(), key, value, ttl); err != nil {
		t.Fatalf("Set(%q, %d bytes, %v): got error %v; want nil", key, len(value), ttl, err)
	}
}

// wantValue checks that Get(key) returns want.
func wantValue(t *testing.T, s store.Store, key string, want []byte) {
	t.Helper()
	got, err := s.Get(context.Background(), key)
	if err != nil {
		t.Errorf("Get(%q): got error %v; want %s", key, err, show(want))
		return
	}
	if !bytes.Equal(got, want) {
		t.Errorf("Get(%q): got %s; want %s", key, show(got), show(want))
	}
}

// wantMissing checks that Get(key) gives ErrNotFound and Exists(key) false.
func wantMissing(t *testing.T, s store.Store, key string) {
	t.Helper()
	got, err := s.Get(context.Background(), key)
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get(%q): got %s, %v; want ErrNotFound", key, show(got), err)
	}
	ok, err := s.Exists(context.Background(), key)
	if err != nil || ok {
		t.Errorf("Exists(%q): got %v, %v; want false, nil", key, ok, err)
	}
}

// show formats a value for a failure message, shortening long ones.
func show(b []byte) string {
	if b == nil {
		return "nil"
	}
	if len(b) > 64 {
		return fmt.Sprintf("%q... (%d bytes)", b[:64], len(b))
	}
	return fmt.Sprintf("%q", b)
}

// randomBytes returns n deterministic pseudo-random bytes.
func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}
