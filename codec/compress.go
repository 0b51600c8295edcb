package codec

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"sync"
)

// Header bytes of the Compress format. The first byte of every value
// written by Compress says how the rest is stored.
const (
	compressRaw   byte = 0x00 // the rest is the inner codec's encoding, verbatim
	compressFlate byte = 0x01 // the rest is a raw DEFLATE stream (RFC 1951) of it
)

// Defaults of CompressOptions.
const (
	// DefaultCompressThreshold is the CompressOptions.Threshold used when
	// the field is zero: encodings shorter than 1 KiB are stored raw.
	DefaultCompressThreshold = 1024
	// DefaultCompressLevel is the CompressOptions.Level used when the
	// field is zero: flate.BestSpeed, which on 9 KB of JSON compresses
	// 1.5 to 2 times as fast as flate.DefaultCompression for 2% more
	// bytes.
	DefaultCompressLevel = flate.BestSpeed
	// DefaultCompressMaxSize is the CompressOptions.MaxSize used when the
	// field is zero: 64 MiB, far above what a cache should hold in one
	// value and far below what a corrupt or hostile stream could ask for.
	DefaultCompressMaxSize = 64 << 20
)

// CompressOptions configures Compress. A nil *CompressOptions means all
// defaults; the zero value of each field is its default.
type CompressOptions struct {
	// Threshold is the size, in bytes, of the inner codec's encoding from
	// which Compress tries to compress; shorter encodings are stored raw,
	// since compressing them costs time and saves little or nothing. Use 1
	// to try every value. Default: 0, meaning DefaultCompressThreshold
	// (1024). Negative values are invalid.
	Threshold int

	// Level is the compress/flate level: flate.BestSpeed (1) through
	// flate.BestCompression (9), or flate.HuffmanOnly (-2).
	// flate.DefaultCompression (-1) means level 6. Default: 0, meaning
	// DefaultCompressLevel (flate.BestSpeed); flate.NoCompression cannot
	// be asked for (a Threshold above every value size does that job).
	Level int

	// MaxSize bounds the size, in bytes, to which Unmarshal decompresses
	// a value; a stored value that would expand beyond it gives ErrDecode
	// instead of allocating without bound (a few KiB of DEFLATE can
	// expand to gigabytes). Decompressed data is read in 64 KiB chunks
	// as it arrives, so such a value costs about MaxSize plus 64 KiB of
	// memory before it fails. Default: 0, meaning DefaultCompressMaxSize
	// (64 MiB). Negative values are invalid.
	MaxSize int
}

// Compress returns a Codec that encodes values with c and compresses the
// result with compress/flate when it is at least opts.Threshold bytes
// long. A nil opts means defaults. Compress panics if c is nil or opts is
// invalid (a programmer error caught when the cache is built).
//
// The format is one header byte followed by the payload: 0x00 means the
// payload is c's encoding as it is (a value below the threshold, or one
// that compression would not have made smaller), 0x01 means the payload
// is a raw DEFLATE stream (RFC 1951) of c's encoding. Reading does not
// depend on the options, so changing Threshold or Level never breaks
// reading values already stored. Values written by c alone, without
// Compress, are not readable through Compress and vice versa: change the
// cache's version when adding or removing Compress. An empty value, an
// unknown header byte, a corrupt or truncated DEFLATE stream, trailing
// data after it, or a payload c cannot decode gives ErrDecode.
//
// Flate writers and readers and the decompression chunks are pooled, so
// a steady stream of values allocates little beyond the results; a value
// that decompresses to more than one chunk (64 KiB) costs one more
// allocation of its size, to join the chunks. Unmarshal hands c a buffer
// that is reused after c.Unmarshal returns, which is safe because a Codec
// does not retain the data it decodes.
//
// The codec is safe for concurrent use if c is.
func Compress[V any](c Codec[V], opts *CompressOptions) Codec[V] {
	if c == nil {
		panic("codec: Compress of a nil Codec")
	}
	var o CompressOptions
	if opts != nil {
		o = *opts
	}
	switch {
	case o.Threshold < 0:
		panic(fmt.Sprintf("codec: Compress: negative Threshold %d", o.Threshold))
	case o.Threshold == 0:
		o.Threshold = DefaultCompressThreshold
	}
	switch {
	case o.Level == 0:
		o.Level = DefaultCompressLevel
	case o.Level < flate.HuffmanOnly || o.Level > flate.BestCompression:
		panic(fmt.Sprintf("codec: Compress: invalid flate Level %d", o.Level))
	}
	switch {
	case o.MaxSize < 0:
		panic(fmt.Sprintf("codec: Compress: negative MaxSize %d", o.MaxSize))
	case o.MaxSize == 0:
		o.MaxSize = DefaultCompressMaxSize
	}
	cc := &compressCodec[V]{inner: c, threshold: o.Threshold, maxSize: o.MaxSize}
	level := o.Level
	cc.writers.New = func() any {
		w, err := flate.NewWriter(nil, level)
		if err != nil { // unreachable: level was checked above
			panic(err)
		}
		return w
	}
	return cc
}

// flateReader is a pooled decompressor with the reader it reads from.
type flateReader struct {
	src bytes.Reader
	r   io.ReadCloser // from flate.NewReader: implements flate.Resetter
}

type compressCodec[V any] struct {
	inner     Codec[V]
	threshold int
	maxSize   int
	writers   sync.Pool // of *flate.Writer at this codec's level
}

