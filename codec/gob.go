package codec

import (
	"bytes"
	"encoding/gob"
	"fmt"
	"reflect"
)

// Gob returns a Codec that encodes V with encoding/gob.
//
// Every value is encoded by a fresh gob.Encoder, so that each stored value
// is self-describing: it carries the description of its type and any
// process can decode it on its own, in any order. The price is size and
// time: the type description is repeated in every value (for a small
// struct it is larger than the data) and building it costs several
// microseconds per Marshal and Unmarshal (see the package's Performance
// section). Prefer Msgpack or JSON unless you need gob's handling of
// types (gob.GobEncoder, registered interface values).
//
// Gob's own rules apply. Values are flattened: pointers are followed, and
// zero numbers, strings and empty slices are not transmitted, so a *int
// pointing to 0 decodes as nil and an empty slice as nil (an empty map
// and a pointer to a zero struct do come back as such). Struct fields of chan or func type are ignored like
// unexported fields; a chan or func V, a nil pointer V, a struct with no
// exported fields, or an interface value of an unregistered type give
// ErrEncode. An interface-typed V (such as any) is encoded as an interface
// value, so its concrete types must be registered with gob.Register.
// time.Time keeps its instant and offset but not its location name.
//
// Unmarshal decodes into a fresh V and stores it in *v only on success,
// so *v is replaced rather than merged into, and left unchanged on
// failure. Trailing data after the value is an error (ErrDecode), and so
// is a panic inside the gob decoder, should corrupt input trigger one.
//
// encoding/gob trusts the counts it reads (as of Go 1.26 it makes a map
// of the stored size, and a slice of up to 10 MB, before reading an
// element), so Unmarshal first walks the input as gob would, type
// definitions and interface values included, without decoding it, and
// rejects a count larger than the bytes that remain: what it then
// allocates is bounded by the input's size, as with the other codecs.
// The walk refuses (ErrDecode) two kinds of value gob can write but not
// reliably read back: inside an interface value, a struct whose field
// holds an interface value of a type first described there, or a nil
// element of an interface-typed slice or map. gob reads such a field two
// ways, depending on whether the registered type has it, and the walk
// cannot tell which (when the field is one gob skips, gob itself fails on
// them).
//
// The codec is safe for concurrent use.
func Gob[V any]() Codec[V] {
	return gobCodec[V]{}
}

type gobCodec[V any] struct{}

func (gobCodec[V]) Marshal(v V) ([]byte, error) {
	// EncodeValue of the V itself (not of v boxed in an any) keeps an
	// interface-typed V an interface value in the stream, which is what
	// decoding into a *V then expects.
	rv := reflect.ValueOf(&v).Elem()
	// gob panics on a nil pointer at the top level; report it instead.
	for p := rv; p.Kind() == reflect.Pointer; p = p.Elem() {
		if p.IsNil() {
			return nil, encodeError(fmt.Errorf("gob: cannot encode nil pointer of type %s", p.Type()))
		}
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).EncodeValue(rv); err != nil {
		return nil, encodeError(err)
	}
	return buf.Bytes(), nil
}

func (gobCodec[V]) Unmarshal(data []byte, v *V) error {
	if v == nil {
		return decodeError(errNilTarget)
	}
	if err := checkGobFraming(data); err != nil {
		return decodeError(err)
	}
	if err := checkGob(data, reflect.TypeFor[V]()); err != nil {
		return decodeError(err)
	}
	// bytes.Reader is an io.ByteReader, so the decoder reads it without
	// buffering and its Len tells what was left unread.
	r := bytes.NewReader(data)
	var tmp V
	dec := gob.NewDecoder(r)
	if err := decodeNoPanic("gob", func() error { return dec.Decode(&tmp) }); err != nil {
		return decodeError(err)
	}
	if r.Len() != 0 {
		return decodeError(fmt.Errorf("%w (%d bytes)", errTrailingData, r.Len()))
	}
	*v = tmp
	return nil
}
