package cachet_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/cachet-go/cachet"
	"github.com/cachet-go/cachet/codec"
)

// TestCache_HotPathAllocs pins the allocations of the hot paths over
// memstore (issue 13): the store key is built in a pooled buffer
// (store.Finder), so a miss allocates only its error and a []byte hit only
// the one copy of the value. Under the race detector sync.Pool drops some
// of what it is given, and the bound is looser.
func TestCache_HotPathAllocs(t *testing.T) {
	slack := 0.0
	if raceEnabled {
		slack = 1
	}
	ctx := context.Background()
	c := cachet.Must(cachet.New[string](newMem(t), codec.Bytes(), &cachet.Options[string]{Namespace: "u"}))
	if err := c.Set(ctx, "k", make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		max  float64
		f    func()
	}{
		{"miss", 1 + slack, func() {
			if _, err := c.Get(ctx, "missing"); !errors.Is(err, cachet.ErrNotFound) {
				t.Fatalf("Get(missing): got %v; want ErrNotFound", err)
			}
		}},
		{"bytes hit", 1 + slack, func() {
			if b, err := c.Get(ctx, "k"); err != nil || len(b) != 100 {
				t.Fatalf("Get(k): got %d bytes, %v; want 100, nil", len(b), err)
			}
		}},
	} {
		if n := testing.AllocsPerRun(200, tc.f); n > tc.max {
			t.Errorf("%s: %v allocations; want at most %v", tc.name, n, tc.max)
		}
	}
	// The miss still names the operation and the key.
	_, err := c.Get(ctx, "missing")
	var e *cachet.Error
	if !errors.As(err, &e) || e.Op != "get" || e.Key != "u:missing" {
		t.Errorf("miss error: got %#v; want an *Error with Op get and Key u:missing", err)
	}
}

// TestCache_SetBuffersConcurrent has many goroutines Set and Get distinct
// values at once: the pooled encode buffers and the pooled decode state
// must never let one call's value reach another key.
func TestCache_SetBuffersConcurrent(t *testing.T) {
	ctx := context.Background()
	for _, name := range []string{"string", "msgpack"} {
		t.Run(name, func(t *testing.T) {
			s := newMem(t)
			str := cachet.Must(cachet.New[string](s, codec.String(), &cachet.Options[string]{Namespace: "s"}))
			users := cachet.Must(cachet.New[string](s, codec.Msgpack[User](), &cachet.Options[string]{Namespace: "u"}))
			var wg sync.WaitGroup
			for g := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range 200 {
						k := strconv.Itoa(g) + "/" + strconv.Itoa(i)
						v := strings.Repeat(k, 1+i%17)
						u := User{ID: g*1000 + i, Name: v, Tags: []string{k}}
						var err error
						if name == "string" {
							err = str.Set(ctx, k, v)
						} else {
							err = users.Set(ctx, k, u)
						}
						if err != nil {
							t.Errorf("Set(%s): %v", k, err)
							return
						}
						if name == "string" {
							if got, err := str.Get(ctx, k); err != nil || got != v {
								t.Errorf("Get(%s): got %q, %v; want %q", k, got, err, v)
								return
							}
						} else if got, err := users.Get(ctx, k); err != nil || got.ID != u.ID || got.Name != v || len(got.Tags) != 1 || got.Tags[0] != k {
							t.Errorf("Get(%s): got %+v, %v; want %+v", k, got, err, u)
							return
						}
					}
				}()
			}
			wg.Wait()
		})
	}
}

// TestCache_BytesOwned checks the []byte fast path (codec.Bytes): a value
// read with Get or GetMany is the caller's, so changing it changes neither
// the stored value nor another read; an empty value reads back as a
// non-nil empty slice; a raw cache reads the bare bytes; and a disabled
// cache misses.
func TestCache_BytesOwned(t *testing.T) {
	ctx := context.Background()
	for _, raw := range []bool{false, true} {
		t.Run("raw="+strconv.FormatBool(raw), func(t *testing.T) {
			c := cachet.Must(cachet.New[string](newMem(t), codec.Bytes(), &cachet.Options[string]{Namespace: "b", Raw: raw}))
			if err := c.Set(ctx, "k", []byte("value")); err != nil {
				t.Fatal(err)
			}
			if err := c.Set(ctx, "empty", []byte{}); err != nil {
				t.Fatal(err)
			}
			got, err := c.Get(ctx, "k")
			if err != nil || string(got) != "value" {
				t.Fatalf("Get(k): got %q, %v; want value", got, err)
			}
			got[0] = 'X'
			got = append(got, "tail"...) // may reuse the read's spare capacity: still the caller's
			_ = got
			m, err := c.GetMany(ctx, []string{"k", "empty", "missing"})
			if err != nil || len(m) != 2 || string(m["k"]) != "value" {
				t.Fatalf("GetMany: got %q, %v; want k=value and empty", m, err)
			}
			if e, ok := m["empty"]; !ok || e == nil || len(e) != 0 {
				t.Errorf("GetMany(empty): got %#v, %v; want a non-nil empty slice", e, ok)
			}
			m["k"][0] = 'Y'
			if again, err := c.Get(ctx, "k"); err != nil || string(again) != "value" {
				t.Errorf("Get(k) after changing earlier reads: got %q, %v; want value", again, err)
			}
			if e, err := c.Get(ctx, "empty"); err != nil || e == nil || len(e) != 0 {
				t.Errorf("Get(empty): got %#v, %v; want a non-nil empty slice", e, err)
			}
			c.Disable()
			if _, err := c.Get(ctx, "k"); !errors.Is(err, cachet.ErrNotFound) {
				t.Errorf("Get(k) while disabled: got %v; want ErrNotFound", err)
			}
		})
	}
	// A raw cache and an entry-format cache over the same key each report
	// the other's format as ErrDecode, on the fast path too.
	s := newMem(t)
	entryC := cachet.Must(cachet.New[string](s, codec.Bytes(), &cachet.Options[string]{Namespace: "x"}))
	rawC := cachet.Must(cachet.New[string](s, codec.Bytes(), &cachet.Options[string]{Namespace: "x", Raw: true}))
	if err := entryC.Set(ctx, "e", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := rawC.Set(ctx, "r", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if _, err := rawC.Get(ctx, "e"); !errors.Is(err, cachet.ErrDecode) {
		t.Errorf("raw Get of an entry: got %v; want ErrDecode", err)
	}
	if _, err := entryC.Get(ctx, "r"); !errors.Is(err, cachet.ErrDecode) {
		t.Errorf("entry Get of a raw value: got %v; want ErrDecode", err)
	}
}
