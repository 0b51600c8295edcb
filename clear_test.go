package cachet_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/cachet-go/cachet"
	"github.com/cachet-go/cachet/store"
)

func TestCache_ClearWithoutNamespaceIsExplicit(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(t *testing.T) store.Store) {
		ctx := context.Background()
		s := open(t)
		bare := newUsers(t, s, nil)
		ns := newUsers(t, s, &cachet.Options[string]{Namespace: "ns"})
		if err := bare.Set(ctx, "a", User{ID: 1}); err != nil {
			t.Fatal(err)
		}
		if err := ns.Set(ctx, "b", User{ID: 2}); err != nil {
			t.Fatal(err)
		}

		err := bare.Clear(ctx)
		if !errors.Is(err, cachet.ErrClearAll) {
			t.Fatalf("Clear without a namespace: err = %v; want ErrClearAll", err)
		}
		if !strings.Contains(err.Error(), "ClearAll") {
			t.Fatalf("error %q does not say how to clear everything", err)
		}
		for _, c := range []*cachet.Cache[string, User]{bare, ns} {
			k := map[*cachet.Cache[string, User]]string{bare: "a", ns: "b"}[c]
			if _, err := c.Get(ctx, k); err != nil {
				t.Fatalf("Get(%s) after a refused Clear: %v; want it kept", k, err)
			}
		}

		if err := bare.ClearAll(ctx); err != nil {
			t.Fatalf("ClearAll: %v", err)
		}
		if _, err := bare.Get(ctx, "a"); !errors.Is(err, cachet.ErrNotFound) {
			t.Fatalf("a after ClearAll: err = %v; want ErrNotFound", err)
		}
		if _, err := ns.Get(ctx, "b"); !errors.Is(err, cachet.ErrNotFound) {
			t.Fatalf("ns:b after ClearAll: err = %v; want ErrNotFound (ClearAll empties the whole store)", err)
		}
	})
}
