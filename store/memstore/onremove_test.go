package memstore

import (
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type removal struct {
	key    string
	reason RemovalReason
}

// recorder returns options whose OnRemove sends every call to the channel
// it returns.
func recorder(o Options) (*Options, <-chan removal) {
	ch := make(chan removal, 4096)
	o.OnRemove = func(key string, r RemovalReason) { ch <- removal{key, r} }
	return &o, ch
}

// await waits for the call of OnRemove for key, applying the engine's
// pending work while it waits, and returns its reason.
func await(t *testing.T, s *Store, ch <-chan removal, key string) RemovalReason {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case r := <-ch:
			if r.key == key {
				return r.reason
			}
		case <-tick.C:
			s.cache.CleanUp()
		case <-deadline:
			t.Fatalf("OnRemove(%q): not called within 5s; want a call", key)
		}
	}
}

func TestStore_OnRemove(t *testing.T) {
	for _, c := range []struct {
		name string
		do   func(t *testing.T, s *Store)
		want RemovalReason
	}{
		{"Delete", func(t *testing.T, s *Store) { _, _ = s.Delete(bg, "k") }, Deleted},
		{"Clear", func(t *testing.T, s *Store) { _ = s.Clear(bg, "k") }, Deleted},
		{"Close", func(t *testing.T, s *Store) { _ = s.Close() }, Deleted},
		{"Set", func(t *testing.T, s *Store) { _ = s.Set(bg, "k", []byte("2"), 0) }, Replaced},
		{"Increment", func(t *testing.T, s *Store) { _, _ = s.Increment(bg, "k", 1) }, Replaced},
		{"Expire", func(t *testing.T, s *Store) { _, _ = s.Expire(bg, "k", time.Hour) }, Replaced},
		{"ttl passes", func(t *testing.T, s *Store) { _ = s.Set(bg, "t", []byte("1"), time.Millisecond) }, Expired},
		{"Delete after the ttl", func(t *testing.T, s *Store) {
			_ = s.Set(bg, "t", []byte("1"), time.Millisecond)
			time.Sleep(2 * time.Millisecond) // the entry must have expired
			_, _ = s.Delete(bg, "t")
		}, Expired},
		{"Set after the ttl", func(t *testing.T, s *Store) {
			_ = s.Set(bg, "t", []byte("1"), time.Millisecond)
			time.Sleep(2 * time.Millisecond)
			_ = s.Set(bg, "t", []byte("2"), 0)
		}, Expired},
	} {
		t.Run(c.name, func(t *testing.T) {
			o, ch := recorder(Options{})
			s := newStore(t, o)
			if err := s.Set(bg, "k", []byte("1"), 0); err != nil {
				t.Fatal(err)
			}
			c.do(t, s)
			key := "k"
			if c.want == Expired {
				key = "t"
			}
			if got := await(t, s, ch, key); got != c.want {
				t.Errorf("OnRemove after %s: got reason %v; want %v", c.name, got, c.want)
			}
		})
	}
}

func TestStore_OnRemoveEvicted(t *testing.T) {
	o, ch := recorder(Options{MaxEntries: 10})
	s := newStore(t, o)
	for i := range 100 {
		if err := s.Set(bg, "k"+strconv.Itoa(i), []byte("v"), 0); err != nil {
			t.Fatal(err)
		}
	}
	s.cache.CleanUp()
	evicted := 0
	timeout := time.After(5 * time.Second)
	for evicted < 90 {
		select {
		case r := <-ch:
			if r.reason != Evicted {
				t.Fatalf("OnRemove(%q) with only Sets of new keys: got reason %v; want evicted", r.key, r.reason)
			}
			evicted++
		case <-timeout:
			t.Fatalf("OnRemove with reason evicted after 100 keys in a 10-entry store: got %d calls in 5s; want at least 90", evicted)
		}
	}
}

