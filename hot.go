package cachet

import (
	"context"
	"sync"
	"time"

	"github.com/cachet-go/cachet/codec"
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
type decodeCall[V any] struct {
	codec codec.Codec[V]
	v     V
	f     func([]byte) error
}

func (d *decodeCall[V]) decode(b []byte) (err error) {
	d.v, err = codec.Decode(d.codec, b)
	return err
}

// readValue reads key through the cache's store and decodes its value.
// The store's error is returned as it is, and so is the codec's.
func (c *Cache[K, V]) readValue(ctx context.Context, key string) (V, error) {
	d, _ := c.decodes.Get().(*decodeCall[V])
	if d == nil {
		d = &decodeCall[V]{codec: c.codec}
		d.f = d.decode
	}
	err := store.GetFunc(ctx, c.s, key, d.f)
	v := d.v
	var zero V
	d.v = zero // do not keep what the value points to alive
	c.decodes.Put(d)
	return v, err
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

// writeValue encodes v and stores it at key with Set, or with Add when
// add is set, with the store ttl ttl. The encoding goes into a pooled
// buffer: the store's copy (or its network write) is the only one. Errors
// are wrapped as errors of op.
func (c *Cache[K, V]) writeValue(ctx context.Context, op, key string, v V, ttl time.Duration, add bool) error {
	bp := encodeBuffers.Get().(*[]byte)
	b, err := codec.Append(c.codec, (*bp)[:0], v)
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
