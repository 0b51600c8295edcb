package cachet_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/cachet-go/cachet"
	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/internal/testserver"
	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/memcachestore"
	"github.com/cachet-go/cachet/store/memstore"
	"github.com/cachet-go/cachet/store/redisstore"
	_ "github.com/cachet-go/cachet/store/redisstore/redisurl"
)

// closedCacheChecks asserts that every kind of call on c returns
// ErrClosed.
func closedCacheChecks(t *testing.T, c *cachet.Cache[string, string]) {
	t.Helper()
	ctx := context.Background()
	checks := map[string]error{}
	_, checks["Get"] = c.Get(ctx, "k")
	checks["Set"] = c.Set(ctx, "k", "v")
	_, checks["GetMany"] = c.GetMany(ctx, []string{"k"})
	_, checks["Delete"] = c.Delete(ctx, "k")
	_, checks["GetOrLoad"] = c.GetOrLoad(ctx, "k", func(context.Context) (string, error) { return "x", nil })
	_, checks["Memoize"] = cachet.Memoize(c, func(context.Context, string) (string, error) { return "x", nil }, nil)(ctx, "k")
	_, checks["TryLock"] = c.TryLock(ctx, "k", time.Second)
	checks["Ping"] = c.Ping(ctx)
	_, checks["Update"] = c.Update(ctx, "k", func(string, bool) (string, error) { return "u", nil })
	_, checks["IncrementFloat"] = c.IncrementFloat(ctx, "f", 1.5)
	for name, err := range checks {
		if !errors.Is(err, cachet.ErrClosed) {
			t.Errorf("%s after Close = %v; want ErrClosed", name, err)
		}
	}
}

// sharedStoreLifecycle checks, over the store s: a cache given s by New
// does not close it; closing it closes the cache (and its views) only.
func sharedStoreLifecycle(t *testing.T, s store.Store) {
	ctx := context.Background()
	a, err := cachet.New[string](s, codec.String(), &cachet.Options[string]{Namespace: "a"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := cachet.New[string](s, codec.String(), &cachet.Options[string]{Namespace: "b"})
	if err != nil {
		t.Fatal(err)
	}
	view, err := a.WithNamespace("aview")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatalf("first Close = %v; want nil", err)
	}
	closedCacheChecks(t, a)
	closedCacheChecks(t, view)
	if err := a.Close(); !errors.Is(err, cachet.ErrClosed) {
		t.Errorf("second Close = %v; want ErrClosed", err)
	}
	a.Enable()
	if a.Enabled() {
		t.Error("Enabled after Close and Enable = true; want false (closed is for good)")
	}
	// The store and the other cache on it carry on.
	if err := b.Set(ctx, "k", "vb"); err != nil {
		t.Fatalf("Set on another cache of the store = %v; want nil", err)
	}
	if v, err := b.Get(ctx, "k"); err != nil || v != "vb" {
		t.Fatalf("Get on another cache of the store = %q, %v; want vb", v, err)
	}
	if err := s.Set(ctx, "raw", []byte("1"), 0); err != nil {
		t.Fatalf("the store itself after the cache's Close: Set = %v; want nil", err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("closing the store, by its opener = %v; want nil", err)
	}
}

func TestCache_Close_LeavesGivenStoreOpen(t *testing.T) {
	t.Run("memory", func(t *testing.T) { sharedStoreLifecycle(t, memstore.Must(nil)) })
	t.Run("redis", func(t *testing.T) {
		s, err := redisstore.Open(&redisstore.Options{Addrs: []string{testserver.Redis(t).Addr}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		sharedStoreLifecycle(t, s)
	})
}

func TestCache_Close_OwnedStore(t *testing.T) {
	ctx := context.Background()
	t.Run("OwnsStore", func(t *testing.T) {
		s := memstore.Must(nil)
		c, err := cachet.New[string](s, codec.String(), &cachet.Options[string]{OwnsStore: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, "k"); !errors.Is(err, cachet.ErrClosed) {
			t.Fatalf("store Get after its owner's Close = %v; want ErrClosed", err)
		}
	})
	t.Run("OpenCache", func(t *testing.T) {
		srv := testserver.Redis(t)
		c, err := cachet.OpenCache[string]("redis://"+srv.Addr, codec.String(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Ping(ctx); err != nil {
			t.Fatalf("Ping = %v; want nil", err)
		}
		s := c.Store()
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, "k"); !errors.Is(err, cachet.ErrClosed) {
			t.Fatalf("store Get after OpenCache's cache closed = %v; want ErrClosed", err)
		}
	})
}

func TestPing(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	port, err := testserver.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	dead := "127.0.0.1:" + strconv.Itoa(port) // nothing listens there

	t.Run("memory", func(t *testing.T) {
		if err := cachet.Ping(ctx, memstore.Must(nil)); err != nil {
			t.Fatalf("Ping(memstore) = %v; want nil (the Exists fallback)", err)
		}
	})
	t.Run("redis", func(t *testing.T) {
		srv := testserver.Redis(t)
		c, err := cachet.OpenCache[string]("redis://"+srv.Addr, codec.String(), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Ping(ctx); err != nil {
			t.Fatalf("Ping of a live redis-server = %v; want nil", err)
		}
		// Through middleware, the store's own Ping is still found.
		w := cachet.Chain(cachet.Timeout(time.Second))(c.Store())
		if err := cachet.Ping(ctx, w); err != nil {
			t.Fatalf("Ping through middleware = %v; want nil", err)
		}
		srv.Stop()
		if err := c.Ping(ctx); err == nil {
			t.Fatal("Ping of a stopped redis-server = nil; want an error")
		}
	})
	t.Run("redis unreachable", func(t *testing.T) {
		// Opening does not dial, so it succeeds; Ping tells.
		c, err := cachet.OpenCache[string]("redis://"+dead+"?dial_timeout=200ms", codec.String(), nil)
		if err != nil {
			t.Fatalf("OpenCache of an unreachable redis = %v; want nil (no dial)", err)
		}
		defer c.Close()
		if err := c.Ping(ctx); err == nil {
			t.Fatal("Ping of an unreachable redis = nil; want an error")
		}
	})
	t.Run("memcached", func(t *testing.T) {
		srv := testserver.Memcached(t)
		s, err := memcachestore.NewFromServers([]string{srv.Addr}, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := cachet.Ping(ctx, s); err != nil {
			t.Fatalf("Ping of a live memcached = %v; want nil", err)
		}
		ds, err := memcachestore.NewFromServers([]string{dead}, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer ds.Close()
		if err := cachet.Ping(ctx, ds); err == nil {
			t.Fatal("Ping of an unreachable memcached = nil; want an error")
		}
	})
}
