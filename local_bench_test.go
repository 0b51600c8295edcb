package cachet

import (
	"context"
	"errors"
	"strconv"
	"testing"

	"github.com/maypok86/otter/v2"

	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/internal/benchutil"
	"github.com/cachet-go/cachet/store/memstore"
)

// BenchmarkCache_LocalHit times a local-tier hit of a Cache[string,
// localUser] against otter v2 holding the same values, in paired runs.
func BenchmarkCache_LocalHit(b *testing.B) {
	ctx := context.Background()
	mem := memstore.Must(nil)
	defer mem.Close()
	c, err := New[string](mem, codec.JSON[localUser](), &Options[string]{Namespace: "u", Local: &LocalOptions[localUser]{}})
	if err != nil {
		b.Fatal(err)
	}
	o := otter.Must(&otter.Options[string, localUser]{MaximumSize: 10_000})
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = strconv.Itoa(i)
		u := localUser{Name: "user " + keys[i], Tags: []string{"a", "b"}}
		c.Set(ctx, keys[i], u)
		c.Get(ctx, keys[i])
		o.Set("u:"+keys[i], u)
	}
	i, j := 0, 0
	benchutil.Paired(b, "local", "otter", func() error {
		i = (i + 1) % len(keys)
		_, err := c.Get(ctx, keys[i])
		return err
	}, func() error {
		j = (j + 1) % len(keys)
		if _, ok := o.GetIfPresent("u:" + keys[j]); !ok {
			return errors.New("otter miss")
		}
		return nil
	})
}
