package redisstore_test

import (
	"bytes"
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachet-go/cachet/internal/testserver"
	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/redisstore"
)

func TestStore_Semantics(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *redisstore.Store) {
		ctx := context.Background()
		if _, err := s.Get(ctx, "missing"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get(missing) error = %v; want ErrNotFound", err)
		}
		if err := s.Set(ctx, "k", []byte("v"), 0); err != nil {
			t.Fatalf("Set: %v", err)
		}
		if got, err := s.Get(ctx, "k"); err != nil || string(got) != "v" {
			t.Errorf("Get(k) = %q, %v; want \"v\", nil", got, err)
		}
		if d, err := s.TTL(ctx, "k"); err != nil || d != 0 {
			t.Errorf("TTL(k) = %v, %v; want 0, nil (no expiry)", d, err)
		}
		if _, err := s.TTL(ctx, "missing"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("TTL(missing) error = %v; want ErrNotFound", err)
		}

		// Add: NX semantics.
		if err := s.Add(ctx, "k", []byte("other"), 0); !errors.Is(err, store.ErrExists) {
			t.Errorf("Add(existing) error = %v; want ErrExists", err)
		}
		if got, err := s.Get(ctx, "k"); err != nil || string(got) != "v" {
			t.Errorf("after failed Add, Get(k) = %q; want \"v\" (err %v)", got, err)
		}
		if err := s.Add(ctx, "added", []byte("a"), time.Minute); err != nil {
			t.Errorf("Add(absent): %v", err)
		}
		if d, err := s.TTL(ctx, "added"); err != nil || d <= 59*time.Second || d > time.Minute {
			t.Errorf("TTL(added) = %v, %v; want (59s, 1m]", d, err)
		}

		// Increment.
		if n, err := s.Increment(ctx, "n", 5); err != nil || n != 5 {
			t.Errorf("Increment(n, 5) = %d, %v; want 5, nil", n, err)
		}
		if n, err := s.Increment(ctx, "n", -7); err != nil || n != -2 {
			t.Errorf("Increment(n, -7) = %d, %v; want -2, nil", n, err)
		}
		if got, err := s.Get(ctx, "n"); err != nil || string(got) != "-2" {
			t.Errorf("Get(n) = %q; want \"-2\" (err %v)", got, err)
		}
		if _, err := s.Increment(ctx, "k", 1); !errors.Is(err, store.ErrNotInteger) {
			t.Errorf("Increment(non-integer) error = %v; want ErrNotInteger", err)
		}
		if err := s.Set(ctx, "big", []byte(strconv.FormatInt(math.MaxInt64, 10)), 0); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Increment(ctx, "big", 1); !errors.Is(err, store.ErrOverflow) {
			t.Errorf("Increment(MaxInt64, 1) error = %v; want ErrOverflow", err)
		}
		if err := s.Set(ctx, "huge", []byte("99999999999999999999"), 0); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Increment(ctx, "huge", 1); !errors.Is(err, store.ErrNotInteger) {
			t.Errorf("Increment(beyond int64) error = %v; want ErrNotInteger", err)
		}
		// Increment keeps an existing ttl.
		if err := s.Set(ctx, "cnt", []byte("1"), time.Minute); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Increment(ctx, "cnt", 1); err != nil {
			t.Fatal(err)
		}
		if d, err := s.TTL(ctx, "cnt"); err != nil || d <= 0 {
			t.Errorf("TTL after Increment = %v, %v; want the ttl kept", d, err)
		}

		// Expire and persist.
		if ok, err := s.Expire(ctx, "k", time.Hour); err != nil || !ok {
			t.Errorf("Expire(k, 1h) = %v, %v; want true, nil", ok, err)
		}
		if d, err := s.TTL(ctx, "k"); err != nil || d <= 59*time.Minute || d > time.Hour {
			t.Errorf("TTL(k) after Expire = %v; want (59m, 1h] (err %v)", d, err)
		}
		if ok, err := s.Expire(ctx, "k", 0); err != nil || !ok {
			t.Errorf("Expire(k, 0) = %v, %v; want true, nil", ok, err)
		}
		if d, err := s.TTL(ctx, "k"); err != nil || d != 0 {
			t.Errorf("TTL(k) after persist = %v; want 0 (err %v)", d, err)
		}
		// Persisting a key that has no expiry still reports it exists.
		if ok, err := s.Expire(ctx, "k", -1); err != nil || !ok {
			t.Errorf("Expire(k without ttl, -1) = %v, %v; want true, nil", ok, err)
		}
		for _, ttl := range []time.Duration{0, time.Hour} {
			if ok, err := s.Expire(ctx, "missing", ttl); err != nil || ok {
				t.Errorf("Expire(missing, %v) = %v, %v; want false, nil", ttl, ok, err)
			}
		}

		// Exists and Delete, keys spread over slots on a cluster.
		if ok, err := s.Exists(ctx, "k"); err != nil || !ok {
			t.Errorf("Exists(k) = %v, %v; want true, nil", ok, err)
		}
		if ok, err := s.Exists(ctx, "missing"); err != nil || ok {
			t.Errorf("Exists(missing) = %v, %v; want false, nil", ok, err)
		}
		if n, err := s.Delete(ctx, "k", "n", "missing", "k", "added", "big"); err != nil || n != 4 {
			t.Errorf("Delete = %d, %v; want 4, nil", n, err)
		}
		if ok, err := s.Exists(ctx, "k"); err != nil || ok {
			t.Errorf("Exists(k) after Delete = true; want false (err %v)", err)
		}
		if n, err := s.Delete(ctx); err != nil || n != 0 {
			t.Errorf("Delete() = %d, %v; want 0, nil", n, err)
		}
	})
}

