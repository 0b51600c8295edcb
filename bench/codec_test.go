package bench

import (
	"testing"

	"github.com/cachet-go/cachet/codec"
)

// benchCodec runs Marshal and Unmarshal of v through c, reporting the
// encoded size as the "bytes" metric of both.
func benchCodec[V any](b *testing.B, c codec.Codec[V], v V) {
	data, err := c.Marshal(v)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Marshal(v); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(data)), "bytes")
	})
	b.Run("Unmarshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var out V
			if err := c.Unmarshal(data, &out); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(data)), "bytes")
	})
}

// BenchmarkCodec compares every cachet codec on a small User and a ~10 KB
// Order: the README's codec table. Compress uses its defaults (BestSpeed,
// 1 KiB threshold, so the User is stored raw behind a one-byte header).
func BenchmarkCodec(b *testing.B) {
	b.Run("JSON/User", func(b *testing.B) { benchCodec(b, codec.JSON[User](), ada) })
	b.Run("JSON/Order", func(b *testing.B) { benchCodec(b, codec.JSON[Order](), order) })
	b.Run("Msgpack/User", func(b *testing.B) { benchCodec(b, codec.Msgpack[User](), ada) })
	b.Run("Msgpack/Order", func(b *testing.B) { benchCodec(b, codec.Msgpack[Order](), order) })
	b.Run("Gob/User", func(b *testing.B) { benchCodec(b, codec.Gob[User](), ada) })
	b.Run("Gob/Order", func(b *testing.B) { benchCodec(b, codec.Gob[Order](), order) })
	b.Run("CompressJSON/User", func(b *testing.B) { benchCodec(b, codec.Compress(codec.JSON[User](), nil), ada) })
	b.Run("CompressJSON/Order", func(b *testing.B) { benchCodec(b, codec.Compress(codec.JSON[Order](), nil), order) })
	b.Run("CompressMsgpack/User", func(b *testing.B) { benchCodec(b, codec.Compress(codec.Msgpack[User](), nil), ada) })
	b.Run("CompressMsgpack/Order", func(b *testing.B) { benchCodec(b, codec.Compress(codec.Msgpack[Order](), nil), order) })
}
