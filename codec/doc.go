// Package codec turns typed values into bytes and back for cachet.
//
// A [Codec] is chosen per cache and fixes the cache's value type:
//
//	c, err := cachet.New[string](s, codec.JSON[User](), nil) // Cache[string, User]
//
// Encoding and decoding failures are returned wrapped so that
// errors.Is(err, codec.ErrEncode) and errors.Is(err, codec.ErrDecode) hold,
// with the underlying error (a *json.SyntaxError, say) still reachable
// through errors.As. A codec never returns a half-written value or a zero
// value with a nil error, and a failed Unmarshal leaves its target
// untouched. Corrupt or foreign input gives ErrDecode, never a panic:
// fuzz tests feed every codec arbitrary bytes.
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
//     cache; it is about twice as fast as JSON both ways and a third
//     smaller. [JSON] when other languages or humans (redis-cli) read the
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
// PERFORMANCE
package codec