func TestStore_InvalidInput(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *redisstore.Store) {
		ctx := context.Background()
		checks := map[string]error{}
		_, checks["get"] = s.Get(ctx, "")
		_, checks["get_many"] = s.GetMany(ctx, []string{"a", ""})
		checks["set"] = s.Set(ctx, "", []byte("v"), 0)
		checks["set_many"] = s.SetMany(ctx, []store.Entry{{Key: "a", Value: []byte("v")}, {Key: "", Value: []byte("v")}}, 0)
		checks["add"] = s.Add(ctx, "", []byte("v"), 0)
		_, checks["delete"] = s.Delete(ctx, "a", "")
		_, checks["exists"] = s.Exists(ctx, "")
		_, checks["increment"] = s.Increment(ctx, "", 1)
		_, checks["expire"] = s.Expire(ctx, "", time.Second)
		_, checks["ttl"] = s.TTL(ctx, "")
		for op, err := range checks {
			if !errors.Is(err, store.ErrInvalidKey) {
				t.Errorf("%s with an empty key: error = %v; want ErrInvalidKey", op, err)
			}
		}
		if err := s.Set(ctx, "k", nil, 0); !errors.Is(err, store.ErrInvalidValue) {
			t.Errorf("Set(nil value) error = %v; want ErrInvalidValue", err)
		}
		if err := s.Add(ctx, "k", nil, 0); !errors.Is(err, store.ErrInvalidValue) {
			t.Errorf("Add(nil value) error = %v; want ErrInvalidValue", err)
		}
		err := s.SetMany(ctx, []store.Entry{{Key: "a", Value: []byte("v")}, {Key: "b"}}, 0)
		if !errors.Is(err, store.ErrInvalidValue) {
			t.Errorf("SetMany(nil value) error = %v; want ErrInvalidValue", err)
		}
		// A rejected batch writes nothing.
		if ok, err := s.Exists(ctx, "a"); err != nil || ok {
			t.Errorf("SetMany with an invalid entry stored the valid one; want nothing stored (err %v)", err)
		}
	})
}

func TestStore_EmptyValue(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *redisstore.Store) {
		ctx := context.Background()
		if err := s.Set(ctx, "empty", []byte{}, 0); err != nil {
			t.Fatal(err)
		}
		got, err := s.Get(ctx, "empty")
		if err != nil || got == nil || len(got) != 0 {
			t.Errorf("Get(empty) = %#v, %v; want non-nil empty slice", got, err)
		}
		vals, err := s.GetMany(ctx, []string{"missing", "empty"})
		if err != nil {
			t.Fatal(err)
		}
		if vals[0] != nil {
			t.Errorf("GetMany slot 0 (missing) = %#v; want nil", vals[0])
		}
		if vals[1] == nil || len(vals[1]) != 0 {
			t.Errorf("GetMany slot 1 (empty) = %#v; want non-nil empty slice", vals[1])
		}
		if err := s.SetMany(ctx, []store.Entry{{Key: "e1", Value: []byte{}}, {Key: "e2", Value: []byte{}}}, time.Minute); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Get(ctx, "e2"); err != nil || got == nil || len(got) != 0 {
			t.Errorf("Get(e2) = %#v, %v; want non-nil empty slice", got, err)
		}
	})
}

