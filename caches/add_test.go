package caches_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cachet-go/cachet"
	"github.com/cachet-go/cachet/caches"
)

func TestRegistry_AddKeepsOthers(t *testing.T) {
	ctx := context.Background()
	r, err := caches.NewRegistry(map[string]caches.Config{"a": {Store: "memory://", Namespace: "a"}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	a := cachet.Must(caches.Alias[string, string](r, "a"))
	if err := a.Set(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}

	if err := r.Add("b", caches.Config{Store: "memory://", Namespace: "b"}); err != nil {
		t.Fatalf("Add b: %v", err)
	}
	if got := r.Aliases(); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("Aliases() = %v; want [a b]", got)
	}
	if again := cachet.Must(caches.Alias[string, string](r, "a")); again != a {
		t.Fatal("Add rebuilt the cache of another alias")
	}
	if v, err := a.Get(ctx, "k"); err != nil || v != "v" {
		t.Fatalf("a after Add = %q, %v; want v", v, err)
	}
	if _, err := caches.Alias[string, string](r, "b"); err != nil {
		t.Fatalf("Alias b: %v", err)
	}

	for name, cfg := range map[string]caches.Config{
		"a": {Store: "memory://"},     // exists
		"":  {Store: "memory://"},     // no name
		"c": {Store: "nosuch://here"}, // bad store
	} {
		if err := r.Add(name, cfg); !errors.Is(err, cachet.ErrInvalidOption) {
			t.Errorf("Add(%q): err = %v; want ErrInvalidOption", name, err)
		}
	}
	if cfg, _ := r.Config("a"); cfg.Namespace != "a" {
		t.Fatalf("a after a refused Add: %+v; want it unchanged", cfg)
	}
	if _, ok := r.Config("c"); ok {
		t.Fatal("a refused Add configured c")
	}
}

func TestRegistry_AddConcurrent(t *testing.T) {
	var r caches.Registry
	defer r.Close()
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r.Add("x", caches.Config{Store: "memory://"}) == nil {
				wins.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := wins.Load(); n != 1 {
		t.Fatalf("%d concurrent Adds of one alias succeeded; want 1", n)
	}
}

func TestRegistry_SetReplacesOne(t *testing.T) {
	ctx := context.Background()
	r, err := caches.NewRegistry(map[string]caches.Config{
		"a": {Store: "memory://", Namespace: "a"},
		"b": {Store: "memory://", Namespace: "b"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	a := cachet.Must(caches.Alias[string, string](r, "a"))
	b := cachet.Must(caches.Alias[string, string](r, "b"))

	if err := r.Set("a", caches.Config{Store: "memory://", Namespace: "a2"}); err != nil {
		t.Fatalf("Set a: %v", err)
	}
	if err := a.Set(ctx, "k", "v"); !errors.Is(err, cachet.ErrClosed) {
		t.Fatalf("old cache of a replaced alias: err = %v; want ErrClosed", err)
	}
	a2 := cachet.Must(caches.Alias[string, string](r, "a"))
	if key, _ := a2.Key("k"); key != "a2:k" {
		t.Fatalf("key of the replaced alias = %q; want a2:k", key)
	}
	if err := b.Set(ctx, "k", "v"); err != nil {
		t.Fatalf("other alias after Set: %v; want it untouched", err)
	}
	if err := r.Set("c", caches.Config{Store: "memory://"}); err != nil {
		t.Fatalf("Set of a new alias: %v", err)
	}
	if err := r.Set("b", caches.Config{Store: "nosuch://"}); !errors.Is(err, cachet.ErrInvalidOption) {
		t.Fatalf("Set with a bad store: err = %v; want ErrInvalidOption", err)
	}
	if err := b.Set(ctx, "k", "v"); err != nil {
		t.Fatalf("b after a refused Set: %v; want it untouched", err)
	}
}

func TestRegistry_DefaultAlias(t *testing.T) {
	ctx := context.Background()
	var r caches.Registry
	defer r.Close()
	d, err := caches.Default[string, string](&r)
	if err != nil {
		t.Fatalf("Default on an empty registry: %v", err)
	}
	if err := d.Set(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	if got := r.Aliases(); !slices.Equal(got, []string{caches.DefaultAlias}) {
		t.Fatalf("Aliases() after Default = %v; want [default]", got)
	}
	if cfg, _ := r.Config(caches.DefaultAlias); cfg.Store != caches.DefaultConfig.Store {
		t.Fatalf("default config = %+v; want DefaultConfig", cfg)
	}
	// A configured "default" wins.
	if err := r.Set(caches.DefaultAlias, caches.Config{Store: "memory://", Namespace: "mine"}); err != nil {
		t.Fatal(err)
	}
	d2 := cachet.Must(caches.Default[string, string](&r))
	if key, _ := d2.Key("k"); key != "mine:k" {
		t.Fatalf("key of the configured default = %q; want mine:k", key)
	}
	// Another alias name that is not configured is still an error.
	if _, err := caches.Alias[string, string](&r, "nope"); !errors.Is(err, cachet.ErrInvalidOption) {
		t.Fatalf("unknown alias: err = %v; want ErrInvalidOption", err)
	}
}
