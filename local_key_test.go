package cachet

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/internal/entry"
	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/memstore"
)

type (
	localID     string // a named string key
	localNum    int16  // a named integer key
	localString int    // an integer key with a String method: not invertible
)

func (n localString) String() string { return fmt.Sprintf("n%d", int(n)) }

// parses checks keyParser[K] on each input: want is the K it must map
// back to, or nil for an input that is no K's key.
func parses[K comparable](t *testing.T, cases map[string]any) {
	t.Helper()
	parse, ok := keyParser[K]()
	if !ok {
		t.Fatalf("keyParser[%T]: none; want one", *new(K))
	}
	format, err := defaultKeyFunc[K]()
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range cases {
		k, ok := parse(in)
		switch {
		case want == nil && ok:
			t.Errorf("parse[%T](%q) = %v, true; want no key", k, in, k)
		case want != nil && (!ok || any(k) != want):
			t.Errorf("parse[%T](%q) = %v, %v; want %v", k, in, k, ok, want)
		case ok:
			if s, _ := format(k); s != in {
				t.Errorf("parse[%T](%q) = %v, which formats as %q", k, in, k, s)
			}
		}
	}
}

// TestKeyParser checks the inverse of the default key rule: every key the
// rule produces maps back, and no other string does (a store key that maps
// to a K must be exactly that K's).
func TestKeyParser(t *testing.T) {
	t.Run("string", func(t *testing.T) {
		parses[string](t, map[string]any{"a": "a", "007": "007", "a:b": "a:b", " ": " ", "": nil})
	})
	t.Run("named string", func(t *testing.T) {
		parses[localID](t, map[string]any{"a": localID("a"), "1:2": localID("1:2"), "": nil})
	})
	t.Run("int", func(t *testing.T) {
		parses[int](t, map[string]any{
			"7": 7, "0": 0, "-7": -7, "9223372036854775807": 9223372036854775807, "-9223372036854775808": -9223372036854775808,
			"007": nil, "+7": nil, "-0": nil, " 7": nil, "7 ": nil, "": nil, "0x7": nil, "7.0": nil,
			"1_000": nil, "9223372036854775808": nil, "2:7": nil, "f:7": nil,
		})
	})
	t.Run("int8", func(t *testing.T) {
		parses[int8](t, map[string]any{"127": int8(127), "-128": int8(-128), "128": nil, "-129": nil, "00": nil})
	})
	t.Run("named int16", func(t *testing.T) {
		parses[localNum](t, map[string]any{"-300": localNum(-300), "32767": localNum(32767), "32768": nil, "+1": nil})
	})
	t.Run("uint8", func(t *testing.T) {
		parses[uint8](t, map[string]any{"255": uint8(255), "0": uint8(0), "256": nil, "-1": nil, "-0": nil, "01": nil})
	})
	t.Run("uint64", func(t *testing.T) {
		parses[uint64](t, map[string]any{"18446744073709551615": uint64(18446744073709551615), "18446744073709551616": nil, "+0": nil})
	})
	t.Run("uintptr", func(t *testing.T) {
		parses[uintptr](t, map[string]any{"42": uintptr(42), "042": nil})
	})
	t.Run("none", func(t *testing.T) {
		if _, ok := keyParser[localString](); ok {
			t.Error("keyParser of a fmt.Stringer: got one; want none (the rule calls String)")
		}
		if _, ok := keyParser[struct{ a int }](); ok {
			t.Error("keyParser of a struct: got one; want none")
		}
		if _, ok := keyParser[float64](); ok {
			t.Error("keyParser of float64: got one; want none")
		}
	})
	t.Run("round trip", func(t *testing.T) {
		parse, _ := keyParser[int32]()
		for _, n := range []int32{0, 1, -1, 9, 10, 99, 100, -100, 1 << 30, -1 << 31, 1<<31 - 1} {
			if k, ok := parse(strconv.Itoa(int(n))); !ok || k != n {
				t.Errorf("parse(%d) = %v, %v; want %d", n, k, ok, n)
			}
		}
	})
}