// binaryValues returns values that text-oriented code tends to break:
// every byte value, NULs, invalid UTF-8, CR LF (the RESP delimiter), and
// real gob and msgpack encodings.
func binaryValues(t *testing.T) map[string][]byte {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	var g bytes.Buffer
	if err := gob.NewEncoder(&g).Encode(map[string]any{"n": 42, "f": 1.5, "b": []byte{0, 255}}); err != nil {
		t.Fatal(err)
	}
	return map[string][]byte{
		"all-bytes":  all,
		"reversed":   bytes.Repeat([]byte{255, 254, 0, 1, '\r', '\n'}, 100),
		"nul":        {0},
		"crlf":       []byte("$5\r\nhello\r\n*1\r\n"),
		"bad-utf8":   {0xc3, 0x28, 0xa0, 0xa1, 0xf0, 0x28, 0x8c, 0xbc},
		"gob":        g.Bytes(),
		"msgpack":    {0x82, 0xa1, 'a', 0xcd, 0x01, 0x00, 0xa1, 'b', 0xc4, 0x03, 0x00, 0xff, 0x0d}, // {"a": 256, "b": bin8 00 ff 0d}
		"large-1MiB": bytes.Repeat(all, 4096),
	}
}

func TestStore_BinarySafe(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *redisstore.Store) {
		ctx := context.Background()
		vals := binaryValues(t)
		var entries []store.Entry
		var keys []string
		for name, v := range vals {
			key := "bin:\x00\xff:" + name // binary-safe keys too
			if err := s.Set(ctx, key, v, 0); err != nil {
				t.Fatalf("Set(%s): %v", name, err)
			}
			got, err := s.Get(ctx, key)
			if err != nil || !bytes.Equal(got, v) {
				t.Errorf("Get(%s) = %d bytes, %v; want the %d bytes set", name, len(got), err, len(v))
			}
			entries = append(entries, store.Entry{Key: "many:" + name, Value: v})
			keys = append(keys, "many:"+name)
		}
		for _, ttl := range []time.Duration{0, time.Minute} { // MSET and SET PX paths
			if err := s.SetMany(ctx, entries, ttl); err != nil {
				t.Fatalf("SetMany(ttl %v): %v", ttl, err)
			}
			got, err := s.GetMany(ctx, keys)
			if err != nil {
				t.Fatal(err)
			}
			for i, e := range entries {
				if !bytes.Equal(got[i], e.Value) {
					t.Errorf("ttl %v: GetMany[%s] = %d bytes; want the %d bytes set", ttl, e.Key, len(got[i]), len(e.Value))
				}
			}
		}
	})
}

func TestStore_TTLExpires(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *redisstore.Store) {
		ctx := context.Background()
		const ttl = 50 * time.Millisecond
		if err := s.Set(ctx, "short", []byte("v"), ttl); err != nil {
			t.Fatal(err)
		}
		if err := s.SetMany(ctx, []store.Entry{{Key: "m1", Value: []byte("1")}, {Key: "m2", Value: []byte("2")}}, ttl); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"short", "m1", "m2"} {
			if d, err := s.TTL(ctx, k); err != nil || d <= 0 || d > ttl {
				t.Errorf("TTL(%s) = %v, %v; want (0, %v]", k, d, err, ttl)
			}
		}
		// A sub-millisecond remainder rounds up rather than down to "no
		// expiry".
		if err := s.Set(ctx, "sub", []byte("v"), time.Hour+time.Microsecond); err != nil {
			t.Fatal(err)
		}
		if d, err := s.TTL(ctx, "sub"); err != nil || d <= 59*time.Minute || d > time.Hour+time.Millisecond {
			t.Errorf("TTL(sub) = %v, %v; want about 1h", d, err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for _, k := range []string{"short", "m1", "m2"} {
			for {
				_, err := s.Get(ctx, k)
				if errors.Is(err, store.ErrNotFound) {
					break
				}
				if err != nil {
					t.Fatalf("Get(%s): %v", k, err)
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s with a %v ttl still present after 5s", k, ttl)
				}
				time.Sleep(5 * time.Millisecond) // polling server-side expiry
			}
		}
	})
}

