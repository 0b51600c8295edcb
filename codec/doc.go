// Package codec turns typed values into bytes and back for cachet.
//
// A [Codec] is chosen per cache and fixes the cache's value type:
//
//	c, err := cachet.New[string](s, codec.JSON[Profile](), nil) // Cache[string, Profile]
//
// Encoding and decoding failures are returned wrapped so that
// errors.Is(err, codec.ErrEncode) and errors.Is(err, codec.ErrDecode) hold,
// with the underlying error (a *json.SyntaxError, say) still reachable
// through errors.As. A codec never returns a half-written value or a zero
// value with a nil error, and a failed Unmarshal leaves its target
// untouched. Corrupt or foreign input gives ErrDecode, never a panic:
// fuzz tests feed every codec arbitrary bytes.
//
// Nor does hostile input exhaust memory: what Unmarshal allocates is
// bounded by the size of its input (times the size of V's largest element
// type), whatever length headers the input holds. [Msgpack] checks every
// header against the bytes that remain before decoding, [Gob] walks the
// gob stream checking every count the same way before encoding/gob reads
// it, encoding/json is bounded by construction, and [Compress] stops at
// MaxSize. The fuzz tests check a ceiling of 64 bytes allocated per input
// byte plus 64 KiB.
//
// # Codecs
//
//   - [JSON]: encoding/json. Readable, portable, the safe default.
//   - [Msgpack]: MessagePack through github.com/vmihailenco/msgpack/v5.
//     Smaller and faster than JSON, keeps NaN and non-UTF-8 strings.
//   - [Gob]: encoding/gob, self-describing per value. For types that need
//     gob (gob.GobEncoder, registered interface values).
//   - [String] and [Bytes]: the value is the stored bytes, unchanged.
//   - [Compress]: wraps any codec and DEFLATE-compresses encodings above a
//     size threshold.
//
// Every codec is a small value with no state besides internal pools; each
// constructor call is cheap and the result is safe for concurrent use.
//
// # Choosing a codec
//
//   - Structs and other Go values: [Msgpack] when only Go programs read the
//     cache; it decodes two to four times as fast as JSON, encodes as
//     fast or faster, and is smaller. [JSON] when other languages or humans (redis-cli) read the
//     values, or when the type already has MarshalJSON methods.
//   - Values that are already bytes or text (rendered HTML, protobuf
//     you encode yourself): [Bytes] or [String], which cost nothing but a
//     copy on Unmarshal.
//   - [Gob] only when you need its type handling: every value carries its
//     own type description, which makes it the largest and slowest codec
//     here for small values.
//   - Values of several kilobytes that compress well (JSON text, lists of
//     records): wrap the codec in [Compress], trading CPU for memory and
//     network. The default threshold (1 KiB) leaves small values raw.
//
// Changing a cache's codec (or adding Compress) changes the stored format:
// bump the cache's version so that old entries are not read with the new
// codec, or let them fail with ErrDecode and age out.
//
// # Writing a codec
//
// Implement [Codec]. Wrap failures with ErrEncode or ErrDecode and the
// cause, as in fmt.Errorf("%w: %w", codec.ErrDecode, err); decode into a
// fresh value and assign it to *v only on success; do not keep data after
// Unmarshal returns (callers such as [Compress] reuse the buffer).
//
// # Performance
//
// The benchmarks (go test -run '^$' -bench . -benchmem ./codec/) encode a
// six-field User (about 150 bytes of JSON) and a 75-item Order (about
// 9 KB of JSON). Measured on a shared two-core machine, so read the
// ratios rather than the absolute times:
//
//   - [Msgpack] encodes User about 1.4 times as fast as [JSON] and
//     decodes it two to three times as fast, in 107 bytes against 156. On
//     the Order it encodes at JSON's speed and decodes two to four times
//     as fast, in 7.3 KB against 8.7. Msgpack's Marshal writes into a
//     pooled buffer and copies out the result: two allocations fewer and
//     35-45% fewer bytes allocated than msgpack.Marshal, in the same time;
//     Unmarshal matches msgpack.Unmarshal without starting its per-type
//     goroutine. The walk that checks length headers before decoding
//     costs about 12% of an Unmarshal of User and 6% of one of the
//     Order (go test -run '^$' -bench MsgpackCheck ./codec/).
//   - [Gob] pays for being self-describing: on User it is about 7 times
//     slower to encode and 20 times slower to decode than gob on a long
//     stream (which a cache cannot use, values being read one by one),
//     and 206 bytes against 83, because each value carries its type and
//     each Unmarshal rebuilds the type's decoder (about 20 µs). On the
//     Order the type description is only 5% of the size, but encoding and
//     decoding still cost 1.5 to 3 times the stream's time.
//   - [Compress] at its default level (flate.BestSpeed) stores the Order's
//     8.7 KB of JSON in 1.2 KB, seven times smaller: compressing costs
//     30 to 40 µs per Marshal and decompressing about 20 µs per Unmarshal
//     (a seventh of JSON's decoding time, a third of Msgpack's).
//     flate.DefaultCompression saves another 2% for 1.5 to 2 times the
//     compression time. Values under the threshold cost one header byte
//     and one copy.
//   - [String] costs one copy each way; [Bytes] costs nothing to encode
//     and one copy to decode.
//
// In a Cache over an in-process store the codec dominates the cost of a
// hit (a lookup takes tens of nanoseconds, decoding a small struct one
// to three microseconds), so prefer [Msgpack], [Bytes] or [String] where the
// latency of hits matters.
package codec