// TestStore_OnRemoveDoesNotBlock checks that a callback that blocks holds
// up no operation of the store.
func TestStore_OnRemoveDoesNotBlock(t *testing.T) {
	release := make(chan struct{})
	called := make(chan struct{}, 1)
	s := newStore(t, &Options{OnRemove: func(string, RemovalReason) {
		select {
		case called <- struct{}{}:
		default:
		}
		<-release
	}})
	defer close(release)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 1000 {
			k := "k" + strconv.Itoa(i%10)
			_ = s.Set(bg, k, []byte("v"), 0)
			_, _ = s.Delete(bg, k)
		}
	}()
	<-called // a callback is blocked
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("1000 Set and Delete calls with a blocked OnRemove: not done in 5s; want them not to wait for it")
	}
}

func TestRemovalReason_String(t *testing.T) {
	for r, want := range map[RemovalReason]string{Expired: "expired", Evicted: "evicted", Deleted: "deleted", Replaced: "replaced", 0: "RemovalReason(0)"} {
		if got := r.String(); got != want {
			t.Errorf("RemovalReason(%d).String(): got %q; want %q", int(r), got, want)
		}
	}
}

// TestStore_OnRemoveInOrder: calls come one at a time, in the order the
// entries left the store: for each key, its Replaced calls before the
// Deleted of the Delete that followed them, whatever the goroutines.
func TestStore_OnRemoveInOrder(t *testing.T) {
	var active, overlap atomic.Int32
	var mu sync.Mutex
	seen := map[string][]RemovalReason{}
	done := make(chan struct{}, 1)
	const keys, writes = 8, 50
	total := 0
	s := newStore(t, &Options{OnRemove: func(key string, r RemovalReason) {
		if active.Add(1) > 1 {
			overlap.Add(1)
		}
		mu.Lock()
		seen[key] = append(seen[key], r)
		total++
		if total == keys*writes {
			done <- struct{}{}
		}
		mu.Unlock()
		active.Add(-1)
	}})
	var wg sync.WaitGroup
	for k := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := "k" + strconv.Itoa(k)
			for range writes {
				if err := s.Set(bg, key, []byte("v"), 0); err != nil {
					t.Error(err)
				}
			}
			if _, err := s.Delete(bg, key); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatalf("OnRemove: got %d calls within 5s; want %d", total, keys*writes)
	}
	if n := overlap.Load(); n != 0 {
		t.Errorf("OnRemove ran concurrently with itself %d times; want never", n)
	}
	mu.Lock()
	defer mu.Unlock()
	for key, rs := range seen {
		for i, r := range rs {
			want := Replaced
			if i == writes-1 {
				want = Deleted
			}
			if r != want {
				t.Fatalf("OnRemove call %d for %s: got %v; want %v (calls %v)", i, key, r, want, rs)
			}
		}
	}
}

// TestStore_OnRemoveBlockedNoGoroutinePerEvent: while a callback is
// blocked, further removals queue; they do not each start a goroutine.
func TestStore_OnRemoveBlockedNoGoroutinePerEvent(t *testing.T) {
	release := make(chan struct{})
	called := make(chan struct{}, 1)
	var calls atomic.Int32
	all := make(chan struct{})
	s := newStore(t, &Options{MaxEntries: 10, OnRemove: func(string, RemovalReason) {
		if calls.Add(1) == 2001 {
			close(all)
		}
		select {
		case called <- struct{}{}:
		default:
		}
		<-release
	}})
	if err := s.Set(bg, "first", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Delete(bg, "first"); err != nil {
		t.Fatal(err)
	}
	<-called
	before := runtime.NumGoroutine()
	for i := range 2000 {
		k := "k" + strconv.Itoa(i)
		if err := s.Set(bg, k, []byte("v"), 0); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Delete(bg, k); err != nil {
			t.Fatal(err)
		}
	}
	if grew := runtime.NumGoroutine() - before; grew > 50 {
		t.Errorf("2000 removals behind a blocked OnRemove started %d goroutines; want them queued", grew)
	}
	close(release)
	select {
	case <-all:
	case <-time.After(5 * time.Second):
		t.Errorf("OnRemove after the release: got %d calls within 5s; want 2001", calls.Load())
	}
}