func TestStore_GetManyClusterManySlots(t *testing.T) {
	c := sharedCluster(t)
	s := openStore(t, &redisstore.Options{Addrs: c.Addrs()})
	ctx := context.Background()
	const n = 2000
	keys := make([]string, n)
	var entries []store.Entry
	slots := map[int]bool{}
	for i := range keys {
		keys[i] = "user:" + strconv.Itoa(i)
		slots[redisstore.Slot(keys[i])] = true
		if i%3 != 0 { // every third key missing
			entries = append(entries, store.Entry{Key: keys[i], Value: []byte("v" + strconv.Itoa(i))})
		}
	}
	if len(slots) < n/2 {
		t.Fatalf("test keys span only %d slots; want at least %d", len(slots), n/2)
	}
	if err := s.SetMany(ctx, entries, 0); err != nil {
		t.Fatalf("SetMany: %v", err)
	}
	// Every master holds some of the keys.
	for _, addr := range c.Addrs() {
		size, err := testserver.RedisCommand(addr, "DBSIZE")
		if err != nil || size == "0" {
			t.Errorf("DBSIZE on master %s = %q, %v; want keys on every master", addr, size, err)
		}
	}
	got, err := s.GetMany(ctx, keys)
	if err != nil {
		t.Fatalf("GetMany: %v", err)
	}
	if len(got) != n {
		t.Fatalf("GetMany returned %d slots; want %d", len(got), n)
	}
	for i, v := range got {
		want := "v" + strconv.Itoa(i)
		switch {
		case i%3 == 0 && v != nil:
			t.Errorf("GetMany[%d] = %q; want nil (missing)", i, v)
		case i%3 != 0 && string(v) != want:
			t.Errorf("GetMany[%d] = %q; want %q", i, v, want)
		}
	}
	if d, err := s.Delete(ctx, keys...); err != nil || d != len(entries) {
		t.Errorf("Delete(all %d keys) = %d, %v; want %d", n, d, err, len(entries))
	}
}

// TestSlot checks Slot against the server's CLUSTER KEYSLOT.
func TestSlot(t *testing.T) {
	c := sharedCluster(t)
	keys := []string{"", "a", "foo", "123456789", "{user1000}.following", "{user1000}.followers",
		"{}x", "x{}y", "{a}{b}", "a{b", "a}b{c}", "\x00\xff", "ns:1:key"}
	for i := 0; i < 200; i++ {
		keys = append(keys, fmt.Sprintf("k%d:%x", i, i*7919))
	}
	for _, k := range keys {
		want, err := testserver.RedisCommand(c.Addrs()[0], "CLUSTER", "KEYSLOT", k)
		if err != nil {
			t.Fatalf("CLUSTER KEYSLOT %q: %v", k, err)
		}
		if got := strconv.Itoa(redisstore.Slot(k)); got != want {
			t.Errorf("Slot(%q) = %s; want %s", k, got, want)
		}
	}
}

func TestStore_ClearNamespaces(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *redisstore.Store) {
		ctx := context.Background()
		// Prefixes with glob metacharacters must match only themselves.
		const a, b = "users:", `p[1]*?\:`
		var entries []store.Entry
		for i := 0; i < 300; i++ {
			for _, k := range []string{a + strconv.Itoa(i), b + strconv.Itoa(i)} {
				entries = append(entries, store.Entry{Key: k, Value: []byte("v")})
			}
		}
		// Keys that the unescaped pattern `p[1]*?\:*` would match, and keys
		// that share a shorter prefix.
		others := []string{"p1xx:1", "p]:", "users", "users2:1", "p[1]*?\\", "xusers:1"}
		for _, k := range others {
			entries = append(entries, store.Entry{Key: k, Value: []byte("o")})
		}
		if err := s.SetMany(ctx, entries, 0); err != nil {
			t.Fatal(err)
		}
		if err := s.Clear(ctx, b); err != nil {
			t.Fatalf("Clear(%q): %v", b, err)
		}
		for _, e := range entries {
			ok, err := s.Exists(ctx, e.Key)
			if err != nil {
				t.Fatal(err)
			}
			if want := !startsWith(e.Key, b); ok != want {
				t.Errorf("after Clear(%q): Exists(%q) = %v; want %v", b, e.Key, ok, want)
			}
		}
		if err := s.Clear(ctx, a); err != nil {
			t.Fatalf("Clear(%q): %v", a, err)
		}
		for _, k := range others {
			if ok, err := s.Exists(ctx, k); err != nil || !ok {
				t.Errorf("after Clear(%q): Exists(%q) = false; want true (err %v)", a, k, err)
			}
		}
		if ok, err := s.Exists(ctx, a+"7"); err != nil || ok {
			t.Errorf("after Clear(%q): Exists(%q) = true; want false (err %v)", a, a+"7", err)
		}
	})
}

func startsWith(s, prefix string) bool { return len(s) >= len(prefix) && s[:len(prefix)] == prefix }