// newKeyedCache returns a cache of K keys with a local tier over a
// memstore.
func newKeyedCache[K comparable](t *testing.T, o *Options[K]) (*Cache[K, string], *memstore.Store) {
	t.Helper()
	mem := memstore.Must(nil)
	t.Cleanup(func() { mem.Close() })
	if o == nil {
		o = &Options[K]{}
	}
	o.Local = &LocalOptions[string]{}
	c, err := New[K](mem, codec.JSON[string](), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, mem
}

// TestLocal_KeyedTier checks which caches keep their values by key: the
// default key rule of a string or integer type, and nothing else.
func TestLocal_KeyedTier(t *testing.T) {
	keyed := func(t *testing.T, l *localTier[string], want bool) {
		t.Helper()
		if got := l.keyed != nil; got != want {
			t.Errorf("tier keyed by K: %v; want %v", got, want)
		}
	}
	t.Run("string", func(t *testing.T) { c, _ := newKeyedCache[string](t, nil); keyed(t, c.local, true) })
	t.Run("named string", func(t *testing.T) { c, _ := newKeyedCache[localID](t, nil); keyed(t, c.local, true) })
	t.Run("int", func(t *testing.T) {
		c, _ := newKeyedCache[int](t, &Options[int]{Namespace: "n", Version: 2})
		keyed(t, c.local, true)
	})
	t.Run("named int", func(t *testing.T) { c, _ := newKeyedCache[localNum](t, nil); keyed(t, c.local, true) })
	t.Run("Stringer", func(t *testing.T) { c, _ := newKeyedCache[localString](t, nil); keyed(t, c.local, false) })
	t.Run("Options.Key", func(t *testing.T) {
		c, _ := newKeyedCache(t, &Options[int]{Key: func(k int) (string, error) { return strconv.Itoa(k), nil }})
		keyed(t, c.local, false)
	})
	t.Run("memory-only", func(t *testing.T) {
		c, err := NewLocal[int, string](&LocalOptions[string]{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		keyed(t, c.local, false)
	})
}

// TestLocal_StoreKeyToKey checks the mapping from store keys (what
// writes, fills and the invalidation stream carry) to the tier's keys:
// exactly the keys of the cache's own rule map to a K; another namespace's,
// another version's, a memoizer prefix's and malformed forms do not.
func TestLocal_StoreKeyToKey(t *testing.T) {
	t.Run("int, namespace and version", func(t *testing.T) {
		c, _ := newKeyedCache(t, &Options[int]{Namespace: "u", Version: 3})
		b := c.local.keyed.(*localByKey[int, string])
		for key, want := range map[string]any{
			"u:3:7": 7, "u:3:-7": -7, "u:3:0": 0,
			"u:3:007": nil, "u:3:+7": nil, "u:3:-0": nil, "u:3:": nil, "u:3:99999999999999999999": nil,
			"u:4:7": nil, "u:7": nil, "u:37": nil, "v:3:7": nil, "x:u:3:7": nil, "u:3:f:7": nil, "7": nil, "": nil,
		} {
			k, ok := b.key(key)
			if (want == nil && ok) || (want != nil && (!ok || k != want)) {
				t.Errorf("key(%q) = %v, %v; want %v", key, k, ok, want)
			}
		}
	})
	t.Run("string, namespace", func(t *testing.T) {
		c, _ := newKeyedCache(t, &Options[string]{Namespace: "u"})
		b := c.local.keyed.(*localByKey[string, string])
		// "u:2:7" is the store key of both Get("2:7") here and Get("7") in a
		// view of version 2: one store entry, so one local copy, under "2:7".
		for key, want := range map[string]any{"u:7": "7", "u:2:7": "2:7", "u:": nil, "v:7": nil, "uu:7": nil, "7": nil} {
			k, ok := b.key(key)
			if (want == nil && ok) || (want != nil && (!ok || k != want)) {
				t.Errorf("key(%q) = %q, %v; want %v", key, k, ok, want)
			}
		}
	})
	t.Run("no namespace", func(t *testing.T) {
		c, _ := newKeyedCache[uint8](t, nil)
		b := c.local.keyed.(*localByKey[uint8, string])
		for key, want := range map[string]any{"7": uint8(7), "255": uint8(255), "256": nil, "a:7": nil, "-1": nil} {
			k, ok := b.key(key)
			if (want == nil && ok) || (want != nil && (!ok || k != want)) {
				t.Errorf("key(%q) = %v, %v; want %v", key, k, ok, want)
			}
		}
	})
}

// hitsOf returns how many local hits Get(k) makes (0 or 1), checking its
// value.
func hitsOf[K comparable](t *testing.T, c *Cache[K, string], k K, want string) uint64 {
	t.Helper()
	before, _ := c.LocalStats()
	v, err := c.Get(context.Background(), k)
	if err != nil || v != want {
		t.Fatalf("Get(%v) = %q, %v; want %q", k, v, err, want)
	}
	after, _ := c.LocalStats()
	return after.Hits - before.Hits
}

// TestLocal_KeyedInvalidation checks that writes and stream events, which
// name store keys, reach the copies kept by K, and only those of the keys
// they name.
func TestLocal_KeyedInvalidation(t *testing.T) {
	ctx := context.Background()
	c, mem := newKeyedCache(t, &Options[int]{Namespace: "u", Version: 1})
	for k := range 3 {
		if err := c.Set(ctx, k, "v"+strconv.Itoa(k)); err != nil {
			t.Fatal(err)
		}
		hitsOf(t, c, k, "v"+strconv.Itoa(k)) // fills
	}
	b := c.local.keyed.(*localByKey[int, string])
	if n, m := b.m.EstimatedSize(), c.local.values.EstimatedSize(); n != 3 || m != 0 {
		t.Fatalf("%d values by key, %d by store key; want 3 and 0", n, m)
	}
	if hitsOf(t, c, 1, "v1") != 1 {
		t.Fatal("Get(1) after a fill: no local hit")
	}
	// Another process writes u:1:1; malformed and foreign keys of the same
	// digits arrive too and must leave the other copies alone.
	raw, err := c.encodeEntry("set", "u:1:1", "w1", entry.Header{})
	if err != nil {
		t.Fatal(err)
	}
	if err := mem.Set(ctx, "u:1:1", raw, 0); err != nil {
		t.Fatal(err)
	}
	c.local.inv.event(store.Invalidation{Keys: []string{"u:1:001", "u:1:+2", "u:2:0", "v:1:0", "u:1:-0", "u:1:1"}})
	if hitsOf(t, c, 1, "w1") != 0 {
		t.Fatal("Get(1) after the stream dropped u:1:1: a local hit; want a store read")
	}
	for _, k := range []int{0, 2} {
		if hitsOf(t, c, k, "v"+strconv.Itoa(k)) != 1 {
			t.Fatalf("Get(%d): no local hit; an event for another key dropped it", k)
		}
	}
	// A write through the cache drops its key's copy.
	if err := c.Set(ctx, 2, "x2"); err != nil {
		t.Fatal(err)
	}
	if hitsOf(t, c, 2, "x2") != 0 {
		t.Fatal("Get(2) after Set: a local hit of the old copy")
	}
	// Clear empties both maps.
	if err := c.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	if n := c.local.size(); n != 0 {
		t.Fatalf("%d values after Clear; want 0", n)
	}
}

// TestLocal_KeyedViewsAndMemoizers checks the key rules that share the
// tier of a cache keyed by K: a view of another version and a memoizer
// with a prefix keep their own copies (by store key), a view of the same
// version shares the cache's (by K), and each write or event drops exactly
// the copy of the store key it names.
func TestLocal_KeyedViewsAndMemoizers(t *testing.T) {
	ctx := context.Background()
	c, _ := newKeyedCache(t, &Options[int]{Namespace: "u", Version: 1})
	v2, err := c.WithVersion(2)
	if err != nil {
		t.Fatal(err)
	}
	same, err := c.WithVersion(1)
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	memo := Memoize(c, func(_ context.Context, k int) (string, error) {
		calls++
		return "m" + strconv.Itoa(k), nil
	}, &MemoizeOptions[int, string]{Prefix: "f"})
	keyFn := Memoize(c, func(_ context.Context, k int) (string, error) {
		calls++
		return "k" + strconv.Itoa(k), nil
	}, &MemoizeOptions[int, string]{Key: func(k int) (string, error) { return "id" + strconv.Itoa(k), nil }})

	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(c.Set(ctx, 7, "c7"))
	must(v2.Set(ctx, 7, "v7"))
	hitsOf(t, c, 7, "c7")
	hitsOf(t, v2, 7, "v7")
	for range 2 { // computes, stores; then fills from the store or hits
		got, err := memo(ctx, 7)
		must(err)
		if got != "m7" {
			t.Fatalf("memo(7) = %q; want m7", got)
		}
		if got, err = keyFn(ctx, 7); err != nil || got != "k7" {
			t.Fatalf("keyFn(7) = %q, %v; want k7", got, err)
		}
	}
	b := c.local.keyed.(*localByKey[int, string])
	if n := b.m.EstimatedSize(); n != 1 {
		t.Fatalf("%d values by key; want 1 (the cache's 7)", n)
	}
	for _, key := range []string{"u:2:7", "u:1:f:7", "u:1:id7"} {
		if _, ok := c.local.values.GetIfPresent(key); !ok {
			t.Errorf("no copy of %s by store key", key)
		}
	}
	if hitsOf(t, c, 7, "c7") != 1 || hitsOf(t, v2, 7, "v7") != 1 || hitsOf(t, same, 7, "c7") != 1 {
		t.Fatal("a Get after the fills was not a local hit")
	}
	// A view of the cache's own version writes the cache's key: the
	// cache's copy (by K) goes.
	must(same.Set(ctx, 7, "s7"))
	if hitsOf(t, c, 7, "s7") != 0 {
		t.Fatal("c.Get(7) after a write through a view of its version: a local hit of the old copy")
	}
	if hitsOf(t, same, 7, "s7") != 1 {
		t.Fatal("the view of the same version does not share the cache's copy")
	}
	if hitsOf(t, v2, 7, "v7") != 1 {
		t.Fatal("a write of u:1:7 dropped the copy of u:2:7")
	}
	// An event for the memoizer's key drops its copy alone.
	c.local.inv.event(store.Invalidation{Keys: []string{"u:1:f:7"}})
	if _, ok := c.local.values.GetIfPresent("u:1:f:7"); ok {
		t.Fatal("the copy of u:1:f:7 survived its invalidation")
	}
	if hitsOf(t, c, 7, "s7") != 1 || hitsOf(t, v2, 7, "v7") != 1 {
		t.Fatal("an event for u:1:f:7 dropped another key's copy")
	}
	if calls != 2 {
		t.Fatalf("%d calls of the memoized functions; want 2", calls)
	}
}

// TestLocal_KeyedFillInvalidateRace is TestLocal_FillInvalidateRace for a
// tier keyed by K: the fill of Get(7) (which reaches the tier by K) and
// an invalidation of its store key meet at the same fence.
func TestLocal_KeyedFillInvalidateRace(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name       string
		invalidate func(c *Cache[int, string], mem *memstore.Store)
	}{
		{"write through a view of the same version", func(c *Cache[int, string], _ *memstore.Store) {
			same, err := c.WithVersion(1)
			if err != nil {
				t.Error(err)
				return
			}
			if err := same.Set(ctx, 7, "new"); err != nil {
				t.Error(err)
			}
		}},
		{"stream event", func(c *Cache[int, string], mem *memstore.Store) {
			raw, err := c.encodeEntry("set", "u:1:7", "new", entry.Header{})
			if err == nil {
				err = mem.Set(ctx, "u:1:7", raw, 0) // the store, not the tier
			}
			if err != nil {
				t.Error(err)
			}
			c.local.inv.event(store.Invalidation{Keys: []string{"u:1:7"}})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, mem := newKeyedCache(t, &Options[int]{Namespace: "u", Version: 1})
			if err := c.Set(ctx, 7, "old"); err != nil {
				t.Fatal(err)
			}
			var once sync.Once
			c.local.beforeInstall = func(string) { once.Do(func() { tc.invalidate(c, mem) }) }
			if v, err := c.Get(ctx, 7); err != nil || v != "old" {
				t.Fatalf("racing Get = %q, %v; want old (what it read)", v, err)
			}
			if v, err := c.Get(ctx, 7); err != nil || v != "new" {
				t.Fatalf("Get after the invalidation = %q, %v; want new", v, err)
			}
			if s, _ := c.LocalStats(); s.Fills != 1 {
				t.Fatalf("stats %+v; want 1 fill (the second read's)", s)
			}
		})
	}
}

// TestLocal_KeyedWeigher checks that a tier keyed by K still gives its
// Weigher each value's store key.
func TestLocal_KeyedWeigher(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	var keys []string
	mem := memstore.Must(nil)
	t.Cleanup(func() { mem.Close() })
	c, err := New[int](mem, codec.JSON[string](), &Options[int]{Namespace: "u", Local: &LocalOptions[string]{
		MaxWeight: 100,
		Weigher: func(key string, v string) uint32 {
			mu.Lock()
			defer mu.Unlock()
			keys = append(keys, key)
			return uint32(len(v))
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if c.local.keyed == nil {
		t.Fatal("tier not keyed by K")
	}
	if err := c.Set(ctx, 42, "v"); err != nil {
		t.Fatal(err)
	}
	hitsOf(t, c, 42, "v")
	if hitsOf(t, c, 42, "v") != 1 {
		t.Fatal("Get(42) after its fill: no local hit")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(keys) == 0 || keys[0] != "u:42" {
		t.Fatalf("Weigher given keys %q; want u:42", keys)
	}
}
