package memcachestore_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/cachet-go/cachet/internal/testserver"
	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/memcachestore"
	"github.com/cachet-go/cachet/store/storetest"
)

var bg = context.Background()

// open returns a Store on srv that is closed when t ends.
func open(t testing.TB, srv *testserver.Server, opts *memcachestore.Options) *memcachestore.Store {
	t.Helper()
	s, err := memcachestore.NewFromServers([]string{srv.Addr}, opts)
	if err != nil {
		t.Fatalf("NewFromServers: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// fresh returns a Store on srv after emptying the server.
func fresh(t testing.TB, srv *testserver.Server, opts *memcachestore.Options) *memcachestore.Store {
	t.Helper()
	s := open(t, srv, opts)
	if err := s.Clear(bg, ""); err != nil {
		t.Fatalf("Clear(\"\"): %v", err)
	}
	return s
}

func mustSet(t testing.TB, s store.Store, key, value string, ttl time.Duration) {
	t.Helper()
	if err := s.Set(bg, key, []byte(value), ttl); err != nil {
		t.Fatalf("Set(%.40q): %v", key, err)
	}
}

func wantValue(t testing.TB, s store.Store, key, want string) {
	t.Helper()
	got, err := s.Get(bg, key)
	if err != nil || string(got) != want {
		t.Fatalf("Get(%.40q): got %.40q, %v; want %.40q", key, got, err, want)
	}
}

func wantMissing(t testing.TB, s store.Store, key string) {
	t.Helper()
	got, err := s.Get(bg, key)
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get(%.40q): got %.40q, %v; want ErrNotFound", key, got, err)
	}
}

// waitGone polls Get until key is gone, failing after deadline.
func waitGone(t *testing.T, s store.Store, key string, deadline time.Duration) {
	t.Helper()
	end := time.Now().Add(deadline)
	for {
		_, err := s.Get(bg, key)
		if errors.Is(err, store.ErrNotFound) {
			return
		}
		if err != nil {
			t.Fatalf("Get(%q) while waiting for expiry: %v", key, err)
		}
		if time.Now().After(end) {
			t.Fatalf("Get(%q): still present after %v; want it expired", key, deadline)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The root package runs storetest with the default Options; these run it
// with the other generation settings.
func TestStore_ConformanceGenerationCache(t *testing.T) {
	srv := testserver.Memcached(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		return fresh(t, srv, &memcachestore.Options{GenerationCacheTTL: time.Minute})
	}, &storetest.Options{TTLResolution: time.Second, NoTTL: true, NamespaceClearOnly: true})
}

func TestStore_Options(t *testing.T) {
	if _, err := memcachestore.New(nil, nil); err == nil {
		t.Error("New(nil client): got nil error; want an error")
	}
	if _, err := memcachestore.NewFromServers(nil, nil); err == nil {
		t.Error("NewFromServers(no servers): got nil error; want an error")
	}
	if _, err := memcachestore.NewFromServers([]string{"127.0.0.1:1"}, &memcachestore.Options{Timeout: -1}); err == nil {
		t.Error("NewFromServers(negative Timeout): got nil error; want an error")
	}
	for _, ns := range []string{"", "a:b", "a:"} {
		if _, err := memcachestore.New(memcache.New("127.0.0.1:1"), &memcachestore.Options{Namespaces: []string{ns}}); !errors.Is(err, store.ErrInvalidKey) {
			t.Errorf("New(Namespaces %q): got %v; want ErrInvalidKey", ns, err)
		}
		s, err := memcachestore.New(memcache.New("127.0.0.1:1"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.UseNamespace(ns); !errors.Is(err, store.ErrInvalidKey) {
			t.Errorf("UseNamespace(%q): got %v; want ErrInvalidKey", ns, err)
		}
	}
	s, err := memcachestore.NewFromServers([]string{"127.0.0.1:1"}, &memcachestore.Options{Timeout: time.Second, MaxIdleConns: 7})
	if err != nil {
		t.Fatal(err)
	}
	if c := s.Client(); c.Timeout != time.Second || c.MaxIdleConns != 7 {
		t.Errorf("Client(): Timeout %v, MaxIdleConns %d; want 1s, 7", c.Timeout, c.MaxIdleConns)
	}
	s, err = memcachestore.NewFromServers([]string{"127.0.0.1:1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c := s.Client(); c.Timeout != memcache.DefaultTimeout || c.MaxIdleConns != memcachestore.DefaultMaxIdleConns {
		t.Errorf("Client() with nil Options: Timeout %v, MaxIdleConns %d; want %v, %d", c.Timeout, c.MaxIdleConns, memcache.DefaultTimeout, memcachestore.DefaultMaxIdleConns)
	}
}

// TestStore_Keys stores a value under keys memcached would reject or that
// look like other keys' physical names, and reads every one back.
func TestStore_Keys(t *testing.T) {
	srv := testserver.Memcached(t)
	for _, opts := range []*memcachestore.Options{nil, {DisableGenerations: true}} {
		t.Run(fmt.Sprintf("DisableGenerations=%v", opts != nil), func(t *testing.T) {
			s := fresh(t, srv, opts)
			long := strings.Repeat("x", 5000)
			keys := []string{
				"plain", "a b", "a%20b", "a%2520b", "tab\tkey", "nl\r\nkey", "nul\x00", "del\x7f",
				"ünïcödé", "日本語:キー", "\xff", "%", "%25", "50%off",
				"ns:k", "ns:%g1:k", "ns:%n", "ns%3Ak", "x%hdeadbeef",
				strings.Repeat("k", 250), strings.Repeat("k", 251), strings.Repeat("é", 200),
				long + "1", long + "2", "ns:" + long + "1", "ns:" + long + "2", long + ":1", long + ":2",
				strings.Repeat(" ", 251),
			}
			for i, k := range keys {
				mustSet(t, s, k, strconv.Itoa(i), 0)
			}
			for i, k := range keys {
				wantValue(t, s, k, strconv.Itoa(i))
			}
			got, err := s.GetMany(bg, keys)
			if err != nil {
				t.Fatalf("GetMany: %v", err)
			}
			for i := range keys {
				if string(got[i]) != strconv.Itoa(i) {
					t.Errorf("GetMany slot %d (%.30q): got %q; want %q", i, keys[i], got[i], strconv.Itoa(i))
				}
			}
			// A plain key is stored under its own name.
			if it, err := s.Client().Get("plain"); err != nil || string(it.Value) != "0" {
				t.Errorf("raw Get(plain): got %v, %v; want the value under the key's own name", it, err)
			}
			if n, err := s.Delete(bg, keys...); err != nil || n != len(keys) {
				t.Errorf("Delete(all): got %d, %v; want %d, nil", n, err, len(keys))
			}
		})
	}
}

func TestStore_PlainKeysReadable(t *testing.T) {
	srv := testserver.Memcached(t)
	s := fresh(t, srv, &memcachestore.Options{DisableGenerations: true})
	mustSet(t, s, "users:42", "v", 0)
	if it, err := s.Client().Get("users:42"); err != nil || string(it.Value) != "v" {
		t.Errorf("raw Get(users:42) with generations off: got %v, %v; want v", it, err)
	}
	// With generations, a key of an undeclared namespace keeps its name.
	p := fresh(t, srv, nil)
	mustSet(t, p, "users:42", "v", 0)
	if it, err := p.Client().Get("users:42"); err != nil || string(it.Value) != "v" {
		t.Errorf("raw Get(users:42), namespace not declared: got %v, %v; want v", it, err)
	}
	if _, err := p.Client().Get("users:%n"); !errors.Is(err, memcache.ErrCacheMiss) {
		t.Errorf("raw Get(users:%%n), namespace not declared: %v; want no generation counter", err)
	}
	// In a declared namespace, the counter is readable too.
	g := fresh(t, srv, &memcachestore.Options{Namespaces: []string{"users"}})
	mustSet(t, g, "users:42", "v", 0)
	it, err := g.Client().Get("users:%n")
	if err != nil {
		t.Fatalf("raw Get(users:%%n): %v; want the generation counter", err)
	}
	gen, err := strconv.ParseUint(string(it.Value), 10, 64)
	if err != nil {
		t.Fatalf("generation counter holds %q; want a number", it.Value)
	}
	phys := "users:%g" + strconv.FormatUint(gen, 36) + ":42"
	if it, err := g.Client().Get(phys); err != nil || string(it.Value) != "v" {
		t.Errorf("raw Get(%q): got %v, %v; want v", phys, it, err)
	}
}

func TestStore_LongTTL(t *testing.T) {
	srv := testserver.Memcached(t)
	s := fresh(t, srv, nil)
	for _, ttl := range []time.Duration{30 * 24 * time.Hour, 31 * 24 * time.Hour, 100 * 365 * 24 * time.Hour} {
		for _, key := range []string{"long", "ns:long"} {
			k := key + ttl.String()
			mustSet(t, s, k, "v", ttl)
			wantValue(t, s, k, "v")
			if ok, err := s.Expire(bg, k, ttl); err != nil || !ok {
				t.Fatalf("Expire(%q, %v): got %v, %v; want true", k, ttl, ok, err)
			}
			wantValue(t, s, k, "v")
			if n, err := s.Increment(bg, k+"n", 1); err != nil || n != 1 {
				t.Fatalf("Increment: %d, %v", n, err)
			}
			if ok, err := s.Expire(bg, k+"n", ttl); err != nil || !ok {
				t.Fatalf("Expire(%q, %v): got %v, %v; want true", k+"n", ttl, ok, err)
			}
			if n, err := s.Increment(bg, k+"n", 1); err != nil || n != 2 {
				t.Fatalf("Increment after Expire(%v): got %d, %v; want 2", ttl, n, err)
			}
			wantValue(t, s, k+"n", "2")
		}
	}
}

func TestStore_SubSecondTTL(t *testing.T) {
	srv := testserver.Memcached(t)
	s := fresh(t, srv, nil)
	// Rounded up to one second: memcached expires it at its clock's next
	// tick, so within a second (plus slack), never "never".
	mustSet(t, s, "k", "v", 10*time.Millisecond)
	waitGone(t, s, "k", 2*time.Second)
}

// TestStore_IncrementKeepsExpiry covers the rate-limiter pattern: a
// counter created by Increment, given a ttl by Expire, keeps that ttl
// through later Increments (and a persisted one keeps none).
func TestStore_IncrementKeepsExpiry(t *testing.T) {
	srv := testserver.Memcached(t)
	s := fresh(t, srv, nil)
	for _, key := range []string{"rl", "ns:rl"} {
		if _, err := s.Increment(bg, key, 1); err != nil {
			t.Fatal(err)
		}
		if ok, err := s.Expire(bg, key, time.Second); err != nil || !ok {
			t.Fatalf("Expire: %v, %v", ok, err)
		}
		if n, err := s.Increment(bg, key, 1); err != nil || n != 2 {
			t.Fatalf("Increment: got %d, %v; want 2", n, err)
		}
		if n, err := s.Increment(bg, key, -5); err != nil || n != -3 {
			t.Fatalf("Increment(-5): got %d, %v; want -3", n, err)
		}
	}
	// Persisted after a ttl: Increment must not bring the old ttl back.
	mustSet(t, s, "p", "1", time.Second)
	if ok, err := s.Expire(bg, "p", 0); err != nil || !ok {
		t.Fatalf("Expire(p, 0): %v, %v", ok, err)
	}
	if n, err := s.Increment(bg, "p", 1); err != nil || n != 2 {
		t.Fatalf("Increment(p): got %d, %v; want 2", n, err)
	}
	waitGone(t, s, "rl", 3*time.Second)
	waitGone(t, s, "ns:rl", 3*time.Second)
	// A probe written after p with p's old ttl: once it is gone, p would
	// be gone too had Increment restored that ttl.
	mustSet(t, s, "probe", "v", time.Second)
	waitGone(t, s, "probe", 3*time.Second)
	wantValue(t, s, "p", "2")
}

func TestStore_IncrementSigned(t *testing.T) {
	srv := testserver.Memcached(t)
	s := fresh(t, srv, nil)
	// memcached's decr stops at 0 and its incr rejects negative numbers.
	mustSet(t, s, "k", "3", 0)
	for _, c := range []struct{ delta, want int64 }{{-5, -2}, {-10, -12}, {20, 8}, {math.MinInt64 + 100, math.MinInt64 + 108}} {
		if n, err := s.Increment(bg, "k", c.delta); err != nil || n != c.want {
			t.Fatalf("Increment(%d): got %d, %v; want %d", c.delta, n, err, c.want)
		}
		wantValue(t, s, "k", strconv.FormatInt(c.want, 10))
	}
	if _, err := s.Increment(bg, "k", -200); !errors.Is(err, store.ErrOverflow) {
		t.Fatalf("Increment below MinInt64: got %v; want ErrOverflow", err)
	}
	wantValue(t, s, "k", strconv.FormatInt(math.MinInt64+108, 10))
	// Values memcached's incr would take but that are not int64 decimals.
	for _, v := range []string{"18446744073709551615", " 5", "5 ", "1.5", "", "0x10", "abc"} {
		mustSet(t, s, "n", v, 0)
		if n, err := s.Increment(bg, "n", 1); !errors.Is(err, store.ErrNotInteger) {
			t.Errorf("Increment on %q: got %d, %v; want ErrNotInteger", v, n, err)
		}
		wantValue(t, s, "n", v)
	}
}

// TestStore_IncrementConcurrent checks atomicity with deltas of both signs
// crossing zero, on a plain and a namespaced key.
func TestStore_IncrementConcurrent(t *testing.T) {
	srv := testserver.Memcached(t)
	s := fresh(t, srv, nil)
	const goroutines, each = 100, 5
	for _, key := range []string{"c", "ns:c"} {
		var wg sync.WaitGroup
		errs := make(chan error, goroutines*each)
		for g := 0; g < goroutines; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				delta := int64(3)
				if g%2 == 1 {
					delta = -5
				}
				for i := 0; i < each; i++ {
					if _, err := s.Increment(bg, key, delta); err != nil {
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("Increment(%q): %v", key, err)
		}
		want := int64(goroutines/2*each*3 - goroutines/2*each*5)
		wantValue(t, s, key, strconv.FormatInt(want, 10))
	}
}

func TestStore_AddExists(t *testing.T) {
	srv := testserver.Memcached(t)
	s := fresh(t, srv, nil)
	for _, key := range []string{"a", "ns:a", "a b"} {
		if err := s.Add(bg, key, []byte("1"), 0); err != nil {
			t.Fatalf("Add(%q) absent: %v", key, err)
		}
		err := s.Add(bg, key, []byte("2"), 0)
		if !errors.Is(err, store.ErrExists) || !strings.Contains(err.Error(), "add") {
			t.Fatalf("Add(%q) present: got %v; want an add error wrapping ErrExists", key, err)
		}
		wantValue(t, s, key, "1")
	}
}

func TestStore_TTLNotSupported(t *testing.T) {
	srv := testserver.Memcached(t)
	s := fresh(t, srv, nil)
	mustSet(t, s, "k", "v", time.Hour)
	_, err := s.TTL(bg, "k")
	if !errors.Is(err, store.ErrNotSupported) || !strings.Contains(err.Error(), "ttl") {
		t.Errorf("TTL: got %v; want a ttl error wrapping ErrNotSupported", err)
	}
}

func TestStore_GetMany(t *testing.T) {
	srv := testserver.Memcached(t)
	for _, opts := range []*memcachestore.Options{nil, {GenerationCacheTTL: time.Minute}, {DisableGenerations: true}} {
		s := fresh(t, srv, opts)
		mustSet(t, s, "a", "1", 0)
		mustSet(t, s, "ns:b", "2", 0)
		mustSet(t, s, "other:c", "", 0)
		keys := []string{"ns:b", "missing", "a", "other:c", "ns:missing", "new:x", "a"}
		// Twice: the first run learns the generations, the second guesses them.
		for run := 0; run < 2; run++ {
			got, err := s.GetMany(bg, keys)
			if err != nil {
				t.Fatalf("GetMany: %v", err)
			}
			want := []string{"2", "", "1", "", "", "", "1"}
			for i := range keys {
				missing := keys[i] == "missing" || keys[i] == "ns:missing" || keys[i] == "new:x"
				if missing != (got[i] == nil) || string(got[i]) != want[i] {
					t.Errorf("opts %+v run %d: slot %d (%q): got %q (nil %v); want %q (nil %v)", opts, run, i, keys[i], got[i], got[i] == nil, want[i], missing)
				}
			}
		}
	}
}

func TestStore_ClearNamespace(t *testing.T) {
	srv := testserver.Memcached(t)
	s := fresh(t, srv, nil)
	for _, k := range []string{"a:1", "a:2", "a:x:y", "b:1", "plain", "ab:1"} {
		mustSet(t, s, k, "v", 0)
	}
	if err := s.Clear(bg, "a:"); err != nil {
		t.Fatalf("Clear(a:): %v", err)
	}
	for _, k := range []string{"a:1", "a:2", "a:x:y"} {
		wantMissing(t, s, k)
	}
	for _, k := range []string{"b:1", "plain", "ab:1"} {
		wantValue(t, s, k, "v")
	}
	mustSet(t, s, "a:1", "new", 0)
	wantValue(t, s, "a:1", "new")
	if err := s.Clear(bg, "never:"); err != nil {
		t.Errorf("Clear of a namespace never written: %v", err)
	}
	for _, p := range []string{"a", "a:1", "a:x:", "pl"} {
		err := s.Clear(bg, p)
		if !errors.Is(err, store.ErrNotSupported) || !strings.Contains(err.Error(), "namespace") {
			t.Errorf("Clear(%q): got %v; want ErrNotSupported explaining namespaces", p, err)
		}
	}
	wantValue(t, s, "a:1", "new")
	if err := s.Clear(bg, ""); err != nil {
		t.Fatalf("Clear(\"\"): %v", err)
	}
	for _, k := range []string{"a:1", "b:1", "plain", "ab:1"} {
		wantMissing(t, s, k)
	}
}

// TestStore_ClearAcrossStores has two Stores (as two processes would) on
// one server: a clear by one is seen by the other at once with a negative
// GenerationCacheTTL, and after GenerationCacheTTL with a positive one.
func TestStore_ClearAcrossStores(t *testing.T) {
	srv := testserver.Memcached(t)
	every := &memcachestore.Options{Namespaces: []string{"ns"}, GenerationCacheTTL: -1}
	a := fresh(t, srv, every)
	b := open(t, srv, every)
	mustSet(t, a, "ns:k", "v", 0)
	wantValue(t, b, "ns:k", "v") // b learns the generation
	if err := a.Clear(bg, "ns:"); err != nil {
		t.Fatal(err)
	}
	wantMissing(t, b, "ns:k")
	if ok, err := b.Exists(bg, "ns:k"); err != nil || ok {
		t.Errorf("Exists after another store's Clear: got true; want false (err %v)", err)
	}
	if got, err := b.GetMany(bg, []string{"ns:k"}); err != nil || got[0] != nil {
		t.Errorf("GetMany after another store's Clear: got %q, %v; want a nil slot", got, err)
	}
	mustSet(t, b, "ns:k", "b", 0) // written into the new generation
	wantValue(t, a, "ns:k", "b")

	// With a generation cache, the other store may serve the old
	// generation until its cached generation is older than the ttl.
	const cacheTTL = 300 * time.Millisecond
	c := open(t, srv, &memcachestore.Options{Namespaces: []string{"ns"}, GenerationCacheTTL: cacheTTL})
	wantValue(t, c, "ns:k", "b")
	start := time.Now()
	if err := a.Clear(bg, "ns:"); err != nil {
		t.Fatal(err)
	}
	for {
		_, err := c.Get(bg, "ns:k")
		if errors.Is(err, store.ErrNotFound) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if time.Since(start) > cacheTTL+2*time.Second {
			t.Fatalf("a store with GenerationCacheTTL %v still serves a cleared key after %v", cacheTTL, time.Since(start))
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Its own clears are seen at once.
	mustSet(t, c, "ns:k", "c", 0)
	wantValue(t, c, "ns:k", "c")
	if err := c.Clear(bg, "ns:"); err != nil {
		t.Fatal(err)
	}
	wantMissing(t, c, "ns:k")
}

// TestStore_GenerationCounterLost checks that losing a namespace's counter
// (evicted, or deleted by hand) empties the namespace and never brings old
// entries back.
func TestStore_GenerationCounterLost(t *testing.T) {
	srv := testserver.Memcached(t)
	s := fresh(t, srv, &memcachestore.Options{Namespaces: []string{"users"}, GenerationCacheTTL: -1})
	mustSet(t, s, "users:1", "old", 0)
	if err := s.Client().Delete("users:%n"); err != nil {
		t.Fatalf("raw delete of the counter: %v", err)
	}
	wantMissing(t, s, "users:1")
	mustSet(t, s, "users:2", "new", 0) // creates a new generation
	wantMissing(t, s, "users:1")
	wantValue(t, s, "users:2", "new")

	// A corrupt counter gives a clear error, and Clear repairs it.
	if err := s.Client().Set(&memcache.Item{Key: "users:%n", Value: []byte("junk")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(bg, "users:2"); err == nil || !strings.Contains(err.Error(), "generation counter") {
		t.Fatalf("Get with a corrupt counter: got %v; want an error naming the generation counter", err)
	}
	if err := s.Clear(bg, "users:"); err != nil {
		t.Fatalf("Clear(users:) over a corrupt counter: %v", err)
	}
	wantMissing(t, s, "users:2")
	mustSet(t, s, "users:3", "v", 0)
	wantValue(t, s, "users:3", "v")
}

func TestStore_GenerationsDisabled(t *testing.T) {
	srv := testserver.Memcached(t)
	s := fresh(t, srv, &memcachestore.Options{DisableGenerations: true})
	mustSet(t, s, "ns:k", "v", 0)
	err := s.Clear(bg, "ns:")
	if !errors.Is(err, store.ErrNotSupported) || !strings.Contains(err.Error(), "DisableGenerations") {
		t.Errorf("Clear(ns:) with generations off: got %v; want ErrNotSupported naming DisableGenerations", err)
	}
	wantValue(t, s, "ns:k", "v")
	if err := s.Clear(bg, ""); err != nil {
		t.Fatal(err)
	}
	wantMissing(t, s, "ns:k")
}

func TestStore_ValueTooLarge(t *testing.T) {
	srv := testserver.Memcached(t) // item size limit 4 MiB
	s := fresh(t, srv, nil)
	big := make([]byte, 5<<20)
	if err := s.Set(bg, "big", big, 0); !errors.Is(err, store.ErrInvalidValue) {
		t.Errorf("Set of 5 MiB: got %v; want ErrInvalidValue", err)
	}
	if err := s.SetMany(bg, []store.Entry{{Key: "big", Value: big}}, 0); !errors.Is(err, store.ErrInvalidValue) {
		t.Errorf("SetMany of 5 MiB: got %v; want ErrInvalidValue", err)
	}
	// The store still works afterwards.
	mustSet(t, s, "small", "v", 0)
	wantValue(t, s, "small", "v")
}

func TestStore_SetManyAndDeleteMany(t *testing.T) {
	srv := testserver.Memcached(t)
	s := fresh(t, srv, nil)
	var entries []store.Entry
	var keys []string
	for i := 0; i < 200; i++ {
		k := fmt.Sprintf("ns%d:k%d", i%3, i)
		if i%5 == 0 {
			k = fmt.Sprintf("k%d", i)
		}
		keys = append(keys, k)
		entries = append(entries, store.Entry{Key: k, Value: []byte(strconv.Itoa(i))})
	}
	if err := s.SetMany(bg, entries, time.Hour); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetMany(bg, keys)
	if err != nil {
		t.Fatal(err)
	}
	for i := range keys {
		if string(got[i]) != strconv.Itoa(i) {
			t.Fatalf("slot %d: got %q; want %q", i, got[i], strconv.Itoa(i))
		}
	}
	if n, err := s.Delete(bg, append(keys, "missing", "ns9:missing")...); err != nil || n != len(keys) {
		t.Fatalf("Delete: got %d, %v; want %d", n, err, len(keys))
	}
	got, err = s.GetMany(bg, keys)
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		if got[i] != nil {
			t.Fatalf("slot %d after Delete: got %q; want nil", i, got[i])
		}
	}
}

func TestStore_CloseClosesOps(t *testing.T) {
	srv := testserver.Memcached(t)
	s := open(t, srv, nil)
	mustSet(t, s, "k", "v", 0)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(bg, "k"); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Get after Close: got %v; want ErrClosed", err)
	}
	if err := s.Close(); !errors.Is(err, store.ErrClosed) {
		t.Errorf("second Close: got %v; want ErrClosed", err)
	}
}

// TestStore_IncrementCanonicalOnly checks that only canonical decimals
// count as integers, as on Redis: no sign '+', no leading zeros, no "-0"
// (issue 12).
func TestStore_IncrementCanonicalOnly(t *testing.T) {
	srv := testserver.Memcached(t)
	s := fresh(t, srv, nil)
	for _, v := range []string{"+41", "041", "-0", "00", "-01", " 1", "1 ", "", "1e3", "0x10"} {
		mustSet(t, s, "n", v, 0)
		if n, err := s.Increment(bg, "n", 1); !errors.Is(err, store.ErrNotInteger) {
			t.Errorf("Increment of %q: got %d, %v; want ErrNotInteger", v, n, err)
		}
		wantValue(t, s, "n", v)
	}
	for _, v := range []string{"0", "-1", "41", "-9223372036854775807", "9223372036854775806"} {
		mustSet(t, s, "n", v, 0)
		want, _ := strconv.ParseInt(v, 10, 64)
		if n, err := s.Increment(bg, "n", 1); err != nil || n != want+1 {
			t.Errorf("Increment of %q: got %d, %v; want %d", v, n, err, want+1)
		}
	}
}
