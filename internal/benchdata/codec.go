package benchdata

import (
	"testing"

	"github.com/cachet-go/cachet/codec"
)

// Codec runs the sub-benchmarks name/Marshal and name/Unmarshal of c on v,
// reporting the encoded size as the "bytes" metric of both.
func Codec[V any](b *testing.B, name string, c codec.Codec[V], v V) {
	b.Helper()
	data, err := c.Marshal(v)
	if err != nil {
		b.Fatal(err)
	}
	b.Run(name+"/Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Marshal(v); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(data)), "bytes")
	})
	b.Run(name+"/Unmarshal", func(b *testing.B) {
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
