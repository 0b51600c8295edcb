package cachet

import (
	"context"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/internal/entry"
	"github.com/cachet-go/cachet/store"
)

// This file holds the Cache's two hot paths between codec and store: a
// read decodes the store's bytes, lent when the store can lend them
// (store.Lender), into a V that is not allocated (codec.Decoder); a write
// encodes into a pooled buffer (codec.Appender) that the store copies
// once, or sends.

// decodeCall is the state of one decode of a stored value. Its f, the
// method value of decode made once per decodeCall, is what store.GetFunc
// calls; decodeCalls are pooled per Cache so that a read allocates
// neither a closure nor a V.
type decodeCall[K comparable, V any] struct {
	c       *Cache[K, V]
	op, key string // when n is 0
	n       int    // > 0: the op is "get" and the key is kbuf[:n] (see getFind)
	v       V
	h       entry.Header
	called  bool // decode ran: v and h hold what it left
	f       func([]byte) error
	kbuf    [findKeyLen]byte
}

func (d *decodeCall[K, V]) decode(b []byte) (err error) {
	d.called = true
	op, key := d.op, d.key
	if d.n > 0 {
		op, key = "get", unsafe.String(&d.kbuf[0], d.n)
	}
	if bp, ok := any(&d.v).(*[]byte); ok && any(d.c.codec) == bytesCodec {
		// What codec.Bytes decodes, without the codec: one copy of the
		// payload of the lent bytes.
		var payload []byte
		d.h, payload, err = d.c.entryPayload(op, key, b)
		if err == nil && !d.h.Negative() {
			*bp = append(make([]byte, 0, len(payload)), payload...)
		}
	} else {
		d.h, err = d.c.decodeEntry(op, key, b, &d.v)
	}
	if err != nil && d.n > 0 {
		// The error names the key, which lives in kbuf: decode again
		// (only a value that fails costs this) with a key of its own.
		d.h, err = d.c.decodeEntry(op, strings.Clone(key), b, &d.v)
	}
	return err
}

// decodeCall returns a decodeCall from the cache's pool, for a read; put
// it back with decodes.Put once nothing refers to it.
func (c *Cache[K, V]) decodeCall() *decodeCall[K, V] {
	d, _ := c.decodes.Get().(*decodeCall[K, V])
	if d == nil {
		d = &decodeCall[K, V]{c: c}
		d.f = d.decode
	}
	return d
}

// findKeyLen is the longest store key that getFind builds in its
// decodeCall's buffer; a longer one is built as a string, as Get does.
const findKeyLen = 64

// getFind is Get (without a local tier) over fs, the store beneath the
// kill switch while it is on: the store itself, which lends its values
// and takes a lent key (store.Finder), with no middleware in between.
// The store key is built in the pooled decodeCall's buffer, not in a new
// string, and a miss is reported by fs as false, not as an error: a hit
// allocates only what decoding allocates, and a miss only its error (see
// notFound), which copies the key. Every error names the operation and
// the key as those of Get's other path do.
//
// The key in the buffer is given to d as its length, not as a string, so
// that no pointer is written into the pooled d (nor a write barrier
// paid) on the way in or out.
func (c *Cache[K, V]) getFind(ctx context.Context, fs store.Finder, k K) (V, error) {
	var zero V
	d := c.decodeCall()
	key, ok := c.keys.buildIn(d.kbuf[:], k)
	if !ok {
		c.decodes.Put(d)
		_, err := c.keys.build("get", k) // the error, as the other path gives it
		return zero, err
	}
	// A key without a prefix is k's own string, and a long one a string
	// of its own: only one in kbuf is lent.
	lent := unsafe.StringData(key) == &d.kbuf[0]
	if lent {
		d.n = len(key)
	} else {
		d.op, d.key = "get", key
	}
	if c.bounds(ctx) { // a Finder that is not in-process
		var cancel context.CancelFunc
		ctx, cancel = c.withTimeout(ctx)
		defer cancel()
	}
	found, err := fs.Find(ctx, key, d.f)
	var v V
	var h entry.Header
	called := d.called
	if called {
		v, h = d.v, d.h
		d.v, d.h, d.called = zero, entry.Header{}, false // keep nothing alive
	}
	switch {
	case err != nil && !called:
		// The store's own error, which names no key (store.Finder).
		err = &Error{Op: "get", Key: strings.Clone(key), Err: err}
	case err != nil:
		// f's: decode's error, which names a key of its own.
	case !found || h.Negative() || c.expired(h):
		err = notFound("get", key)
	}
	if lent {
		d.n = 0
	} else {
		d.key = ""
	}
	c.decodes.Put(d) // key is invalid from here on
	if err != nil {
		return zero, err
	}
	return v, nil
}