// TestStore_ClearBatches clears more keys than one SCAN/UNLINK batch holds.
func TestStore_ClearBatches(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s0 := b.open(t)
			s, err := redisstore.New(s0.Client(), &redisstore.Options{ScanCount: 7})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			var entries []store.Entry
			for i := 0; i < 500; i++ {
				entries = append(entries, store.Entry{Key: "ns:" + strconv.Itoa(i), Value: []byte("v")})
			}
			entries = append(entries, store.Entry{Key: "keep", Value: []byte("v")})
			if err := s.SetMany(ctx, entries, time.Hour); err != nil {
				t.Fatal(err)
			}
			if err := s.Clear(ctx, "ns:"); err != nil {
				t.Fatalf("Clear: %v", err)
			}
			n, err := s.Delete(ctx, keysOf(entries)...)
			if err != nil || n != 1 {
				t.Errorf("keys left after Clear(ns:) = %d, %v; want 1 (keep)", n, err)
			}
			// Close of a store made by New leaves the client open.
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if err := s0.Client().Ping(ctx).Err(); err != nil {
				t.Errorf("client after Close of a New store: Ping = %v; want nil", err)
			}
		})
	}
}

func keysOf(entries []store.Entry) []string {
	keys := make([]string, len(entries))
	for i, e := range entries {
		keys[i] = e.Key
	}
	return keys
}

// TestStore_ClearEmptyIsOneDB checks that Clear("") empties the store's
// database and no other.
func TestStore_ClearEmptyIsOneDB(t *testing.T) {
	addr := sharedRedis(t).Addr
	s0 := openStore(t, &redisstore.Options{Addrs: []string{addr}, DB: 0})
	s1 := openStore(t, &redisstore.Options{Addrs: []string{addr}, DB: 1})
	ctx := context.Background()
	for _, s := range []*redisstore.Store{s0, s1} {
		if err := s.Set(ctx, "k", []byte("v"), 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := s1.Clear(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if ok, err := s1.Exists(ctx, "k"); err != nil || ok {
		t.Errorf("db 1 after its Clear(\"\"): k exists; want gone (err %v)", err)
	}
	if ok, err := s0.Exists(ctx, "k"); err != nil || !ok {
		t.Errorf("db 0 after db 1's Clear(\"\"): k gone; want kept (err %v)", err)
	}
}

func TestStore_ClearEmptyCluster(t *testing.T) {
	c := sharedCluster(t)
	s := openStore(t, &redisstore.Options{Addrs: c.Addrs()})
	ctx := context.Background()
	var entries []store.Entry
	for i := 0; i < 300; i++ {
		entries = append(entries, store.Entry{Key: strconv.Itoa(i), Value: []byte("v")})
	}
	if err := s.SetMany(ctx, entries, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Clear(ctx, ""); err != nil {
		t.Fatal(err)
	}
	for _, addr := range c.Addrs() {
		if size, err := testserver.RedisCommand(addr, "DBSIZE"); err != nil || size != "0" {
			t.Errorf("DBSIZE on %s after Clear(\"\") = %q, %v; want 0", addr, size, err)
		}
	}
}

func TestStore_Closed(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *redisstore.Store) {
		ctx := context.Background()
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		for op, err := range allOps(ctx, s) {
			if !errors.Is(err, store.ErrClosed) {
				t.Errorf("%s after Close: error = %v; want ErrClosed", op, err)
			}
		}
		if err := s.Close(); !errors.Is(err, store.ErrClosed) {
			t.Errorf("second Close: error = %v; want ErrClosed", err)
		}
		// Open's client is owned and closed with the store.
		if err := s.Client().Ping(ctx).Err(); !errors.Is(err, redis.ErrClosed) {
			t.Errorf("Ping on the client of a closed Open store = %v; want redis.ErrClosed", err)
		}
	})
}

// TestStore_ClientClosedElsewhere checks that a client closed behind the
// store's back also gives store.ErrClosed.
func TestStore_ClientClosedElsewhere(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: sharedRedis(t).Addr})
	s, err := redisstore.New(client, nil)
	if err != nil {
		t.Fatal(err)
	}
	client.Close()
	ctx := context.Background()
	for op, err := range allOps(ctx, s) {
		if !errors.Is(err, store.ErrClosed) {
			t.Errorf("%s on a closed client: error = %v; want ErrClosed", op, err)
		}
	}
}

// allOps runs every operation once and returns its error by op name.
func allOps(ctx context.Context, s store.Store) map[string]error {
	errs := map[string]error{}
	v := []byte("v")
	_, errs["get"] = s.Get(ctx, "k")
	_, errs["get_many"] = s.GetMany(ctx, []string{"k", "l"})
	errs["set"] = s.Set(ctx, "k", v, time.Second)
	errs["set_many"] = s.SetMany(ctx, []store.Entry{{Key: "k", Value: v}, {Key: "l", Value: v}}, time.Second)
	errs["add"] = s.Add(ctx, "k", v, 0)
	_, errs["delete"] = s.Delete(ctx, "k", "l")
	_, errs["exists"] = s.Exists(ctx, "k")
	_, errs["increment"] = s.Increment(ctx, "n", 1)
	_, errs["expire"] = s.Expire(ctx, "k", time.Second)
	_, errs["ttl"] = s.TTL(ctx, "k")
	errs["clear"] = s.Clear(ctx, "p:")
	errs["clear_all"] = s.Clear(ctx, "")
	return errs
}

