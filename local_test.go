package cachet

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/internal/entry"
	"github.com/cachet-go/cachet/internal/flight"
	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/memstore"
)

type localUser struct {
	Name string
	Tags []string
}

// countingStore counts the Gets that reach the store beneath a cache, and
// can hold them until released.
type countingStore struct {
	store.Wrapper
	gets atomic.Int64
	hold chan struct{} // if not nil, Get waits for it to be closed
}

func (s *countingStore) Get(ctx context.Context, key string) ([]byte, error) {
	s.gets.Add(1)
	if s.hold != nil {
		<-s.hold
	}
	return s.Store.Get(ctx, key)
}

// countingCodec counts the values it decodes.
type countingCodec[V any] struct {
	codec.Codec[V]
	decodes atomic.Int64
}

func (c *countingCodec[V]) Unmarshal(b []byte, v *V) error {
	c.decodes.Add(1)
	return c.Codec.Unmarshal(b, v)
}

type localFixture struct {
	mem   *memstore.Store
	gets  *countingStore
	codec *countingCodec[localUser]
	c     *Cache[string, localUser]
}

func newLocalFixture(t *testing.T, lo *LocalOptions[localUser]) *localFixture {
	t.Helper()
	mem, err := memstore.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mem.Close() })
	f := &localFixture{mem: mem, codec: &countingCodec[localUser]{Codec: codec.JSON[localUser]()}}
	if lo == nil {
		lo = &LocalOptions[localUser]{}
	}
	c, err := New[string](mem, codec.Codec[localUser](f.codec), &Options[string]{
		Namespace: "users",
		Local:     lo,
		Middleware: []store.Middleware{func(s store.Store) store.Store {
			f.gets = &countingStore{Wrapper: store.Wrapper{Store: s}}
			return f.gets
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	f.c = c
	return f
}

func (f *localFixture) stats(t *testing.T) LocalStats {
	t.Helper()
	s, ok := f.c.LocalStats()
	if !ok {
		t.Fatal("LocalStats: no local tier")
	}
	return s
}

func TestLocal_HitTouchesNeitherStoreNorCodec(t *testing.T) {
	f := newLocalFixture(t, nil)
	ctx := context.Background()
	if err := f.c.Set(ctx, "ann", localUser{Name: "Ann"}); err != nil {
		t.Fatal(err)
	}
	if v, err := f.c.Get(ctx, "ann"); err != nil || v.Name != "Ann" {
		t.Fatalf("Get = %v, %v; want Ann", v, err)
	}
	gets, decodes := f.gets.gets.Load(), f.codec.decodes.Load()
	for range 10 {
		if v, err := f.c.Get(ctx, "ann"); err != nil || v.Name != "Ann" {
			t.Fatalf("Get = %v, %v; want Ann", v, err)
		}
	}
	if g, d := f.gets.gets.Load()-gets, f.codec.decodes.Load()-decodes; g != 0 || d != 0 {
		t.Fatalf("10 local hits made %d store reads and %d decodes; want 0 and 0", g, d)
	}
	if s := f.stats(t); s.Hits != 10 || s.StoreHits != 1 || s.Fills != 1 {
		t.Fatalf("stats %+v; want 10 hits, 1 store hit, 1 fill", s)
	}
	allocs := testing.AllocsPerRun(100, func() { f.c.Get(ctx, "ann") })
	if allocs > 1 {
		t.Fatalf("a local hit allocates %v times; want <= 1", allocs)
	}
}

func TestLocal_WritesThroughTheCacheDropTheCopy(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		write func(c *Cache[string, localUser]) error
		want  string // "" for not found
	}{
		{"Set", func(c *Cache[string, localUser]) error { return c.Set(ctx, "k", localUser{Name: "new"}) }, "new"},
		{"SetMany", func(c *Cache[string, localUser]) error {
			return c.SetMany(ctx, map[string]localUser{"k": {Name: "new"}})
		}, "new"},
		{"Delete", func(c *Cache[string, localUser]) error { _, err := c.Delete(ctx, "k"); return err }, ""},
		{"Expire", func(c *Cache[string, localUser]) error { _, err := c.Expire(ctx, "k", time.Nanosecond); return err }, ""},
		{"Update", func(c *Cache[string, localUser]) error {
			_, err := c.Update(ctx, "k", func(old localUser, _ bool) (localUser, error) { return localUser{Name: old.Name + "+"}, nil })
			return err
		}, "old+"},
		{"Clear", func(c *Cache[string, localUser]) error { return c.Clear(ctx) }, ""},
		{"ClearAll", func(c *Cache[string, localUser]) error { return c.ClearAll(ctx) }, ""},
		{"view WithVersion Delete", func(c *Cache[string, localUser]) error {
			// A view shares the store: its write of another key drops
			// nothing wrongly, and the original's key stays right.
			v, err := c.WithVersion(nil)
			if err != nil {
				return err
			}
			_, err = v.Delete(ctx, "k")
			return err
		}, ""},
		{"CodecView Set", func(c *Cache[string, localUser]) error {
			v, err := CodecView(c, codec.JSON[map[string]any]())
			if err != nil {
				return err
			}
			return v.Set(ctx, "k", map[string]any{"Name": "viewed"})
		}, "viewed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newLocalFixture(t, nil)
			if err := f.c.Set(ctx, "k", localUser{Name: "old"}); err != nil {
				t.Fatal(err)
			}
			if _, err := f.c.Get(ctx, "k"); err != nil { // fills
				t.Fatal(err)
			}
			if err := tc.write(f.c); err != nil {
				t.Fatal(err)
			}
			v, err := f.c.Get(ctx, "k")
			switch {
			case tc.want == "" && !errors.Is(err, ErrNotFound):
				t.Fatalf("Get after %s = %v, %v; want ErrNotFound", tc.name, v, err)
			case tc.want != "" && (err != nil || v.Name != tc.want):
				t.Fatalf("Get after %s = %v, %v; want %s", tc.name, v, err, tc.want)
			}
		})
	}
}

func TestLocal_IncrementDropsTheCopy(t *testing.T) {
	ctx := context.Background()
	mem := memstore.Must(nil)
	defer mem.Close()
	c, err := New[string](mem, codec.String(), &Options[string]{Namespace: "n", Local: &LocalOptions[string]{}})
	if err != nil {
		t.Fatal(err)
	}
	c.Set(ctx, "k", "x")
	if v, err := c.Get(ctx, "k"); err != nil || v != "x" {
		t.Fatalf("Get = %q, %v", v, err)
	}
	c.Delete(ctx, "k")
	if _, err := c.Increment(ctx, "k", 5); err != nil {
		t.Fatal(err)
	}
	// The counter is not in the entry format: a Get reports it, never
	// the old local "x".
	if v, err := c.Get(ctx, "k"); !errors.Is(err, ErrDecode) {
		t.Fatalf("Get after Increment = %q, %v; want ErrDecode", v, err)
	}
}

func TestLocal_NeverOutlivesTheEntry(t *testing.T) {
	f := newLocalFixture(t, &LocalOptions[localUser]{TTL: time.Hour})
	ctx := context.Background()
	if err := f.c.SetWithTTL(ctx, "k", localUser{Name: "brief"}, 30*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if _, err := f.c.Get(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(40 * time.Millisecond) // the entry's ttl
	if v, err := f.c.Get(ctx, "k"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get past the entry's expiry = %v, %v; want ErrNotFound", v, err)
	}
}

func TestLocal_TTLBoundsStalenessWithoutAStream(t *testing.T) {
	f := newLocalFixture(t, &LocalOptions[localUser]{TTL: 50 * time.Millisecond})
	ctx := context.Background()
	other, err := New[string](f.mem, codec.JSON[localUser](), &Options[string]{Namespace: "users"})
	if err != nil {
		t.Fatal(err)
	}
	f.c.Set(ctx, "k", localUser{Name: "old"})
	f.c.Get(ctx, "k")
	other.Set(ctx, "k", localUser{Name: "new"}) // another writer: memstore has no stream
	if v, _ := f.c.Get(ctx, "k"); v.Name != "old" {
		t.Fatalf("Get right after another writer = %q; want the local old (no stream)", v.Name)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		v, _ := f.c.Get(ctx, "k")
		if v.Name == "new" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the local copy outlived its 50ms ttl by 2s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestLocal_MissesAndBadValuesAreNotFilled(t *testing.T) {
	f := newLocalFixture(t, nil)
	ctx := context.Background()
	if _, err := f.c.Get(ctx, "none"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get missing = %v; want ErrNotFound", err)
	}
	f.mem.Set(ctx, "users:bad", []byte("not an entry"), 0)
	if _, err := f.c.Get(ctx, "bad"); !errors.Is(err, ErrDecode) {
		t.Fatalf("Get of a bad value = %v; want ErrDecode", err)
	}
	if _, err := f.c.Get(ctx, "bad"); !errors.Is(err, ErrDecode) {
		t.Fatalf("second Get of a bad value = %v; want ErrDecode", err)
	}
	if s := f.stats(t); s.Fills != 0 || s.StoreReads != 3 {
		t.Fatalf("stats %+v; want 0 fills, 3 store reads", s)
	}
}

// TestLocal_FillInvalidateRace runs the classic race deterministically: a
// fill reads the old value, then the key is invalidated (by a write
// through the cache, or by the store's stream), then the fill would
// install. It must not.
func TestLocal_FillInvalidateRace(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name       string
		invalidate func(f *localFixture)
	}{
		{"write through the cache", func(f *localFixture) { f.c.Set(ctx, "k", localUser{Name: "new"}) }},
		{"stream event", func(f *localFixture) {
			f.mem.Set(ctx, "users:k", mustEntry(t, f, localUser{Name: "new"}), 0)
			f.c.local.inv.event(store.Invalidation{Keys: []string{"users:k"}})
		}},
		{"stream flush", func(f *localFixture) {
			f.mem.Set(ctx, "users:k", mustEntry(t, f, localUser{Name: "new"}), 0)
			f.c.local.inv.event(store.Invalidation{Flush: true, Live: true})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newLocalFixture(t, nil)
			f.c.Set(ctx, "k", localUser{Name: "old"})
			var once sync.Once
			f.c.local.beforeInstall = func(string) { once.Do(func() { tc.invalidate(f) }) }
			if v, err := f.c.Get(ctx, "k"); err != nil || v.Name != "old" {
				t.Fatalf("racing Get = %v, %v; want old (what it read)", v, err)
			}
			if v, err := f.c.Get(ctx, "k"); err != nil || v.Name != "new" {
				t.Fatalf("Get after the invalidation = %v, %v; want new", v, err)
			}
			if s := f.stats(t); s.Fills != 1 {
				t.Fatalf("stats %+v; want 1 fill (the second read's)", s)
			}
		})
	}
}

func mustEntry(t *testing.T, f *localFixture, v localUser) []byte {
	t.Helper()
	b, err := f.c.encodeEntry("set", "k", v, entry.Header{})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestLocal_StreamDownTurnsTheTierOff(t *testing.T) {
	f := newLocalFixture(t, nil)
	ctx := context.Background()
	f.c.Set(ctx, "k", localUser{Name: "v"})
	f.c.Get(ctx, "k")
	f.c.local.inv.event(store.Invalidation{Flush: true, Live: false})
	gets := f.gets.gets.Load()
	for range 3 {
		if v, err := f.c.Get(ctx, "k"); err != nil || v.Name != "v" {
			t.Fatalf("Get while down = %v, %v", v, err)
		}
	}
	if g := f.gets.gets.Load() - gets; g != 3 {
		t.Fatalf("3 Gets while the stream is down made %d store reads; want 3", g)
	}
	f.c.local.inv.event(store.Invalidation{Flush: true, Live: true})
	f.c.Get(ctx, "k")
	gets = f.gets.gets.Load()
	f.c.Get(ctx, "k")
	if g := f.gets.gets.Load() - gets; g != 0 {
		t.Fatalf("a Get after the stream is back made %d store reads; want 0", g)
	}
}

func TestLocal_ConcurrentMissesShareOneRead(t *testing.T) {
	f := newLocalFixture(t, nil)
	ctx := context.Background()
	f.c.Set(ctx, "k", localUser{Name: "v"})
	const n = 8
	var joined sync.WaitGroup
	joined.Add(n)
	reset := flight.SetJoinHook(func(string) { joined.Done() })
	defer reset()
	f.gets.hold = make(chan struct{})
	gets := f.gets.gets.Load()
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if v, err := f.c.Get(ctx, "k"); err != nil || v.Name != "v" {
				t.Errorf("Get = %v, %v", v, err)
			}
		}()
	}
	joined.Wait()
	close(f.gets.hold)
	wg.Wait()
	if g := f.gets.gets.Load() - gets; g != 1 {
		t.Fatalf("%d concurrent misses made %d store reads; want 1", n, g)
	}
}

func TestLocal_Aliasing(t *testing.T) {
	ctx := context.Background()
	t.Run("shared by default", func(t *testing.T) {
		f := newLocalFixture(t, nil)
		f.c.Set(ctx, "k", localUser{Tags: []string{"a"}})
		v, _ := f.c.Get(ctx, "k")
		v.Tags[0] = "changed" // what the docs tell callers not to do
		if w, _ := f.c.Get(ctx, "k"); w.Tags[0] != "changed" {
			t.Fatalf("without Clone a hit got %q; want the shared value", w.Tags[0])
		}
	})
	t.Run("Clone gives private copies", func(t *testing.T) {
		f := newLocalFixture(t, &LocalOptions[localUser]{Clone: func(u localUser) localUser {
			u.Tags = append([]string(nil), u.Tags...)
			return u
		}})
		f.c.Set(ctx, "k", localUser{Tags: []string{"a"}})
		v, _ := f.c.Get(ctx, "k")
		v.Tags[0] = "changed"
		w, _ := f.c.Get(ctx, "k")
		w.Tags[0] = "changed too"
		if x, _ := f.c.Get(ctx, "k"); x.Tags[0] != "a" {
			t.Fatalf("with Clone a hit got %q; want a", x.Tags[0])
		}
	})
}

func TestLocal_KillSwitch(t *testing.T) {
	f := newLocalFixture(t, nil)
	ctx := context.Background()
	f.c.Set(ctx, "k", localUser{Name: "v"})
	f.c.Get(ctx, "k")
	f.c.Disable()
	if v, err := f.c.Get(ctx, "k"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get while disabled = %v, %v; want ErrNotFound", v, err)
	}
	f.c.Enable()
	if v, err := f.c.Get(ctx, "k"); err != nil || v.Name != "v" {
		t.Fatalf("Get after Enable = %v, %v", v, err)
	}
}

func TestLocal_GetOrLoadServesHitsLocally(t *testing.T) {
	f := newLocalFixture(t, nil)
	ctx := context.Background()
	var loads atomic.Int64
	load := func(context.Context) (localUser, error) { loads.Add(1); return localUser{Name: "loaded"}, nil }
	for range 5 {
		if v, err := f.c.GetOrLoad(ctx, "k", load); err != nil || v.Name != "loaded" {
			t.Fatalf("GetOrLoad = %v, %v", v, err)
		}
	}
	s := f.stats(t)
	if loads.Load() != 1 || s.Hits < 3 {
		t.Fatalf("%d loads, stats %+v; want 1 load and the later calls served locally", loads.Load(), s)
	}
}

func TestLocal_BadOptions(t *testing.T) {
	mem := memstore.Must(nil)
	defer mem.Close()
	for _, o := range []LocalConfig{
		&LocalOptions[int]{},                        // another value type
		&LocalOptions[localUser]{TTL: -time.Second}, // negative ttl
		&LocalOptions[localUser]{Weigher: func(string, localUser) uint32 { return 1 }}, // no MaxWeight
		&LocalOptions[localUser]{MaxEntries: -1},
	} {
		if _, err := New[string](mem, codec.JSON[localUser](), &Options[string]{Local: o}); !errors.Is(err, ErrInvalidOption) {
			t.Errorf("New with Local %#v = %v; want ErrInvalidOption", o, err)
		}
	}
}

// TestLocal_WeigherZeroIsBounded: otter never evicts an entry of weight
// 0, so a Weigher that returns 0 would leave the tier unbounded; the
// tier counts such a value as 1.
func TestLocal_WeigherZeroIsBounded(t *testing.T) {
	ctx := context.Background()
	mem := memstore.Must(nil)
	defer mem.Close()
	c, err := New[int](mem, codec.JSON[int](), &Options[int]{Namespace: "w", Local: &LocalOptions[int]{
		Weigher:   func(string, int) uint32 { return 0 },
		MaxWeight: 100,
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range 5000 {
		if err := c.Set(ctx, i, i); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Get(ctx, i); err != nil { // fills the tier
			t.Fatal(err)
		}
	}
	if n := c.local.size(); n > 200 {
		t.Fatalf("Weigher returning 0, MaxWeight 100: the tier holds %d of 5000 values; want it bounded", n)
	}
}

// TestLocal_StringKeyedHitAllocatesNothing: a hit of a tier that looks
// keys up by their store key (a cache with its own Key function, and a
// memory-only cache) builds the key on the stack and allocates nothing,
// as a hit of a tier keyed by K does. (Routed through an interface call,
// the stack buffer escaped and every such hit allocated 128 bytes.)
func TestLocal_StringKeyedHitAllocatesNothing(t *testing.T) {
	ctx := context.Background()
	mem := memstore.Must(nil)
	defer mem.Close()
	custom, err := New[string](mem, codec.JSON[localUser](), &Options[string]{
		Namespace: "c",
		Key:       func(k string) (string, error) { return k, nil }, // allocates nothing itself
		Local:     &LocalOptions[localUser]{},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer custom.Close()
	only, err := NewLocal[string](&LocalOptions[localUser]{}, &Options[string]{Namespace: "o"})
	if err != nil {
		t.Fatal(err)
	}
	defer only.Close()
	for name, c := range map[string]*Cache[string, localUser]{"custom Key": custom, "NewLocal": only} {
		if err := c.Set(ctx, "ann", localUser{Name: "Ann"}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Get(ctx, "ann"); err != nil { // fills the tier
			t.Fatal(err)
		}
		before, _ := c.LocalStats()
		if n := testing.AllocsPerRun(100, func() { c.Get(ctx, "ann") }); n != 0 {
			t.Errorf("%s: a local hit allocates %v times; want 0", name, n)
		}
		if after, _ := c.LocalStats(); after.Hits-before.Hits < 100 {
			t.Errorf("%s: %d local hits in 101 Gets; want every Get a local hit", name, after.Hits-before.Hits)
		}
	}
}