// readValue reads key through the cache's store and decodes its entry
// (see decodeEntry): the value and the entry's header. The store's error
// is returned as it is, and so is the decoding's.
func (c *Cache[K, V]) readValue(ctx context.Context, op, key string) (V, entry.Header, error) {
	var v V
	h, err := c.readInto(ctx, op, key, &v)
	return v, h, err
}

// readInto is readValue setting *v, so that a V is copied once on its way
// out, not once per frame.
func (c *Cache[K, V]) readInto(ctx context.Context, op, key string, v *V) (entry.Header, error) {
	if bp, ok := any(v).(*[]byte); ok && any(c.codec) == bytesCodec {
		return c.readBytes(ctx, op, key, bp)
	}
	d := c.decodeCall()
	d.op, d.key = op, key
	var err error
	if sw, ok := c.s.(*switchStore); ok && sw.state.Load() == switchOn {
		// What the switch's GetFunc does when on (switch.go), without its
		// call and its second look for a Lender.
		err = store.GetFunc(ctx, sw.Store, key, d.f)
	} else {
		err = store.GetFunc(ctx, c.s, key, d.f)
	}
	var h entry.Header
	if d.called {
		// A miss leaves d as it was: nothing to copy out or clear.
		*v, h = d.v, d.h
		var zero V
		d.v, d.h, d.called = zero, entry.Header{}, false // keep nothing alive
	}
	d.key = ""
	c.decodes.Put(d)
	return h, err
}

// bytesCodec is what codec.Bytes returns, for readInto and decodeOwned to
// recognise.
var bytesCodec any = codec.Bytes()

// readBytes is readInto for a cache of []byte values encoded with
// codec.Bytes, whose value is the entry's payload itself: it reads with
// the store's Get, whose result is the caller's (a copy, for an
// in-process store; see store.Lender), and sets *v to the payload within
// it (see decodeOwned), so that the store's copy is the only one and no
// decode state is needed.
func (c *Cache[K, V]) readBytes(ctx context.Context, op, key string, v *[]byte) (entry.Header, error) {
	b, err := c.s.Get(ctx, key)
	if err != nil {
		return entry.Header{}, err
	}
	return c.payloadInto(op, key, b, v)
}

// decodeOwned is decodeEntry for bytes b that the caller owns (what Get or
// GetMany returned): for a cache of []byte values encoded with
// codec.Bytes, *v is then the payload within b, not a copy of it.
func (c *Cache[K, V]) decodeOwned(op, key string, b []byte, v *V) (entry.Header, error) {
	if bp, ok := any(v).(*[]byte); ok && any(c.codec) == bytesCodec {
		return c.payloadInto(op, key, b, bp)
	}
	return c.decodeEntry(op, key, b, v)
}

// payloadInto sets *v to the payload of the entry b (see entryPayload),
// which is what codec.Bytes would decode, without its copy.
func (c *Cache[K, V]) payloadInto(op, key string, b []byte, v *[]byte) (entry.Header, error) {
	h, payload, err := c.entryPayload(op, key, b)
	if err != nil || h.Negative() {
		return h, err
	}
	if payload == nil {
		payload = []byte{} // an empty value is still a value, as codec.Bytes decodes it
	}
	*v = payload
	return h, nil
}

// encodeBuffers holds *[]byte buffers for encoding values on their way to
// a store, which does not keep them (see store.Store).
var encodeBuffers = sync.Pool{New: func() any {
	b := make([]byte, 0, 512)
	return &b
}}

// maxPooledEncoding is the largest buffer (in bytes of capacity) kept for
// reuse; a larger one is left to the garbage collector so that one huge
// value does not pin its buffer.
const maxPooledEncoding = 64 << 10

// writeValue encodes v (behind the entry header unless the cache is raw)
// and stores it at key with Set, or with Add when
// add is set, with the store ttl ttl. The encoding goes into a pooled
// buffer: the store's copy (or its network write) is the only one. Errors
// are wrapped as errors of op.
func (c *Cache[K, V]) writeValue(ctx context.Context, op, key string, v V, ttl time.Duration, add bool) error {
	bp := encodeBuffers.Get().(*[]byte)
	b := (*bp)[:0]
	if !c.raw {
		b = entry.Header{Expiry: expiryAt(time.Time{}, ttl)}.Append(b)
	}
	b, err := codec.Append(c.codec, b, v)
	if err != nil {
		encodeBuffers.Put(bp)
		return store.Errorf(op, key, err)
	}
	if add {
		err = c.s.Add(ctx, key, b, ttl)
	} else {
		err = c.s.Set(ctx, key, b, ttl)
	}
	if cap(b) <= maxPooledEncoding {
		*bp = b[:0]
		encodeBuffers.Put(bp)
	}
	return store.Errorf(op, key, err)
}