func TestStore_CancelledContext(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *redisstore.Store) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		for op, err := range allOps(ctx, s) {
			if !errors.Is(err, context.Canceled) {
				t.Errorf("%s with a cancelled context: error = %v; want context.Canceled", op, err)
			}
		}
		ctx, cancel = context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
		defer cancel()
		if _, err := s.Get(ctx, "k"); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Get with an expired deadline: error = %v; want context.DeadlineExceeded", err)
		}
	})
}

// TestStore_ServerDownAndBack stops the server under a store: operations
// fail within their deadline, and the same store works again once the
// server is back on its port.
func TestStore_ServerDownAndBack(t *testing.T) {
	srv := testserver.Redis(t)
	s := openStore(t, &redisstore.Options{Addrs: []string{srv.Addr}, MinIdleConns: 2})
	ctx := context.Background()
	if err := s.Set(ctx, "k", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	const deadline = 2 * time.Second
	for op, f := range map[string]func(ctx context.Context) error{
		"get": func(ctx context.Context) error { _, err := s.Get(ctx, "k"); return err },
		"set": func(ctx context.Context) error { return s.Set(ctx, "k", []byte("v"), 0) },
		"get_many": func(ctx context.Context) error {
			_, err := s.GetMany(ctx, []string{"a", "b"})
			return err
		},
		"clear": func(ctx context.Context) error { return s.Clear(ctx, "p:") },
	} {
		ctx, cancel := context.WithTimeout(ctx, deadline)
		start := time.Now()
		err := f(ctx)
		took := time.Since(start)
		cancel()
		if err == nil {
			t.Errorf("%s with the server down: no error", op)
		}
		if took > deadline+500*time.Millisecond {
			t.Errorf("%s with the server down took %v; want an error within the %v deadline", op, took, deadline)
		}
	}
	if err := srv.Restart(); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	// The server came back empty (no persistence); the same store must
	// reconnect on its own. go-redis probes a server it failed to dial
	// once a second, so the first calls may still fail.
	ctx5, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for {
		err := s.Set(ctx5, "k", []byte("again"), 0)
		if err == nil {
			break
		}
		if ctx5.Err() != nil {
			t.Fatalf("Set still failing 5s after the restart: %v", err)
		}
		time.Sleep(20 * time.Millisecond) // polling the client's own reconnection
	}
	if got, err := s.Get(ctx5, "k"); err != nil || string(got) != "again" {
		t.Errorf("Get after restart = %q, %v; want \"again\", nil", got, err)
	}
}

// TestStore_HungServerDeadline makes a real server stop answering (CLIENT
// PAUSE for 3s) and checks that operations return at their context
// deadline, not at the client's 3s read timeout, and that the store works
// again once the server answers.
func TestStore_HungServerDeadline(t *testing.T) {
	srv := testserver.Redis(t)
	s := openStore(t, &redisstore.Options{Addrs: []string{srv.Addr}})
	ctx := context.Background()
	if err := s.Set(ctx, "k", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := testserver.RedisCommand(srv.Addr, "CLIENT", "PAUSE", "3000", "ALL"); err != nil {
		t.Fatalf("CLIENT PAUSE: %v", err)
	}
	const deadline = 200 * time.Millisecond
	for op, f := range map[string]func(ctx context.Context) error{
		"get": func(ctx context.Context) error { _, err := s.Get(ctx, "k"); return err },
		"set_many": func(ctx context.Context) error {
			return s.SetMany(ctx, []store.Entry{{Key: "a", Value: []byte("1")}}, time.Minute)
		},
		"clear": func(ctx context.Context) error { return s.Clear(ctx, "p:") },
	} {
		opCtx, cancel := context.WithTimeout(ctx, deadline)
		start := time.Now()
		err := f(opCtx)
		took := time.Since(start)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s on a hung server: error = %v; want context.DeadlineExceeded", op, err)
		}
		if took > deadline+time.Second {
			t.Errorf("%s on a hung server returned after %v; want about its %v deadline", op, took, deadline)
		}
	}
	// The pause (which also blocks CLIENT UNPAUSE) ends by itself.
	ctx10, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if got, err := s.Get(ctx10, "k"); err != nil || string(got) != "v" {
		t.Errorf("Get after the server answers again = %q, %v; want \"v\", nil", got, err)
	}
}

// TestStore_KilledUnderLoad kills the server while goroutines use the
// store, then restarts it: no call hangs past its deadline, every
// goroutine sees the failure, and every goroutine succeeds again with the
// same store after the restart.
func TestStore_KilledUnderLoad(t *testing.T) {
	srv := testserver.Redis(t)
	s := openStore(t, &redisstore.Options{Addrs: []string{srv.Addr}, PoolSize: 4})
	const workers = 8
	var (
		wg        sync.WaitGroup
		started   sync.WaitGroup // each worker succeeded once
		failed    sync.WaitGroup // each worker saw the server down
		recovered sync.WaitGroup // each worker succeeded after the restart
		restored  = make(chan struct{})
		stop      = make(chan struct{})
		mu        sync.Mutex
		problems  []string
	)
	report := func(format string, args ...any) {
		mu.Lock()
		problems = append(problems, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	started.Add(workers)
	failed.Add(workers)
	recovered.Add(workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			key := "w" + strconv.Itoa(w)
			var didStart, didFail, didRecover bool
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				afterRestore := false
				select {
				case <-restored:
					afterRestore = true
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				start := time.Now()
				err := s.Set(ctx, key, []byte(strconv.Itoa(i)), 0)
				if err == nil {
					_, err = s.Get(ctx, key)
				}
				took := time.Since(start)
				cancel()
				if took > 1500*time.Millisecond {
					report("worker %d: call took %v with a 1s deadline", w, took)
				}
				switch {
				case err == nil && !didStart:
					didStart = true
					started.Done()
				case err != nil && didStart && !didFail:
					didFail = true
					failed.Done()
				case err == nil && afterRestore && didFail && !didRecover:
					didRecover = true
					recovered.Done()
				}
				if err != nil {
					time.Sleep(10 * time.Millisecond) // do not spin on a dead server
				}
			}
		}(w)
	}
	waitFor := func(what string, g *sync.WaitGroup) {
		done := make(chan struct{})
		go func() { g.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			close(stop)
			t.Fatalf("not every worker %s within 15s", what)
		}
	}
	waitFor("started", &started)
	srv.Stop()
	waitFor("saw the server down", &failed)
	if err := srv.Restart(); err != nil {
		close(stop)
		t.Fatalf("Restart: %v", err)
	}
	close(restored)
	waitFor("recovered after the restart", &recovered)
	close(stop)
	wg.Wait()
	for _, p := range problems {
		t.Error(p)
	}
}

func TestStore_ConcurrentIncrement(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *redisstore.Store) {
		ctx := context.Background()
		const goroutines, each = 8, 50
		var wg sync.WaitGroup
		errs := make(chan error, goroutines)
		for g := 0; g < goroutines; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < each; i++ {
					if _, err := s.Increment(ctx, "counter", 1); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if got, err := s.Get(ctx, "counter"); err != nil || string(got) != strconv.Itoa(goroutines*each) {
			t.Errorf("counter = %q, %v; want %d", got, err, goroutines*each)
		}
	})
}

func TestStore_ConcurrentAdd(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *redisstore.Store) {
		ctx := context.Background()
		const goroutines = 16
		var wg sync.WaitGroup
		wins := make(chan int, goroutines)
		for g := 0; g < goroutines; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				err := s.Add(ctx, "lock", []byte(strconv.Itoa(g)), time.Minute)
				switch {
				case err == nil:
					wins <- g
				case !errors.Is(err, store.ErrExists):
					t.Errorf("Add: %v", err)
				}
			}(g)
		}
		wg.Wait()
		close(wins)
		var winners []int
		for g := range wins {
			winners = append(winners, g)
		}
		if len(winners) != 1 {
			t.Fatalf("%d goroutines won Add; want exactly 1", len(winners))
		}
		if got, err := s.Get(ctx, "lock"); err != nil || string(got) != strconv.Itoa(winners[0]) {
			t.Errorf("lock = %q; want the winner's %d (err %v)", got, winners[0], err)
		}
	})
}