var (
	// flateReaders holds *flateReader.
	flateReaders = sync.Pool{New: func() any {
		fr := new(flateReader)
		fr.r = flate.NewReader(&fr.src)
		return fr
	}}
	// flateBuffers holds *bytes.Buffer for compressing.
	flateBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}
)

func putBuffer(b *bytes.Buffer) {
	if b.Cap() <= maxPooledBuffer {
		flateBuffers.Put(b)
	}
}

func (c *compressCodec[V]) Marshal(v V) ([]byte, error) {
	raw, err := c.inner.Marshal(v)
	if err != nil {
		return nil, err // already wraps ErrEncode
	}
	if len(raw) >= c.threshold {
		buf := flateBuffers.Get().(*bytes.Buffer)
		buf.Reset()
		buf.WriteByte(compressFlate)
		w := c.writers.Get().(*flate.Writer)
		w.Reset(buf)
		_, err := w.Write(raw)
		if err == nil {
			err = w.Close()
		}
		// w keeps pointing at buf until its next Reset; both are pooled
		// and die together, and a second Reset here would cost a clear
		// of the writer's hash tables at levels above BestSpeed.
		c.writers.Put(w)
		if err != nil { // writing to a bytes.Buffer cannot fail; be safe
			putBuffer(buf)
			return nil, encodeError(err)
		}
		if buf.Len() < 1+len(raw) {
			out := bytes.Clone(buf.Bytes())
			putBuffer(buf)
			return out, nil
		}
		// Incompressible: store it raw rather than larger.
		putBuffer(buf)
	}
	out := make([]byte, 1+len(raw))
	out[0] = compressRaw
	copy(out[1:], raw)
	return out, nil
}

var (
	errEmpty         = errors.New("compress: empty value, missing header byte")
	errTrailingFlate = errors.New("compress: trailing data after the compressed stream")
	errTooLarge      = errors.New("compress: value expands beyond MaxSize")
)

func (c *compressCodec[V]) Unmarshal(data []byte, v *V) error {
	if v == nil {
		return decodeError(errNilTarget)
	}
	if len(data) == 0 {
		return decodeError(errEmpty)
	}
	switch data[0] {
	case compressRaw:
		return c.inner.Unmarshal(data[1:], v) // already wraps ErrDecode
	case compressFlate:
	default:
		return decodeError(fmt.Errorf("compress: unknown header byte %#02x", data[0]))
	}

	fr := flateReaders.Get().(*flateReader)
	fr.src.Reset(data[1:])
	// Reset on a reader from flate.NewReader cannot fail (no dictionary).
	_ = fr.r.(flate.Resetter).Reset(&fr.src, nil)
	var in inflated
	err := in.read(fr.r, c.maxSize)
	if err == nil && fr.src.Len() != 0 {
		// bytes.Reader is an io.ByteReader, so flate reads no further
		// than the end of its stream and what is left is really extra.
		err = errTrailingFlate
	}
	fr.src.Reset(nil) // do not retain data
	flateReaders.Put(fr)
	if err == nil {
		err = c.inner.Unmarshal(in.bytes(), v) // already wraps ErrDecode
	} else {
		err = decodeError(fmt.Errorf("compress: %w", err))
	}
	in.release()
	return err
}

// flateChunk is the size of the pooled chunks that decompressed data is
// read into.
const flateChunk = 64 << 10

// flateChunks holds *[flateChunk]byte.
var flateChunks = sync.Pool{New: func() any { return new([flateChunk]byte) }}

// inflated is decompressed data, read in pooled chunks so that what is
// allocated grows only as data arrives: a stream that expands beyond the
// limit costs the limit plus one chunk, not the 2-4x of a buffer that
// grows by doubling.
type inflated struct {
	first  [1]*[flateChunk]byte // chunks' backing array for most values
	chunks []*[flateChunk]byte
	n      int    // bytes in chunks
	joined []byte // the chunks in one slice, if there are several
}

// read reads r to its end, failing with errTooLarge once it has produced
// more than limit bytes.
func (in *inflated) read(r io.Reader, limit int) error {
	in.chunks = in.first[:0]
	lr := io.LimitedReader{R: r, N: int64(limit) + 1}
	for {
		ch := flateChunks.Get().(*[flateChunk]byte)
		in.chunks = append(in.chunks, ch)
		// Not io.ReadFull: it would turn flate's io.ErrUnexpectedEOF
		// (a truncated stream) into a chunk that is merely short.
		var err error
		for m := 0; m < flateChunk && err == nil; {
			var k int
			k, err = lr.Read(ch[m:])
			m += k
			in.n += k
		}
		if in.n > limit {
			return fmt.Errorf("%w (limit %d bytes)", errTooLarge, limit)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// bytes returns the data read, in one slice valid until release.
func (in *inflated) bytes() []byte {
	if len(in.chunks) == 1 {
		return in.chunks[0][:in.n]
	}
	in.joined = make([]byte, 0, in.n)
	for _, ch := range in.chunks {
		in.joined = append(in.joined, ch[:min(flateChunk, in.n-len(in.joined))]...)
	}
	return in.joined
}

// release returns the chunks to their pool, keeping at most
// maxPooledBuffer bytes of them so that one huge value does not pin its
// memory for the life of the process.
func (in *inflated) release() {
	for i, ch := range in.chunks {
		if i*flateChunk >= maxPooledBuffer {
			break
		}
		flateChunks.Put(ch)
	}
	in.chunks, in.joined = nil, nil
}
