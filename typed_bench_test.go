package cachet_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/cachet-go/cachet"
	"github.com/cachet-go/cachet/codec"
)

var benchUser = User{ID: 42, Name: "Ada Lovelace", Email: "ada@example.com", Tags: []string{"admin", "math"}}

// BenchmarkCache_Get measures a Get hit of a small struct over memstore
// with each codec, next to the bare store lookup and the bare decode, so
// that the codec's share of a hit can be read off.
func BenchmarkCache_Get(b *testing.B) {
	ctx := context.Background()
	codecs := []struct {
		name string
		c    codec.Codec[User]
	}{
		{"json", codec.JSON[User]()},
		{"msgpack", codec.Msgpack[User]()},
	}
	for _, cc := range codecs {
		b.Run(cc.name, func(b *testing.B) {
			c, err := cachet.New[string](newMem(b), cc.c, &cachet.Options[string]{Namespace: "u"})
			if err != nil {
				b.Fatal(err)
			}
			for i := 0; i < 1000; i++ {
				if err := c.Set(ctx, strconv.Itoa(i), benchUser); err != nil {
					b.Fatal(err)
				}
			}
			keys := make([]string, 1000)
			for i := range keys {
				keys[i] = strconv.Itoa(i)
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := c.Get(ctx, keys[i%1000]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
		b.Run(cc.name+"/decode-only", func(b *testing.B) {
			data, err := cc.c.Marshal(benchUser)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				var u User
				if err := cc.c.Unmarshal(data, &u); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("store-only", func(b *testing.B) {
		s := newMem(b)
		data, _ := codec.JSON[User]().Marshal(benchUser)
		for i := 0; i < 1000; i++ {
			if err := s.Set(ctx, "u:"+strconv.Itoa(i), data, 0); err != nil {
				b.Fatal(err)
			}
		}
		keys := make([]string, 1000)
		for i := range keys {
			keys[i] = "u:" + strconv.Itoa(i)
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := s.Get(ctx, keys[i%1000]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

// BenchmarkCache_Set measures a Set of a small struct over memstore.
func BenchmarkCache_Set(b *testing.B) {
	ctx := context.Background()
	c, err := cachet.New[string](newMem(b), codec.Msgpack[User](), &cachet.Options[string]{Namespace: "u"})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := c.Set(ctx, strconv.Itoa(i%1000), benchUser); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
