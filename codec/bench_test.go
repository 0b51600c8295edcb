package codec_test

import (
	"bytes"
	"encoding/gob"
	"testing"

	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/internal/benchdata"
	"github.com/cachet-go/cachet/internal/benchutil"
	"github.com/vmihailenco/msgpack/v5"
)

// The benchmarks' values, shared with the bench module.
type (
	benchUser  = benchdata.User
	benchOrder = benchdata.Order
)

var (
	smallUser  = benchdata.NewUser()
	largeOrder = benchdata.NewOrder()
)

func BenchmarkCodec(b *testing.B) {
	jsonUser, _ := codec.JSON[benchUser]().Marshal(smallUser)
	jsonOrder, _ := codec.JSON[benchOrder]().Marshal(largeOrder)

	benchdata.Codec(b, "JSON/User", codec.JSON[benchUser](), smallUser)
	benchdata.Codec(b, "JSON/Order", codec.JSON[benchOrder](), largeOrder)
	benchdata.Codec(b, "Msgpack/User", codec.Msgpack[benchUser](), smallUser)
	benchdata.Codec(b, "Msgpack/Order", codec.Msgpack[benchOrder](), largeOrder)
	benchdata.Codec(b, "Gob/User", codec.Gob[benchUser](), smallUser)
	benchdata.Codec(b, "Gob/Order", codec.Gob[benchOrder](), largeOrder)
	// The default threshold (1 KiB) leaves the small value raw.
	benchdata.Codec(b, "CompressJSON/User", codec.Compress(codec.JSON[benchUser](), nil), smallUser)
	benchdata.Codec(b, "CompressJSON/Order", codec.Compress(codec.JSON[benchOrder](), nil), largeOrder)
	benchdata.Codec(b, "CompressMsgpack/User", codec.Compress(codec.Msgpack[benchUser](), nil), smallUser)
	benchdata.Codec(b, "CompressMsgpack/Order", codec.Compress(codec.Msgpack[benchOrder](), nil), largeOrder)
	// String and Bytes carry the JSON text of the same values: the cost of
	// the codec layer alone.
	benchdata.Codec(b, "String/User", codec.String(), string(jsonUser))
	benchdata.Codec(b, "String/Order", codec.String(), string(jsonOrder))
	benchdata.Codec(b, "Bytes/User", codec.Bytes(), jsonUser)
	benchdata.Codec(b, "Bytes/Order", codec.Bytes(), jsonOrder)
}

// BenchmarkReference measures the alternatives the codecs were chosen
// over, for the package's Performance section: msgpack's own Marshal and
// Unmarshal (no pooled buffer, and Unmarshal's value preallocation), gob
// with one long-lived encoder and decoder (a stream, not self-describing
// values, so unusable for a cache but the floor of gob's cost),
// Compress at flate.DefaultCompression, and Compress over Bytes (the cost
// of flate alone).
func BenchmarkReference(b *testing.B) {
	b.Run("MsgpackPlain/User", func(b *testing.B) { benchMsgpackPlain(b, smallUser) })
	b.Run("MsgpackPlain/Order", func(b *testing.B) { benchMsgpackPlain(b, largeOrder) })
	b.Run("GobStream/User", func(b *testing.B) { benchGobStream(b, smallUser) })
	b.Run("GobStream/Order", func(b *testing.B) { benchGobStream(b, largeOrder) })
	benchdata.Codec(b, "CompressJSONLevel6/Order", codec.Compress(codec.JSON[benchOrder](), &codec.CompressOptions{Level: -1}), largeOrder)
	// The flate cost alone: Compress over Bytes on the Order's JSON text.
	jsonOrder, _ := codec.JSON[benchOrder]().Marshal(largeOrder)
	benchdata.Codec(b, "CompressBytes/Order", codec.Compress(codec.Bytes(), nil), jsonOrder)
}

func benchMsgpackPlain[V any](b *testing.B, v V) {
	data, err := msgpack.Marshal(v)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := msgpack.Marshal(v); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(data)), "bytes")
	})
	b.Run("Unmarshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var out V
			if err := msgpack.Unmarshal(data, &out); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(data)), "bytes")
	})
}

func benchGobStream[V any](b *testing.B, v V) {
	b.Run("Marshal", func(b *testing.B) {
		var buf bytes.Buffer
		enc := gob.NewEncoder(&buf)
		if err := enc.Encode(v); err != nil { // sends the type once
			b.Fatal(err)
		}
		b.ReportAllocs()
		n := 0
		for b.Loop() {
			buf.Reset()
			if err := enc.Encode(v); err != nil {
				b.Fatal(err)
			}
			n = buf.Len()
		}
		b.ReportMetric(float64(n), "bytes")
	})
	b.Run("Unmarshal", func(b *testing.B) {
		// An encoder that has sent the type once, then the same value many
		// times: the decoder reads the type once and values thereafter.
		var buf bytes.Buffer
		enc := gob.NewEncoder(&buf)
		if err := enc.Encode(v); err != nil {
			b.Fatal(err)
		}
		first := buf.Len()
		for range 1000 {
			if err := enc.Encode(v); err != nil {
				b.Fatal(err)
			}
		}
		size := (buf.Len() - first) / 1000
		stream := buf.Bytes()
		r := bytes.NewReader(stream)
		dec := gob.NewDecoder(r)
		var out V
		if err := dec.Decode(&out); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if r.Len() == 0 { // rewind past the type description
				r.Reset(stream)
				dec = gob.NewDecoder(r)
				if err := dec.Decode(&out); err != nil {
					b.Fatal(err)
				}
			}
			out = *new(V)
			if err := dec.Decode(&out); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(size), "bytes")
	})
}

// BenchmarkMsgpackCheck measures, in pairs, the walk that Msgpack's
// Unmarshal runs before decoding (rejecting length headers that claim more
// than the input holds) against the whole Unmarshal: the ratio is the
// walk's share of a decode.
func BenchmarkMsgpackCheck(b *testing.B) {
	b.Run("User", func(b *testing.B) { benchMsgpackCheck(b, smallUser) })
	b.Run("Order", func(b *testing.B) { benchMsgpackCheck(b, largeOrder) })
}

func benchMsgpackCheck[V any](b *testing.B, v V) {
	c := codec.Msgpack[V]()
	data, err := c.Marshal(v)
	if err != nil {
		b.Fatal(err)
	}
	var out V
	benchutil.Paired(b, "check", "unmarshal",
		func() error { return codec.CheckMsgpack(data) },
		func() error { return c.Unmarshal(data, &out) })
}
