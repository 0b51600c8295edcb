package codec

import (
	"bytes"
	"errors"
	"fmt"
	"sync"

	"github.com/vmihailenco/msgpack/v5"
)

// Msgpack returns a Codec that encodes V as MessagePack with
// github.com/vmihailenco/msgpack/v5, using that package's defaults.
//
// Structs are encoded as maps keyed by field name (or by the `msgpack`
// struct tag), so adding or removing fields stays compatible with values
// already stored. Types implementing msgpack.CustomEncoder /
// CustomDecoder or msgpack.Marshaler / Unmarshaler are honoured. Values
// msgpack cannot represent give ErrEncode (channels, functions, complex
// numbers). Unlike JSON, NaN and ±Inf floats and arbitrary bytes in
// strings round-trip exactly. time.Time keeps its instant but not its
// location: it decodes in time.Local (time.UTC for the zero time), so
// compare times with Time.Equal.
//
// Unmarshal decodes into a fresh V and stores it in *v only on success,
// so *v is replaced rather than merged into, and left unchanged on
// failure. Trailing data after the value is an error (ErrDecode).
//
// Unmarshal first walks data without allocating and rejects (with
// ErrDecode saying what it found) any array, map, string, binary or
// extension header that claims more elements or bytes than the rest of
// data could hold, and arrays and maps nested more than 10000 deep. The
// msgpack decoder trusts such headers (six bytes claiming 2^32-1 int64
// make v5.4.1 allocate 32 GiB, a fatal error no recover catches); after
// the walk, what it allocates is bounded by the size of data times the
// size of the largest element type in V. The msgpack decoder can panic on some corrupt input (for example a nil where
// a struct such as time.Time is expected, in v5.4.1); Unmarshal recovers
// such a panic and returns it as ErrDecode, so corrupt stored bytes never
// crash the program.
//
// Encoders, decoders and their buffers are pooled and reused across calls
// (see the package's Performance section).
//
// The codec is safe for concurrent use.
func Msgpack[V any]() Codec[V] {
	return &msgpackCodec[V]{}
}

type msgpackCodec[V any] struct {
	decodings sync.Pool // of *msgpackDecoding[V]
}

// msgpackEncoder is a pooled encoder together with the buffer it appends
// to: its own, reused, for Marshal, or the caller's for Append.
type msgpackEncoder struct {
	enc *msgpack.Encoder
	w   appendWriter
}

// appendWriter is the msgpack encoder's writer: it appends to b. It is an
// io.ByteWriter, so the encoder writes single bytes without a slice.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

func (w *appendWriter) WriteByte(c byte) error {
	w.b = append(w.b, c)
	return nil
}

func (w *appendWriter) WriteString(s string) (int, error) {
	w.b = append(w.b, s...)
	return len(s), nil
}

// msgpackDecoder is a pooled decoder together with the reader it reads
// from; bytes.Reader is an io.ByteScanner, so the decoder reads it
// directly, without buffering, and its Len tells what was left unread.
// (msgpack.Unmarshal is not used: it turns on UsePreallocateValues, which
// starts a never-ending goroutine per decoded type.)
type msgpackDecoder struct {
	dec *msgpack.Decoder
	r   bytes.Reader
}

// msgpackDecoding is what a codec pools for a decode: a decoder and the
// zero V it decodes into, so that decoding a V allocates no V (only what
// V's fields point to).
type msgpackDecoding[V any] struct {
	msgpackDecoder
	v V
}

var msgpackEncoders = sync.Pool{New: func() any {
	e := new(msgpackEncoder)
	e.enc = msgpack.NewEncoder(&e.w)
	return e
}}

// maxPooledBuffer is the largest buffer (in bytes of capacity) returned to
// a pool; larger ones are left to the garbage collector so that one huge
// value does not pin its buffer for the life of the process.
const maxPooledBuffer = 1 << 20

var errTrailingData = errors.New("trailing data after the encoded value")

func (c *msgpackCodec[V]) Marshal(v V) ([]byte, error) {
	e := msgpackEncoders.Get().(*msgpackEncoder)
	e.w.b = e.w.b[:0]
	err := e.enc.Encode(v)
	var out []byte
	if err == nil {
		out = bytes.Clone(e.w.b)
	}
	if cap(e.w.b) <= maxPooledBuffer {
		msgpackEncoders.Put(e)
	}
	if err != nil {
		return nil, encodeError(err)
	}
	return out, nil
}

// Append implements Appender: it encodes v straight into dst.
func (c *msgpackCodec[V]) Append(dst []byte, v V) ([]byte, error) {
	e := msgpackEncoders.Get().(*msgpackEncoder)
	own := e.w.b
	e.w.b = dst
	err := e.enc.Encode(v)
	out := e.w.b
	e.w.b = own[:0]
	msgpackEncoders.Put(e)
	if err != nil {
		return nil, encodeError(err)
	}
	return out, nil
}

func (c *msgpackCodec[V]) Unmarshal(data []byte, v *V) error {
	if v == nil {
		return decodeError(errNilTarget)
	}
	tmp, err := c.Decode(data)
	if err != nil {
		return err
	}
	*v = tmp
	return nil
}

// Decode implements Decoder: it decodes into a pooled V and returns a
// copy of it, so that no V is allocated.
func (c *msgpackCodec[V]) Decode(data []byte) (V, error) {
	var zero V
	if err := checkMsgpack(data); err != nil {
		return zero, decodeError(err)
	}
	d, _ := c.decodings.Get().(*msgpackDecoding[V])
	if d == nil {
		d = new(msgpackDecoding[V])
		d.dec = msgpack.NewDecoder(&d.r)
	}
	d.r.Reset(data)
	err := decodeNoPanic("msgpack", func() error { return d.dec.Decode(&d.v) })
	if err == nil && d.r.Len() != 0 {
		err = fmt.Errorf("%w (%d bytes)", errTrailingData, d.r.Len())
	}
	d.r.Reset(nil) // do not retain data
	v := d.v
	d.v = zero // the next decode must start from a zero V, not merge into this one
	if err != nil {
		// A failed (or panicked) decode may leave state behind in the
		// decoder, such as a half-recorded RawMessage: drop it rather
		// than reuse it.
		return zero, decodeError(err)
	}
	c.decodings.Put(d)
	return v, nil
}

// decodeNoPanic runs decode, turning a panic inside it into an error: the
// reflection-based decoders of msgpack and gob are not proven free of
// panics on corrupt input, and a cache must survive corrupt stored bytes.
func decodeNoPanic(format string, decode func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: decoder panicked on this input: %v", format, r)
		}
	}()
	return decode()
}
