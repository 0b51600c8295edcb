package cachet

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"testing"

	"github.com/maypok86/otter/v2"

	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/internal/benchutil"
	"github.com/cachet-go/cachet/store/memstore"
)

// BenchmarkCache_LocalHit times a local-tier hit of a Cache[string,
// localUser] (namespace "u", 1,000 hot keys) against otter v2 holding the
// same values under the same keys (no namespace, no expiry, no stats: the
// bare map a user of otter would write), in paired batches of 100 calls,
// on one goroutine and on two at once. The Clone variants give every hit a
// private copy (the tags slice cloned).
func BenchmarkCache_LocalHit(b *testing.B) {
	for _, bc := range []struct {
		name       string
		goroutines int
		clone      bool
	}{
		{"seq", 1, false},
		{"2goroutines", 2, false},
		{"seq/Clone", 1, true},
		{"2goroutines/Clone", 2, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			mem := memstore.Must(nil)
			defer mem.Close()
			lo := &LocalOptions[localUser]{}
			if bc.clone {
				lo.Clone = func(u localUser) localUser { u.Tags = slices.Clone(u.Tags); return u }
			}
			c, err := New[string](mem, codec.JSON[localUser](), &Options[string]{Namespace: "u", Local: lo})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			o := otter.Must(&otter.Options[string, localUser]{MaximumSize: 10_000})
			keys := make([]string, 1000)
			for i := range keys {
				keys[i] = strconv.Itoa(i)
				u := localUser{Name: "user " + keys[i], Tags: []string{"a", "b"}}
				if err := c.Set(ctx, keys[i], u); err != nil {
					b.Fatal(err)
				}
				if _, err := c.Get(ctx, keys[i]); err != nil {
					b.Fatal(err)
				}
				o.Set(keys[i], u)
			}
			before, _ := c.LocalStats()
			clone := lo.Clone
			benchutil.PairedBatch(b, "local", "otter", 100, bc.goroutines, func(i int) error {
				_, err := c.Get(ctx, keys[i%len(keys)])
				return err
			}, func(i int) error {
				u, ok := o.GetIfPresent(keys[i%len(keys)])
				if !ok {
					return errors.New("otter miss")
				}
				if clone != nil {
					clone(u)
				}
				return nil
			})
			if s, _ := c.LocalStats(); s.StoreReads != before.StoreReads {
				b.Fatalf("%d store reads during the benchmark; want every Get a local hit", s.StoreReads-before.StoreReads)
			}
		})
	}
}

// BenchmarkMemoize_LocalHit times a memoized call answered by the local
// tier against otter v2 holding the same values, as BenchmarkCache_LocalHit
// does for Get (sequential): the key is built on the stack, so a hit
// allocates nothing.
func BenchmarkMemoize_LocalHit(b *testing.B) {
	ctx := context.Background()
	mem := memstore.Must(nil)
	defer mem.Close()
	c, err := New[string](mem, codec.JSON[localUser](), &Options[string]{Namespace: "u", Local: &LocalOptions[localUser]{}})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	calls := 0
	get := Memoize(c, func(_ context.Context, k string) (localUser, error) {
		calls++
		return localUser{Name: "user " + k, Tags: []string{"a", "b"}}, nil
	}, nil)
	o := otter.Must(&otter.Options[string, localUser]{MaximumSize: 10_000})
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = strconv.Itoa(i)
		u, err := get(ctx, keys[i]) // computes and stores
		if err != nil {
			b.Fatal(err)
		}
		if _, err := get(ctx, keys[i]); err != nil { // fills the tier from the store
			b.Fatal(err)
		}
		o.Set(keys[i], u)
	}
	before, _ := c.LocalStats()
	benchutil.PairedBatch(b, "local", "otter", 100, 1, func(i int) error {
		_, err := get(ctx, keys[i%len(keys)])
		return err
	}, func(i int) error {
		if _, ok := o.GetIfPresent(keys[i%len(keys)]); !ok {
			return errors.New("otter miss")
		}
		return nil
	})
	if s, _ := c.LocalStats(); s.StoreReads != before.StoreReads || calls != len(keys) {
		b.Fatalf("%d store reads, %d calls of fn; want every call a local hit", s.StoreReads-before.StoreReads, calls-len(keys))
	}
}
