package cachet_test

import (
	"context"
	"errors"
	"testing"

	"github.com/cachet-go/cachet"
	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/store"
)

func TestCache_Views(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(t *testing.T) store.Store) {
		ctx := context.Background()
		s := open(t)
		var counter *callCounter
		base := newUsers(t, s, &cachet.Options[string]{
			Namespace: "app",
			Version:   1,
			Middleware: []store.Middleware{func(s store.Store) store.Store {
				counter = &callCounter{Wrapper: store.Wrapper{Store: s}}
				return counter
			}},
		})
		if err := base.Set(ctx, "k", User{ID: 1}); err != nil {
			t.Fatal(err)
		}

		tenant, err := base.WithNamespace("tenant")
		if err != nil {
			t.Fatal(err)
		}
		if key, _ := tenant.Key("k"); key != "tenant:1:k" {
			t.Fatalf("WithNamespace key = %q; want tenant:1:k (the version kept)", key)
		}
		if _, err := tenant.Get(ctx, "k"); !errors.Is(err, cachet.ErrNotFound) {
			t.Fatalf("tenant Get before any Set: err = %v; want ErrNotFound", err)
		}
		before := counter.n.Load()
		if err := tenant.Set(ctx, "k", User{ID: 2}); err != nil {
			t.Fatal(err)
		}
		if counter.n.Load() == before {
			t.Fatal("a view's Set did not pass through the cache's middleware")
		}
		if u, err := tenant.Get(ctx, "k"); err != nil || u.ID != 2 {
			t.Fatalf("tenant Get = %+v, %v; want ID 2", u, err)
		}
		if err := tenant.Clear(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := tenant.Get(ctx, "k"); !errors.Is(err, cachet.ErrNotFound) {
			t.Fatalf("tenant k after its Clear: err = %v; want ErrNotFound", err)
		}
		if u, err := base.Get(ctx, "k"); err != nil || u.ID != 1 {
			t.Fatalf("base after the view's Set and Clear = %+v, %v; want ID 1", u, err)
		}

		v2, err := base.WithVersion(2)
		if err != nil {
			t.Fatal(err)
		}
		if key, _ := v2.Key("k"); key != "app:2:k" {
			t.Fatalf("WithVersion key = %q; want app:2:k", key)
		}
		if _, err := v2.Get(ctx, "k"); !errors.Is(err, cachet.ErrNotFound) {
			t.Fatalf("version 2 Get: err = %v; want ErrNotFound", err)
		}
		unversioned, err := base.WithVersion(nil)
		if err != nil {
			t.Fatal(err)
		}
		if key, _ := unversioned.Key("k"); key != "app:k" {
			t.Fatalf("WithVersion(nil) key = %q; want app:k", key)
		}

		// A view with another codec reads what the cache wrote, if the
		// codecs agree, and changes the value type.
		asMap, err := cachet.CodecView(base, codec.JSON[map[string]any]())
		if err != nil {
			t.Fatal(err)
		}
		if m, err := asMap.Get(ctx, "k"); err != nil || m["id"] != float64(1) {
			t.Fatalf("CodecView JSON map Get = %v, %v; want id 1", m, err)
		}
		packed, err := cachet.CodecView(base, codec.Msgpack[User]())
		if err != nil {
			t.Fatal(err)
		}
		if err := packed.Set(ctx, "p", User{ID: 3, Name: "Ada"}); err != nil {
			t.Fatal(err)
		}
		if u, err := packed.Get(ctx, "p"); err != nil || u.Name != "Ada" {
			t.Fatalf("msgpack view Get = %+v, %v", u, err)
		}
		if key, _ := packed.Key("p"); key != "app:1:p" {
			t.Fatalf("CodecView key = %q; want app:1:p (the cache's keys)", key)
		}
		if _, err := base.Get(ctx, "p"); !errors.Is(err, cachet.ErrDecode) {
			t.Fatalf("JSON read of a msgpack value: err = %v; want ErrDecode", err)
		}
	})
}

func TestCache_ViewErrors(t *testing.T) {
	s := newMem(t)
	bare := newUsers(t, s, nil)
	versioned := newUsers(t, s, &cachet.Options[string]{Namespace: "a", Version: "v1"})
	for name, err := range map[string]error{
		"namespace with ':'":        func() error { _, err := bare.WithNamespace("a:b"); return err }(),
		"version without namespace": func() error { _, err := bare.WithVersion(2); return err }(),
		"no namespace, a version":   func() error { _, err := versioned.WithNamespace(""); return err }(),
		"bad version type":          func() error { _, err := versioned.WithVersion(1.5); return err }(),
		"nil codec":                 func() error { _, err := cachet.CodecView[string, User, string](bare, nil); return err }(),
	} {
		if !errors.Is(err, cachet.ErrInvalidOption) {
			t.Errorf("%s: err = %v; want ErrInvalidOption", name, err)
		}
	}
	if v, err := bare.WithNamespace("ns"); err != nil {
		t.Errorf("WithNamespace on a cache without one: %v", err)
	} else if key, _ := v.Key("k"); key != "ns:k" {
		t.Errorf("key = %q; want ns:k", key)
	}
}
