package cachet_test

import (
	"context"
	"errors"
	"testing"

	"github.com/cachet-go/cachet"
	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/internal/benchutil"
)

// The paired benchmarks of the Cache's hot paths over memstore (issue 13):
// each times a Cache operation against the cheapest way to do the same
// work without the Cache, in the same loop, and reports their ratio.
// Targets (ratio cache/raw on the 2-core reference machine):
//
//	Hit   typed Get hit (msgpack User)  ≤ 1.15x memstore byte Get + msgpack Unmarshal, ≤ 5 allocs
//	Miss  typed Get miss                ≤ 1.3x  memstore byte miss, 0–1 allocs
//	Set   typed Set (msgpack User)      ≤ 1.3x  msgpack Marshal + memstore Set
//	Bytes Cache[string, []byte] Get 100 B ≤ 1.2x memstore byte Get
//
// The raw side of Hit, Miss and Bytes reads a constant key (say
// "u:42"), which costs it nothing to build, while the cache builds its
// store key from the namespace and the typed key on every call (one
// allocation): that is the strict comparison of the issue, "the store
// and the codec alone". The */keyed variants run the same cache side
// against a raw side that builds the same key the same way at run time
// ("u:" + k, k not a constant), as a program keeping namespaced keys in a
// bare store would: the cost of the cache's own layer beyond the key.
//
// Run with
//
//	go test -run '^$' -bench 'Cache_Hot' -benchtime 200000x .
func BenchmarkCache_Hot(b *testing.B) {
	ctx := context.Background()
	mc := codec.Msgpack[User]()
	const key = "42" // stored under "u:42"
	k := hotKey      // the same key, not a constant: built at run time

	b.Run("Hit", func(b *testing.B) {
		s := newMem(b)
		c := cachet.Must(cachet.New[string](s, mc, &cachet.Options[string]{Namespace: "u"}))
		if err := c.Set(ctx, key, benchUser); err != nil {
			b.Fatal(err)
		}
		// The raw side reads the codec's bare output (the cache's entry
		// carries a 3-byte header in front of it).
		rb, err := mc.Marshal(benchUser)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Set(ctx, "r:"+key, rb, 0); err != nil {
			b.Fatal(err)
		}
		raw := func(key string) error {
			data, err := s.Get(ctx, key)
			if err != nil {
				return err
			}
			var u User
			return mc.Unmarshal(data, &u)
		}
		b.Run("strict", func(b *testing.B) {
			benchutil.Paired(b, "cache", "raw",
				func() error { _, err := c.Get(ctx, key); return err },
				func() error { return raw("r:" + key) })
		})
		b.Run("keyed", func(b *testing.B) {
			benchutil.Paired(b, "cache", "raw",
				func() error { _, err := c.Get(ctx, k); return err },
				func() error { return raw("r:" + k) })
		})
	})
	b.Run("Miss", func(b *testing.B) {
		s := newMem(b)
		c := cachet.Must(cachet.New[string](s, mc, &cachet.Options[string]{Namespace: "u"}))
		b.Run("strict", func(b *testing.B) {
			benchutil.Paired(b, "cache", "raw",
				func() error { _, err := c.Get(ctx, key); return wantMiss(err) },
				func() error { _, err := s.Get(ctx, "u:"+key); return wantMiss(err) })
		})
		b.Run("keyed", func(b *testing.B) {
			benchutil.Paired(b, "cache", "raw",
				func() error { _, err := c.Get(ctx, k); return wantMiss(err) },
				func() error { _, err := s.Get(ctx, "u:"+k); return wantMiss(err) })
		})
	})
	b.Run("Set", func(b *testing.B) {
		s := newMem(b)
		c := cachet.Must(cachet.New[string](s, mc, &cachet.Options[string]{Namespace: "u"}))
		benchutil.Paired(b, "cache", "raw",
			func() error { return c.Set(ctx, key, benchUser) },
			func() error {
				data, err := mc.Marshal(benchUser)
				if err != nil {
					return err
				}
				return s.Set(ctx, "u:"+key, data, 0)
			})
	})
	b.Run("Bytes", func(b *testing.B) {
		s := newMem(b)
		c := cachet.Must(cachet.New[string](s, codec.Bytes(), &cachet.Options[string]{Namespace: "u"}))
		value := make([]byte, 100)
		if err := c.Set(ctx, key, value); err != nil {
			b.Fatal(err)
		}
		b.Run("strict", func(b *testing.B) {
			benchutil.Paired(b, "cache", "raw",
				func() error { _, err := c.Get(ctx, key); return err },
				func() error { _, err := s.Get(ctx, "u:"+key); return err })
		})
		b.Run("keyed", func(b *testing.B) {
			benchutil.Paired(b, "cache", "raw",
				func() error { _, err := c.Get(ctx, k); return err },
				func() error { _, err := s.Get(ctx, "u:"+k); return err })
		})
	})
}

// hotKey is BenchmarkCache_Hot's key as a variable, so that "u:"+hotKey
// is built at run time.
var hotKey = "42"

// wantMiss turns the expected ErrNotFound into nil, and anything else,
// a hit included, into an error.
func wantMiss(err error) error {
	if errors.Is(err, cachet.ErrNotFound) {
		return nil
	}
	if err == nil {
		return errors.New("hit; want a miss")
	}
	return err
}
