package cachet

import (
	"context"
	"testing"

	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/internal/benchutil"
	"github.com/cachet-go/cachet/store/memstore"
)

// BenchmarkCache_KillSwitch measures what the kill switch costs a Get hit
// over memstore, in paired runs (internal/benchutil):
//
//   - on: a Get through the switch (enabled), next to the same cache
//     with the switch taken out ("bare"): the cost of having it;
//   - off: a Get with the cache disabled (a miss from the noop store),
//     next to an enabled Get;
//   - loop/switch and loop/bare: the two sides of "on" timed in loops of
//     their own, which resolve differences finer than the clock.
//
// go test -run '^$' -bench BenchmarkCache_KillSwitch -count 5 .
func BenchmarkCache_KillSwitch(b *testing.B) {
	ctx := context.Background()
	s := memstore.Must(nil)
	defer s.Close()
	c := Must(New[string](s, codec.String(), &Options[string]{Namespace: "b"}))
	if err := c.Set(ctx, "k", "value"); err != nil {
		b.Fatal(err)
	}
	bare := view(c, c.codec, c.keys)
	bare.s = c.liveStore()
	get := func(c *Cache[string, string]) func() error {
		return func() error { _, err := c.Get(ctx, "k"); return err }
	}
	b.Run("on", func(b *testing.B) {
		benchutil.Paired(b, "switch", "bare", get(c), get(bare))
	})
	// The paired figures are single calls timed with the clock, whose
	// resolution may be coarser than the difference; these loops time
	// many calls each.
	for name, c := range map[string]*Cache[string, string]{"loop/switch": c, "loop/bare": bare} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			f := get(c)
			for b.Loop() {
				if err := f(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("off", func(b *testing.B) {
		off := view(c, c.codec, c.keys)
		off.s = newSwitch(c.liveStore(), true, false)
		miss := func() error {
			if _, err := off.Get(ctx, "k"); err == nil {
				b.Fatal("a disabled cache hit")
			}
			return nil
		}
		benchutil.Paired(b, "disabled", "enabled", miss, get(c))
	})
}
