package cachet_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/cachet-go/cachet"
	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/store"
)

// Get over a store.Finder (memstore, no middleware) builds its store key
// in a pooled buffer that the next Get reuses. These tests check that no
// error, value or store entry keeps that buffer: every error names the
// operation and the key it was about, whatever Gets come after it.

// wantKeyError checks that err wraps target and is an *Error of Op "get"
// and Key key.
func wantKeyError(t *testing.T, what string, err, target error, key string) {
	t.Helper()
	var e *cachet.Error
	if !errors.Is(err, target) || !errors.As(err, &e) || e.Op != "get" || e.Key != key {
		t.Errorf("%s: got %v; want an *Error of get %q wrapping %v", what, err, key, target)
		return
	}
	if msg := err.Error(); strings.Count(msg, fmt.Sprintf("%q", key)) != 1 || strings.Count(msg, "cachet: get") != 1 {
		t.Errorf("%s: message %q; want it to name the operation and the key %q once", what, msg, key)
	}
}

// TestCache_FindMissKeys checks the miss error for keys of every length
// around the error's inline sizes (16 and 48 bytes) and the key buffer's
// (64 bytes), after the buffer has been reused by Gets of other keys.
func TestCache_FindMissKeys(t *testing.T) {
	ctx := context.Background()
	c := cachet.Must(cachet.New[string](newMem(t), codec.Msgpack[User](), &cachet.Options[string]{Namespace: "u"}))
	if err := c.Set(ctx, strings.Repeat("h", 70), User{ID: 1}); err != nil {
		t.Fatal(err)
	}
	type miss struct {
		key string
		err error
	}
	var misses []miss
	for _, n := range []int{1, 13, 14, 15, 45, 46, 47, 61, 62, 63, 64, 90} {
		k := strings.Repeat(string(rune('a'+n%26)), n) // store key "u:" + k: n+2 bytes
		_, err := c.Get(ctx, k)
		misses = append(misses, miss{"u:" + k, err})
		// Reuse the buffer: a hit and another miss of other keys.
		if _, err := c.Get(ctx, strings.Repeat("h", 70)); err != nil {
			t.Fatalf("Get of a stored key: %v", err)
		}
		if _, err := c.Get(ctx, strings.Repeat("Z", n)); !errors.Is(err, cachet.ErrNotFound) {
			t.Fatalf("Get of a missing key: got %v; want ErrNotFound", err)
		}
	}
	for _, m := range misses {
		wantKeyError(t, fmt.Sprintf("miss of %d-byte key", len(m.key)), m.err, cachet.ErrNotFound, m.key)
	}
}

// TestCache_FindErrors checks the other errors of the Finder path: a value
// that does not decode, a cancelled context, a closed store, a key the key
// function refuses. Each names its own key after the buffer is reused.
func TestCache_FindErrors(t *testing.T) {
	ctx := context.Background()
	s := newMem(t)
	c := cachet.Must(cachet.New[string](s, codec.Msgpack[User](), &cachet.Options[string]{Namespace: "u"}))
	if err := s.Set(ctx, "u:bad", []byte("not an entry"), 0); err != nil {
		t.Fatal(err)
	}
	if err := c.Set(ctx, "good", User{ID: 7}); err != nil {
		t.Fatal(err)
	}
	_, errDecode := c.Get(ctx, "bad")
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, errCtx := c.Get(cancelled, "cancelled")
	if u, err := c.Get(ctx, "good"); err != nil || u.ID != 7 {
		t.Fatalf("Get(good): got %+v, %v; want ID 7, nil", u, err)
	}
	_, errMiss := c.Get(ctx, "XXXXXXXX")
	wantKeyError(t, "undecodable value", errDecode, cachet.ErrDecode, "u:bad")
	wantKeyError(t, "cancelled context", errCtx, context.Canceled, "u:cancelled")
	wantKeyError(t, "miss", errMiss, cachet.ErrNotFound, "u:XXXXXXXX")

	if _, err := c.Get(ctx, ""); !errors.Is(err, cachet.ErrInvalidKey) {
		t.Errorf("Get(empty key): got %v; want ErrInvalidKey", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_, errClosed := c.Get(ctx, "closed")
	c.Get(ctx, "other") // reuse the buffer
	wantKeyError(t, "closed store", errClosed, cachet.ErrClosed, "u:closed")
}

// TestCache_FindConcurrent has goroutines Get hits and misses of their own
// keys at once: each value and each error is its key's, whoever reuses the
// pooled buffers.
func TestCache_FindConcurrent(t *testing.T) {
	ctx := context.Background()
	c := cachet.Must(cachet.New[string](newMem(t), codec.Msgpack[User](), &cachet.Options[string]{Namespace: "u"}))
	const goroutines, rounds = 8, 500
	for g := range goroutines {
		if err := c.Set(ctx, fmt.Sprintf("hit-%d", g), User{ID: g}); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var errs []error
			for i := range rounds {
				if u, err := c.Get(ctx, fmt.Sprintf("hit-%d", g)); err != nil || u.ID != g {
					t.Errorf("goroutine %d: Get(hit-%d): got %+v, %v; want ID %d", g, g, u, err, g)
					return
				}
				_, err := c.Get(ctx, fmt.Sprintf("miss-%d-%d", g, i))
				errs = append(errs, err)
			}
			for i, err := range errs {
				var e *cachet.Error
				if want := fmt.Sprintf("u:miss-%d-%d", g, i); !errors.As(err, &e) || e.Key != want {
					t.Errorf("goroutine %d: miss %d: got %v; want an *Error of key %q", g, i, err, want)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestCache_FindNotThroughMiddleware checks that a middleware, which may
// keep keys or observe Gets, is never bypassed: with one, Get reads
// through it (and hands it a key of its own).
func TestCache_FindNotThroughMiddleware(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	var seen []string
	keep := func(next store.Store) store.Store {
		return &keepKeys{Wrapper: store.Wrapper{Store: next}, mu: &mu, seen: &seen}
	}
	c := cachet.Must(cachet.New[string](newMem(t), codec.Msgpack[User](), &cachet.Options[string]{Namespace: "u", Middleware: []store.Middleware{keep}}))
	if err := c.Set(ctx, "a", User{ID: 1}); err != nil {
		t.Fatal(err)
	}
	c.Get(ctx, "a")
	c.Get(ctx, "b")
	c.Get(ctx, "c")
	mu.Lock()
	defer mu.Unlock()
	if got, want := strings.Join(seen, ","), "u:a,u:b,u:c"; got != want {
		t.Errorf("keys the middleware saw and kept: got %s; want %s", got, want)
	}
}

// keepKeys is a middleware that records the key of every Get.
type keepKeys struct {
	store.Wrapper
	mu   *sync.Mutex
	seen *[]string
}

func (k *keepKeys) Get(ctx context.Context, key string) ([]byte, error) {
	k.mu.Lock()
	*k.seen = append(*k.seen, key)
	k.mu.Unlock()
	return k.Wrapper.Get(ctx, key)
}
