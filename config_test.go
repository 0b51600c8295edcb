package cachet_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cachet-go/cachet"
	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/memstore"
	"github.com/cachet-go/cachet/store/noopstore"
)

// uniq returns a memory store name private to the test.
func uniq(t *testing.T) string {
	return strings.NewReplacer("/", "-", "_", "-").Replace(strings.ToLower(t.Name()))
}

func TestOpen_URLs(t *testing.T) {
	memType := reflect.TypeFor[*memstore.Store]()
	noopType := reflect.TypeFor[*noopstore.Store]()
	tests := []struct {
		name string
		url  string
		typ  reflect.Type // of store.Unwrap(s)
		opts cachet.URLOptions
	}{
		{"memory named", "memory://t-open-a", memType, cachet.URLOptions{}},
		{"locmem alias", "locmem://t-open-b", memType, cachet.URLOptions{}},
		{"memory unnamed", "memory://", memType, cachet.URLOptions{}},
		{"memory bounds", "memory://t-open-c?max_entries=10&max_bytes=1048576", memType, cachet.URLOptions{}},
		{"memory unbounded bytes", "memory://?max_bytes=-1", memType, cachet.URLOptions{}},
		{"scheme case", "MEMORY://t-open-d", memType, cachet.URLOptions{}},
		{"noop", "noop://", noopType, cachet.URLOptions{}},
		{"dummy alias", "dummy://", noopType, cachet.URLOptions{}},
		{"ttl seconds", "memory://?ttl=600", memType, cachet.URLOptions{TTL: 600 * time.Second}},
		{"ttl duration", "noop://?ttl=90s", noopType, cachet.URLOptions{TTL: 90 * time.Second}},
		{"ttl sub-second", "noop://?ttl=250ms", noopType, cachet.URLOptions{TTL: 250 * time.Millisecond}},
		{"namespace", "noop://?namespace=app", noopType, cachet.URLOptions{Namespace: "app"}},
		{"key_prefix alias", "noop://?key_prefix=app", noopType, cachet.URLOptions{Namespace: "app"}},
		{"prefix alias", "noop://?prefix=app", noopType, cachet.URLOptions{Namespace: "app"}},
		{"version", "noop://?namespace=app&version=2", noopType, cachet.URLOptions{Namespace: "app", Version: "2"}},
		{"all cache options with store options", "memory://?max_entries=5&ttl=1m&namespace=n&version=v3", memType,
			cachet.URLOptions{TTL: time.Minute, Namespace: "n", Version: "v3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, opts, err := cachet.Open(tt.url)
			if err != nil {
				t.Fatalf("Open(%q): %v", tt.url, err)
			}
			defer s.Close()
			if got := reflect.TypeOf(store.Unwrap(s)); got != tt.typ {
				t.Errorf("Open(%q) store is %v; want %v", tt.url, got, tt.typ)
			}
			if opts != tt.opts {
				t.Errorf("Open(%q) options = %+v; want %+v", tt.url, opts, tt.opts)
			}
			// The store works.
			ctx := context.Background()
			if err := s.Set(ctx, "k", []byte("v"), 0); err != nil {
				t.Errorf("Set: %v", err)
			}
		})
	}
}

func TestMergeOptions(t *testing.T) {
	u := cachet.URLOptions{TTL: time.Minute, Namespace: "url", Version: "u1"}
	tests := []struct {
		name string
		code *cachet.Options[string]
		want cachet.Options[string]
	}{
		{"nil code: URL", nil, cachet.Options[string]{TTL: time.Minute, Namespace: "url", Version: "u1"}},
		{"code ttl wins", &cachet.Options[string]{TTL: time.Second}, cachet.Options[string]{TTL: time.Second, Namespace: "url", Version: "u1"}},
		{"code NoExpiry wins", &cachet.Options[string]{TTL: cachet.NoExpiry}, cachet.Options[string]{TTL: cachet.NoExpiry, Namespace: "url", Version: "u1"}},
		{"code namespace wins", &cachet.Options[string]{Namespace: "code"}, cachet.Options[string]{TTL: time.Minute, Namespace: "code", Version: "u1"}},
		{"code version wins", &cachet.Options[string]{Version: 7}, cachet.Options[string]{TTL: time.Minute, Namespace: "url", Version: 7}},
		{"other fields kept", &cachet.Options[string]{Timeout: time.Second}, cachet.Options[string]{TTL: time.Minute, Namespace: "url", Version: "u1", Timeout: time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := cachet.MergeOptions(tt.code, u)
			if got.TTL != tt.want.TTL || got.Namespace != tt.want.Namespace || got.Version != tt.want.Version || got.Timeout != tt.want.Timeout {
				t.Errorf("MergeOptions = %+v; want %+v", *got, tt.want)
			}
		})
	}
	// An empty URLOptions changes nothing, and the input is not modified.
	code := &cachet.Options[string]{Namespace: "c"}
	if got := cachet.MergeOptions(code, cachet.URLOptions{}); got == code || got.Namespace != "c" || got.TTL != 0 || got.Version != nil {
		t.Errorf("MergeOptions with no URL options = %+v (same pointer: %v)", *got, got == code)
	}
	cachet.MergeOptions(code, u)
	if code.TTL != 0 || code.Version != nil {
		t.Errorf("MergeOptions modified its input: %+v", *code)
	}
}

func TestOpenCache_CodeWinsOverURL(t *testing.T) {
	ctx := context.Background()
	raw := "memory://" + uniq(t) + "?namespace=url&version=1&ttl=1h"
	c, err := cachet.OpenCache(raw, codec.String(), &cachet.Options[string]{Namespace: "code"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	key, err := c.Key("k")
	if err != nil || key != "code:1:k" {
		t.Errorf("Key(k) = %q, %v; want \"code:1:k\" (namespace from code, version from URL)", key, err)
	}
	if err := c.Set(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	ttl, err := c.TTL(ctx, "k")
	if err != nil || ttl <= 59*time.Minute || ttl > time.Hour {
		t.Errorf("TTL = %v, %v; want about 1h, the URL's ttl", ttl, err)
	}

	// A ttl in code wins over the URL's.
	c2, err := cachet.OpenCache(raw, codec.String(), &cachet.Options[string]{TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if err := c2.Set(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	if ttl, err := c2.TTL(ctx, "k"); err != nil || ttl > time.Minute {
		t.Errorf("TTL = %v, %v; want at most 1m, the code's ttl", ttl, err)
	}
	if key, err := c2.Key("k"); err != nil || key != "url:1:k" {
		t.Errorf("Key(k) = %q; want \"url:1:k\" (err %v)", key, err)
	}
}

func TestOpenCache_ClosesStoreWhenNewFails(t *testing.T) {
	ctx := context.Background()
	name := "memory://" + uniq(t)
	keep, _, err := cachet.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer keep.Close()
	// A version without a namespace is refused by New: the handle OpenCache
	// opened must be closed again, which we observe through the name being
	// freed once keep is closed too.
	if _, err := cachet.OpenCache[string](name+"?version=2", codec.String(), nil); !errors.Is(err, cachet.ErrInvalidOption) {
		t.Fatalf("OpenCache with a version and no namespace: %v; want ErrInvalidOption", err)
	}
	if err := keep.Set(ctx, "k", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	keep.Close()
	again, _, err := cachet.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if _, err := again.Get(ctx, "k"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get = %v; want ErrNotFound: a handle leaked by the failed OpenCache kept the store alive", err)
	}
}