// TestStore_Ring runs the multi-key operations over a two-shard Ring,
// where a command goes to the shard of its first key.
func TestStore_Ring(t *testing.T) {
	a, b := testserver.Redis(t), testserver.Redis(t)
	ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": a.Addr, "b": b.Addr}})
	t.Cleanup(func() { ring.Close() })
	s, err := redisstore.New(ring, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var entries []store.Entry
	for i := 0; i < 100; i++ {
		entries = append(entries, store.Entry{Key: "r:" + strconv.Itoa(i), Value: []byte(strconv.Itoa(i))})
	}
	if err := s.SetMany(ctx, entries, time.Minute); err != nil {
		t.Fatal(err)
	}
	for _, srv := range []*testserver.Server{a, b} {
		if size, err := testserver.RedisCommand(srv.Addr, "DBSIZE"); err != nil || size == "0" {
			t.Errorf("shard %s holds no keys; want keys on both shards (err %v)", srv.Addr, err)
		}
	}
	got, err := s.GetMany(ctx, append(keysOf(entries), "missing"))
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range entries {
		if !bytes.Equal(got[i], e.Value) {
			t.Errorf("GetMany[%d] = %q; want %q", i, got[i], e.Value)
		}
	}
	if got[len(entries)] != nil {
		t.Errorf("GetMany[missing] = %q; want nil", got[len(entries)])
	}
	if n, err := s.Delete(ctx, "r:1", "r:2", "r:1", "missing"); err != nil || n != 2 {
		t.Errorf("Delete = %d, %v; want 2, nil", n, err)
	}
	if err := s.Clear(ctx, "r:"); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Delete(ctx, keysOf(entries)...); err != nil || n != 0 {
		t.Errorf("%d keys left after Clear(r:); want 0 (err %v)", n, err)
	}
}

func TestNewAndOpen_Invalid(t *testing.T) {
	if _, err := redisstore.New(nil, nil); err == nil {
		t.Error("New(nil client): no error")
	}
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer client.Close()
	if _, err := redisstore.New(client, &redisstore.Options{ScanCount: -1}); err == nil {
		t.Error("New with ScanCount -1: no error")
	}
	for name, o := range map[string]*redisstore.Options{
		"negative PoolSize":     {PoolSize: -1},
		"negative MinIdleConns": {MinIdleConns: -1},
		"negative DB":           {DB: -1},
		"DB on cluster":         {Addrs: []string{"127.0.0.1:1", "127.0.0.1:2"}, DB: 2},
		"empty address":         {Addrs: []string{""}},
	} {
		if s, err := redisstore.Open(o); err == nil {
			s.Close()
			t.Errorf("Open(%s): no error", name)
		}
	}
}

// TestOpen_Kinds checks which client Open builds.
func TestOpen_Kinds(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts *redisstore.Options
		want string
	}{
		{"nil", nil, "*redis.Client"},
		{"one address", &redisstore.Options{Addrs: []string{"127.0.0.1:1"}}, "*redis.Client"},
		{"two addresses", &redisstore.Options{Addrs: []string{"127.0.0.1:1", "127.0.0.1:2"}}, "*redis.ClusterClient"},
		{"Cluster", &redisstore.Options{Addrs: []string{"127.0.0.1:1"}, Cluster: true}, "*redis.ClusterClient"},
		{"MasterName", &redisstore.Options{Addrs: []string{"127.0.0.1:1"}, MasterName: "m"}, "*redis.Client"},
	} {
		s, err := redisstore.Open(tc.opts)
		if err != nil {
			t.Errorf("Open(%s): %v", tc.name, err)
			continue
		}
		if got := fmt.Sprintf("%T", s.Client()); got != tc.want {
			t.Errorf("Open(%s).Client() is %s; want %s", tc.name, got, tc.want)
		}
		s.Close()
	}
}

// TestStore_CloseWhileInUse closes an Open store while goroutines use it:
// each call either succeeds or fails with ErrClosed, and every call that
// starts after Close returned fails with ErrClosed.
func TestStore_CloseWhileInUse(t *testing.T) {
	s, err := redisstore.Open(&redisstore.Options{Addrs: []string{sharedRedis(t).Addr}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const workers = 8
	var (
		wg      sync.WaitGroup
		running sync.WaitGroup
		closed  = make(chan struct{})
	)
	running.Add(workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			key := "c" + strconv.Itoa(w)
			for i := 0; ; i++ {
				afterClose := false
				select {
				case <-closed:
					afterClose = true
				default:
				}
				err := s.Set(ctx, key, []byte("v"), 0)
				if i == 0 {
					running.Done()
				}
				switch {
				case err == nil && afterClose:
					t.Errorf("worker %d: Set after Close succeeded; want ErrClosed", w)
					return
				case err != nil && !errors.Is(err, store.ErrClosed):
					t.Errorf("worker %d: Set during Close: %v; want nil or ErrClosed", w, err)
					return
				case afterClose:
					return
				}
			}
		}(w)
	}
	running.Wait()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	close(closed)
	wg.Wait()
}
