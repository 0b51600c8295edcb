package bench

import (
	"testing"

	"github.com/cachet-go/cachet/internal/benchdata"

	"github.com/cachet-go/cachet/codec"
)

// BenchmarkCodec compares every cachet codec on a small User and a ~10 KB
// Order: the README's codec table. Compress uses its defaults (BestSpeed,
// 1 KiB threshold, so the User is stored raw behind a one-byte header).
func BenchmarkCodec(b *testing.B) {
	benchdata.Codec(b, "JSON/User", codec.JSON[User](), ada)
	benchdata.Codec(b, "JSON/Order", codec.JSON[Order](), order)
	benchdata.Codec(b, "Msgpack/User", codec.Msgpack[User](), ada)
	benchdata.Codec(b, "Msgpack/Order", codec.Msgpack[Order](), order)
	benchdata.Codec(b, "Gob/User", codec.Gob[User](), ada)
	benchdata.Codec(b, "Gob/Order", codec.Gob[Order](), order)
	benchdata.Codec(b, "CompressJSON/User", codec.Compress(codec.JSON[User](), nil), ada)
	benchdata.Codec(b, "CompressJSON/Order", codec.Compress(codec.JSON[Order](), nil), order)
	benchdata.Codec(b, "CompressMsgpack/User", codec.Compress(codec.Msgpack[User](), nil), ada)
	benchdata.Codec(b, "CompressMsgpack/Order", codec.Compress(codec.Msgpack[Order](), nil), order)
}
