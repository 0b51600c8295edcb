package cachet_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachet-go/cachet"
	"github.com/cachet-go/cachet/caches"
	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/store"
)

// callCounter counts the calls that reach it.
type callCounter struct {
	store.Wrapper
	n atomic.Int64
}

func (c *callCounter) Get(ctx context.Context, key string) ([]byte, error) {
	c.n.Add(1)
	return c.Store.Get(ctx, key)
}

func (c *callCounter) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	c.n.Add(1)
	return c.Store.Set(ctx, key, value, ttl)
}

func TestCache_KillSwitch(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(t *testing.T) store.Store) {
		ctx := context.Background()
		s := open(t)
		var counter *callCounter
		c := newUsers(t, s, &cachet.Options[string]{
			Namespace: "ks",
			Middleware: []store.Middleware{func(s store.Store) store.Store {
				counter = &callCounter{Wrapper: store.Wrapper{Store: s}}
				return counter
			}},
		})
		if err := c.Set(ctx, "kept", User{ID: 1}); err != nil {
			t.Fatal(err)
		}
		if !c.Enabled() {
			t.Fatal("a new cache is not Enabled")
		}

		c.Disable()
		if c.Enabled() {
			t.Fatal("Enabled after Disable")
		}
		before := counter.n.Load()
		if _, err := c.Get(ctx, "kept"); !errors.Is(err, cachet.ErrNotFound) {
			t.Fatalf("Get while off: err = %v; want ErrNotFound", err)
		}
		if got, err := c.GetMany(ctx, []string{"kept"}); err != nil || len(got) != 0 {
			t.Fatalf("GetMany while off = %v, %v; want none", got, err)
		}
		if err := c.Set(ctx, "dropped", User{ID: 2}); err != nil {
			t.Fatalf("Set while off: %v; want it accepted", err)
		}
		if err := c.Add(ctx, "kept", User{ID: 3}); err != nil {
			t.Fatalf("Add while off: %v; want it accepted", err)
		}
		if n, err := c.Delete(ctx, "kept"); err != nil || n != 0 {
			t.Fatalf("Delete while off = %d, %v; want 0", n, err)
		}
		if ok, err := c.Exists(ctx, "kept"); err != nil || ok {
			t.Fatalf("Exists while off = %v, %v; want false", ok, err)
		}
		if n, err := c.Increment(ctx, "n", 5); err != nil || n != 5 {
			t.Fatalf("Increment while off = %d, %v; want 5", n, err)
		}
		if err := c.Clear(ctx); err != nil {
			t.Fatalf("Clear while off: %v", err)
		}
		if err := c.ClearAll(ctx); err != nil {
			t.Fatalf("ClearAll while off: %v", err)
		}
		loads := 0
		for range 2 {
			v, err := c.GetOrLoad(ctx, "loaded", func(context.Context) (User, error) { loads++; return User{ID: 9}, nil })
			if err != nil || v.ID != 9 {
				t.Fatalf("GetOrLoad while off = %+v, %v", v, err)
			}
		}
		if loads != 2 {
			t.Fatalf("GetOrLoad while off loaded %d times; want 2 (every read misses)", loads)
		}
		if n := counter.n.Load() - before; n != 0 {
			t.Fatalf("%d calls reached the middleware while off; want 0", n)
		}
		// Values are still encoded: a codec error still shows.
		anyc := cachet.Must(cachet.New[string](s, codec.JSON[any](), &cachet.Options[string]{Namespace: "ks2", Disabled: true}))
		if err := anyc.Set(ctx, "ch", make(chan int)); !errors.Is(err, cachet.ErrEncode) {
			t.Fatalf("Set of an unencodable value while off: err = %v; want ErrEncode", err)
		}

		c.Enable()
		if u, err := c.Get(ctx, "kept"); err != nil || u.ID != 1 {
			t.Fatalf("kept after Enable = %+v, %v; want ID 1, untouched by the Add and Delete made while off", u, err)
		}
		for _, k := range []string{"dropped", "n", "loaded"} {
			if ok, err := c.Exists(ctx, k); err != nil || ok {
				t.Fatalf("%s after Enable: Exists = %v, %v; want false (written while off)", k, ok, err)
			}
		}
	})
}

// Turning the switch while other goroutines use the cache is safe, and
// every call sees one state or the other.
func TestCache_KillSwitchConcurrent(t *testing.T) {
	ctx := context.Background()
	c := newUsers(t, newMem(t), &cachet.Options[string]{Namespace: "ksc"})
	if err := c.Set(ctx, "k", User{ID: 1}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var hits, misses atomic.Int64
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				u, err := c.Get(ctx, "k")
				switch {
				case err == nil && u.ID == 1:
					hits.Add(1)
				case errors.Is(err, cachet.ErrNotFound):
					misses.Add(1)
				default:
					t.Errorf("Get = %+v, %v; want the value or ErrNotFound", u, err)
					return
				}
			}
		}()
	}
	for i := 0; i < 2000 || hits.Load() == 0 || misses.Load() == 0; i++ {
		if i%2 == 0 {
			c.Disable()
		} else {
			c.Enable()
		}
	}
	close(stop)
	wg.Wait()
	c.Enable()
	if u, err := c.Get(ctx, "k"); err != nil || u.ID != 1 {
		t.Fatalf("Get after the toggling = %+v, %v", u, err)
	}
}

// The switch can be set from configuration: Options.Disabled, a store URL
// and an alias of package caches; views share it.
func TestCache_KillSwitchFromConfig(t *testing.T) {
	ctx := context.Background()
	c, err := cachet.OpenCache[string]("memory://?disabled=true&namespace=cfg", codec.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Enabled() {
		t.Fatal("?disabled=true: cache Enabled")
	}
	if _, err := cachet.OpenCache[string]("memory://?disabled=maybe", codec.String(), nil); !errors.Is(err, cachet.ErrInvalidOption) {
		t.Fatalf("?disabled=maybe: err = %v; want ErrInvalidOption", err)
	}

	r := new(caches.Registry)
	defer r.Close()
	if err := r.ConfigureJSON([]byte(`{"off": {"store": "memory://", "namespace": "a", "disabled": true}, "on": {"store": "memory://"}}`)); err != nil {
		t.Fatal(err)
	}
	off := cachet.Must(caches.Alias[string, string](r, "off"))
	if off.Enabled() {
		t.Fatal(`alias with "disabled": true is Enabled`)
	}
	off.Set(ctx, "k", "v")
	if _, err := off.Get(ctx, "k"); !errors.Is(err, cachet.ErrNotFound) {
		t.Fatalf("Get on a disabled alias: err = %v; want ErrNotFound", err)
	}
	if on := cachet.Must(caches.Alias[string, string](r, "on")); !on.Enabled() {
		t.Fatal("alias without disabled is not Enabled")
	}

	// A view shares the switch of its cache, both ways.
	v, err := off.WithNamespace("b")
	if err != nil {
		t.Fatal(err)
	}
	if v.Enabled() {
		t.Fatal("view of a disabled cache is Enabled")
	}
	v.Enable()
	if !off.Enabled() {
		t.Fatal("Enable on a view did not turn its cache on")
	}
}
