package lease

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachet-go/cachet/internal/testserver"
	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/memstore"
	"github.com/cachet-go/cachet/store/redisstore"
)

// hidden hides every optional interface of the store it embeds (it has no
// Unwrap), so that Release takes the Get+compare+Delete fallback.
type hidden struct{ store.Store }

// counting counts Gets and passes optional interfaces through Unwrap.
type counting struct {
	store.Store
	gets atomic.Int32
}

func (c *counting) Unwrap() store.Store { return c.Store }

func (c *counting) Get(ctx context.Context, key string) ([]byte, error) {
	c.gets.Add(1)
	return c.Store.Get(ctx, key)
}

// backends returns each store to test, with and without
// CompareAndDeleter reachable.
func backends(redisAddr string) map[string]func(t *testing.T) store.Store {
	mem := func(t *testing.T) store.Store {
		s := memstore.Must(nil)
		t.Cleanup(func() { s.Close() })
		return s
	}
	rds := func(t *testing.T) store.Store {
		s, err := redisstore.Open(&redisstore.Options{Addrs: []string{redisAddr}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		if err := s.Clear(context.Background(), ""); err != nil {
			t.Fatal(err)
		}
		return s
	}
	return map[string]func(t *testing.T) store.Store{
		"memstore":          mem,
		"memstore/fallback": func(t *testing.T) store.Store { return hidden{mem(t)} },
		"redis":             rds,
		"redis/fallback":    func(t *testing.T) store.Store { return hidden{rds(t)} },
	}
}

func TestLease(t *testing.T) {
	// One redis-server for every redis subtest.
	srv := testserver.Redis(t)
	for name, open := range backends(srv.Addr) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s := open(t)
			if _, cad := store.As[store.CompareAndDeleter](s); cad == (name == "memstore/fallback" || name == "redis/fallback") {
				t.Fatalf("CompareAndDeleter reachable = %v; unexpected for %s", cad, name)
			}

			t.Run("TakeOnce", func(t *testing.T) {
				l, err := Take(ctx, s, "once", time.Minute)
				if err != nil {
					t.Fatalf("Take: %v", err)
				}
				if l.Key() != "once" {
					t.Fatalf("Key() = %q; want once", l.Key())
				}
				if _, err := Take(ctx, s, "once", time.Minute); !errors.Is(err, store.ErrExists) {
					t.Fatalf("second Take: %v; want ErrExists", err)
				}
				if ok, err := l.Release(ctx); !ok || err != nil {
					t.Fatalf("Release = %v, %v; want true, nil", ok, err)
				}
				if ok, err := s.Exists(ctx, "once"); err != nil || ok {
					t.Fatalf("lease still stored after Release (err %v)", err)
				}
				if ok, err := l.Release(ctx); ok || err != nil {
					t.Fatalf("second Release = %v, %v; want false, nil", ok, err)
				}
				l2, err := Take(ctx, s, "once", time.Minute)
				if err != nil {
					t.Fatalf("Take after Release: %v", err)
				}
				l2.Release(ctx)
			})

			t.Run("ReleaseLeavesOthers", func(t *testing.T) {
				l, err := Take(ctx, s, "other", time.Minute)
				if err != nil {
					t.Fatal(err)
				}
				// The lease was lost (expired) and someone else took it.
				if err := s.Set(ctx, "other", []byte("someone else"), time.Minute); err != nil {
					t.Fatal(err)
				}
				if ok, err := l.Release(ctx); ok || err != nil {
					t.Fatalf("Release = %v, %v; want false, nil", ok, err)
				}
				if b, err := s.Get(ctx, "other"); err != nil || string(b) != "someone else" {
					t.Fatalf("Get = %q, %v; want the other holder's token kept", b, err)
				}
			})

			t.Run("ExpiredLeaseTakenOver", func(t *testing.T) {
				l, err := Take(ctx, s, "exp", 30*time.Millisecond)
				if err != nil {
					t.Fatal(err)
				}
				var l2 *Lease
				for deadline := time.Now().Add(5 * time.Second); l2 == nil; {
					l2, err = Take(ctx, s, "exp", time.Minute)
					if err != nil && !errors.Is(err, store.ErrExists) {
						t.Fatal(err)
					}
					if time.Now().After(deadline) {
						t.Fatal("lease with a 30ms ttl still held after 5s")
					}
				}
				if ok, err := l.Release(ctx); ok || err != nil {
					t.Fatalf("Release of the expired lease = %v, %v; want false, nil", ok, err)
				}
				if ok, err := s.Exists(ctx, "exp"); err != nil || !ok {
					t.Fatalf("the expired lease's Release removed the new holder's lease (err %v)", err)
				}
				if ok, err := l2.Release(ctx); !ok || err != nil {
					t.Fatalf("new holder's Release = %v, %v; want true, nil", ok, err)
				}
			})

			t.Run("ConcurrentTakeOneWins", func(t *testing.T) {
				const n = 16
				var wg sync.WaitGroup
				var won atomic.Int32
				start := make(chan struct{})
				for range n {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						_, err := Take(ctx, s, "race", time.Minute)
						switch {
						case err == nil:
							won.Add(1)
						case !errors.Is(err, store.ErrExists):
							t.Errorf("Take: %v", err)
						}
					}()
				}
				close(start)
				wg.Wait()
				if w := won.Load(); w != 1 {
					t.Fatalf("%d winners; want 1", w)
				}
			})
		})
	}
}

// Release finds CompareAndDelete through wrappers (store.As), so it does
// not read the lease back.
func TestRelease_UsesCompareAndDeleteThroughWrappers(t *testing.T) {
	ctx := context.Background()
	c := &counting{Store: memstore.Must(nil)}
	defer c.Close()
	l, err := Take(ctx, c, "k", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := l.Release(ctx); !ok || err != nil {
		t.Fatalf("Release = %v, %v; want true, nil", ok, err)
	}
	if g := c.gets.Load(); g != 0 {
		t.Fatalf("Release made %d Gets; want 0 (CompareAndDelete)", g)
	}

	h := &counting{Store: hidden{memstore.Must(nil)}}
	defer h.Close()
	l, err = Take(ctx, h, "k", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := l.Release(ctx); !ok || err != nil {
		t.Fatalf("fallback Release = %v, %v; want true, nil", ok, err)
	}
	if g := h.gets.Load(); g != 1 {
		t.Fatalf("fallback Release made %d Gets; want 1", g)
	}
}

func TestTake_TokensDiffer(t *testing.T) {
	ctx := context.Background()
	s := memstore.Must(nil)
	defer s.Close()
	a, err := Take(ctx, s, "a", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Take(ctx, s, "b", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if string(a.token) == string(b.token) || len(a.token) < 16 {
		t.Fatalf("tokens %q and %q; want distinct random tokens", a.token, b.token)
	}
}
