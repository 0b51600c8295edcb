package memcachestore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cachet-go/cachet/internal/testserver"
	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/memcachestore"
	"github.com/cachet-go/cachet/store/storetest"
)

// TestStore_BatchStoretest runs the conformance suite with every get
// going through the shared GetMultis (and, separately, with batching
// off), so that batching changes no operation's result.
func TestStore_BatchStoretest(t *testing.T) {
	srv := testserver.Memcached(t)
	for _, tc := range []struct {
		name  string
		o     memcachestore.BatchOptions
		queue bool
	}{
		{"queued", memcachestore.BatchOptions{}, true},
		{"disabled", memcachestore.BatchOptions{Disabled: true}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) store.Store {
				s := open(t, srv, &memcachestore.Options{Batch: tc.o})
				if tc.queue {
					memcachestore.QueueAll(s)
				}
				if err := s.Clear(bg, ""); err != nil {
					t.Fatalf("Clear(\"\"): %v", err)
				}
				return s
			}, &storetest.Options{TTLResolution: time.Second, NoTTL: true, NamespaceClearOnly: true})
		})
	}
}

// TestStore_BatchConcurrent has 64 goroutines get present, missing and
// repeated keys (plain and namespaced) through shared GetMultis: each
// gets its own key's value, a missing key ErrNotFound, and a key asked
// for by several callers of one batch gives each its own copy.
func TestStore_BatchConcurrent(t *testing.T) {
	srv := testserver.Memcached(t)
	s := fresh(t, srv, &memcachestore.Options{Namespaces: []string{"ns"}})
	memcachestore.QueueAll(s)
	const n = 20
	for i := range n {
		mustSet(t, s, fmt.Sprintf("k%d", i), fmt.Sprintf("v%d", i), 0)
		mustSet(t, s, fmt.Sprintf("ns:k%d", i), fmt.Sprintf("nv%d", i), 0)
	}
	mustSet(t, s, "empty", "", 0)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 50 {
				i := (g + j) % n
				key, want := fmt.Sprintf("k%d", i), fmt.Sprintf("v%d", i)
				switch j % 4 {
				case 1:
					key, want = "ns:"+key, "n"+want
				case 2:
					key, want = "hot", "" // every goroutine, missing
				case 3:
					key, want = "k0", "v0" // every goroutine, present
				}
				v, err := s.Get(bg, key)
				switch {
				case key == "hot":
					if !errors.Is(err, store.ErrNotFound) {
						errs <- fmt.Errorf("Get(hot) = %q, %v; want ErrNotFound", v, err)
						return
					}
				case err != nil || string(v) != want:
					errs <- fmt.Errorf("Get(%s) = %q, %v; want %q", key, v, err, want)
					return
				default:
					v[0] = 'X' // a caller owns its bytes: scribbling on them must not show elsewhere
				}
			}
			v, err := s.Get(bg, "empty")
			if err != nil || v == nil || len(v) != 0 {
				errs <- fmt.Errorf("Get(empty) = %q (nil %v), %v; want a non-nil empty value", v, v == nil, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestStore_BatchOwnContexts queues gets on a stopped server: callers
// whose contexts end leave at once with their own context's error, and a
// caller beside them, whose context lives on, gets its value once the
// server answers again.
func TestStore_BatchOwnContexts(t *testing.T) {
	srv := testserver.Memcached(t)
	s := fresh(t, srv, &memcachestore.Options{Timeout: 10 * time.Second, Batch: memcachestore.BatchOptions{InFlight: 1}})
	memcachestore.QueueAll(s)
	mustSet(t, s, "a", "va", 0)
	if err := srv.Pause(); err != nil {
		t.Fatal(err)
	}
	resumed := false
	defer func() {
		if !resumed {
			srv.Resume()
		}
	}()
	type result struct {
		v   []byte
		err error
	}
	get := func(ctx context.Context, key string) <-chan result {
		ch := make(chan result, 1)
		go func() { v, err := s.Get(ctx, key); ch <- result{v, err} }()
		return ch
	}
	long := get(bg, "a") // its GetMulti hangs on the stopped server
	cctx, cancel := context.WithCancel(bg)
	dctx, dcancel := context.WithTimeout(bg, 50*time.Millisecond)
	defer dcancel()
	// With one round trip at a time, the next two share the long Get's
	// GetMulti or queue behind it: either way their contexts are theirs.
	canceled := get(cctx, "a")
	deadlined := get(dctx, "a")
	cancel()
	if r := <-canceled; !errors.Is(r.err, context.Canceled) {
		t.Errorf("cancelled Get = %q, %v; want context.Canceled", r.v, r.err)
	}
	if r := <-deadlined; !errors.Is(r.err, context.DeadlineExceeded) {
		t.Errorf("Get past its deadline = %q, %v; want context.DeadlineExceeded", r.v, r.err)
	}
	if err := srv.Resume(); err != nil {
		t.Fatal(err)
	}
	resumed = true
	if r := <-long; r.err != nil || string(r.v) != "va" {
		t.Errorf("Get beside ended callers = %q, %v; want \"va\"", r.v, r.err)
	}
	wantValue(t, s, "a", "va")
}

// TestStore_BatchOptionsInvalid: negative batch knobs are refused.
func TestStore_BatchOptionsInvalid(t *testing.T) {
	for _, o := range []memcachestore.BatchOptions{{InFlight: -1}, {MaxSize: -1}} {
		if _, err := memcachestore.NewFromServers([]string{"127.0.0.1:1"}, &memcachestore.Options{Batch: o}); err == nil {
			t.Errorf("NewFromServers with Batch %+v: nil error; want one", o)
		}
	}
}
