package cachet

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/maypok86/otter/v2"

	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/internal/benchutil"
	"github.com/cachet-go/cachet/store/memstore"
)

// benchOnlySetup returns a memory-only Cache[string, localUser] (namespace
// "u", no expiry), a Cache of the same values over memstore with msgpack,
// and otter v2 holding them under the same keys (no namespace, no expiry,
// no stats: the bare map a user of otter would write), each with 1,000
// keys written.
//
// ox is otter v2 with an expiry of an hour after each write (the cheapest
// form of the per-entry expiry a memory-only cache keeps): a user of otter
// who needs a ttl pays for it too.
func benchOnlySetup(b *testing.B) (only, mem *Cache[string, localUser], o, ox *otter.Cache[string, localUser], keys []string) {
	ctx := context.Background()
	only, err := NewLocal[string](&LocalOptions[localUser]{MaxEntries: 10_000}, &Options[string]{Namespace: "u"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { only.Close() })
	ms := memstore.Must(nil)
	b.Cleanup(func() { ms.Close() })
	mem, err = New[string](ms, codec.Msgpack[localUser](), &Options[string]{Namespace: "u"})
	if err != nil {
		b.Fatal(err)
	}
	o = otter.Must(&otter.Options[string, localUser]{MaximumSize: 10_000})
	ox = otter.Must(&otter.Options[string, localUser]{MaximumSize: 10_000, ExpiryCalculator: otter.ExpiryWriting[string, localUser](time.Hour)})
	keys = make([]string, 1000)
	for i := range keys {
		keys[i] = strconv.Itoa(i)
		u := localUser{Name: "user " + keys[i], Tags: []string{"a", "b"}}
		if err := only.Set(ctx, keys[i], u); err != nil {
			b.Fatal(err)
		}
		if err := mem.Set(ctx, keys[i], u); err != nil {
			b.Fatal(err)
		}
		o.Set(keys[i], u)
		ox.Set(keys[i], u)
	}
	return only, mem, o, ox, keys
}

// BenchmarkLocalOnly_Get times a Get hit of a memory-only cache (NewLocal)
// against otter v2's GetIfPresent of the same value (bare, and with an
// expiry), and against a Get hit
// of a Cache over memstore with msgpack, in paired batches of 100 calls.
func BenchmarkLocalOnly_Get(b *testing.B) {
	ctx := context.Background()
	only, mem, o, ox, keys := benchOnlySetup(b)
	get := func(i int) error {
		_, err := only.Get(ctx, keys[i%len(keys)])
		return err
	}
	b.Run("vs_otter", func(b *testing.B) {
		benchutil.PairedBatch(b, "memonly", "otter", 100, 1, get, func(i int) error {
			if _, ok := o.GetIfPresent(keys[i%len(keys)]); !ok {
				return errors.New("otter miss")
			}
			return nil
		})
	})
	b.Run("vs_otter_expiry", func(b *testing.B) {
		benchutil.PairedBatch(b, "memonly", "otter", 100, 1, get, func(i int) error {
			if _, ok := ox.GetIfPresent(keys[i%len(keys)]); !ok {
				return errors.New("otter miss")
			}
			return nil
		})
	})
	b.Run("vs_memstore_msgpack", func(b *testing.B) {
		benchutil.PairedBatch(b, "memonly", "memstore", 100, 1, get, func(i int) error {
			_, err := mem.Get(ctx, keys[i%len(keys)])
			return err
		})
	})
}

// BenchmarkLocalOnly_Set times a Set of a memory-only cache (NewLocal),
// overwriting one of 1,000 keys, against otter v2's Set of the same value
// and key (bare, and with an expiry), and against a Set of a Cache over memstore with msgpack, in
// paired batches of 100 calls.
func BenchmarkLocalOnly_Set(b *testing.B) {
	ctx := context.Background()
	only, mem, o, ox, keys := benchOnlySetup(b)
	u := localUser{Name: "someone", Tags: []string{"a", "b"}}
	set := func(i int) error { return only.Set(ctx, keys[i%len(keys)], u) }
	b.Run("vs_otter", func(b *testing.B) {
		benchutil.PairedBatch(b, "memonly", "otter", 100, 1, set, func(i int) error {
			o.Set(keys[i%len(keys)], u)
			return nil
		})
	})
	b.Run("vs_otter_expiry", func(b *testing.B) {
		benchutil.PairedBatch(b, "memonly", "otter", 100, 1, set, func(i int) error {
			ox.Set(keys[i%len(keys)], u)
			return nil
		})
	})
	b.Run("vs_memstore_msgpack", func(b *testing.B) {
		benchutil.PairedBatch(b, "memonly", "memstore", 100, 1, set, func(i int) error {
			return mem.Set(ctx, keys[i%len(keys)], u)
		})
	})
}
