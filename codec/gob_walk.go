package codec

import (
	"encoding"
	"encoding/gob"
	"errors"
	"fmt"
	"reflect"
	"unicode"
	"unicode/utf8"
)

// checkGob walks data as encoding/gob's Decoder would read one value of
// type local from it (type definitions, then the value, including the
// values inside interfaces), without decoding anything, and reports a
// count that claims more elements or bytes than the input still holds.
//
// encoding/gob sizes a map from its stored count (make(map, n)) and a
// slice from its count up to 10 MB before it reads an element, so that a
// few bytes can claim gigabytes (issue 12). Every element takes at least
// one byte of input, so once every count is checked against the bytes
// that remain, what gob allocates is bounded by the input's size (times
// the size of an element of the local type).
//
// The walk follows gob's wire types, which decide how many bytes each
// value takes whatever the local type. The one place where gob reads the
// same bytes two ways is an interface value: decoded, its concrete value
// is parsed; in a struct field the local type does not have (skipped), it
// is dropped by its byte count, and a nil one is followed by a type
// sequence. So the walk tracks the local type while it is known, and
// where a value may be skipped it requires both readings to agree, or
// rejects the input. Anything else it does not understand is rejected
// too: this only ever refuses input gob would also refuse, or the rare
// value gob itself could misread when skipping it.
func checkGob(data []byte, local reflect.Type) error {
	w := gobWalker{data: data}
	return w.top(local)
}

// Type ids gob predefines (encoding/gob's type.go).
const (
	gobIDBool      = 1
	gobIDInt       = 2
	gobIDUint      = 3
	gobIDFloat     = 4
	gobIDBytes     = 5
	gobIDString    = 6
	gobIDComplex   = 7
	gobIDInterface = 8
	gobFirstUser   = 64
	// gobTooBig is encoding/gob's limit on a message or length.
	gobTooBig = (1 << 30) << (^uint(0) >> 62)
)

// Kinds of wire type, the one pointer set in gob's wireType.
const (
	wireArray = iota + 1
	wireSlice
	wireStruct
	wireMap
	wireGobEncoder // GobEncoder, BinaryMarshaler or TextMarshaler: bytes
)

// gobType is a wire type defined in the stream.
type gobType struct {
	kind      int
	elem, key int32 // array, slice, map
	len       int64 // array
	fields    []gobField
}

// gobField is a struct field of a wire type; its name is data[name0:name1].
type gobField struct {
	name0, name1 int
	id           int32
}

type gobWalker struct {
	data  []byte
	pos   int // next byte
	end   int // end of the current message
	msgs  int // messages read: a change means the buffer was refilled
	types map[int32]*gobType
	depth int
}

var errGobUnexpectedEnd = errors.New("gob: value runs past the end of its message")

func (w *gobWalker) errorf(format string, args ...any) error {
	return fmt.Errorf("gob: "+format+" at offset %d", append(args, w.pos)...)
}

// uint reads an unsigned integer inside the current message.
func (w *gobWalker) uint() (uint64, error) {
	v, size, err := gobUint(w.data[w.pos:w.end])
	if err != nil {
		if errors.Is(err, errGobTruncated) {
			return 0, errGobUnexpectedEnd
		}
		return 0, err
	}
	w.pos += size
	return v, nil
}

// int reads a signed integer inside the current message.
func (w *gobWalker) int() (int64, error) {
	u, err := w.uint()
	if u&1 != 0 {
		return ^int64(u >> 1), err
	}
	return int64(u >> 1), err
}

// length reads a byte count as gob's getLength does and skips the bytes.
func (w *gobWalker) length(what string) error {
	n, err := w.uint()
	if err != nil {
		return err
	}
	if left := uint64(w.end - w.pos); n > left || n >= gobTooBig {
		return w.errorf("%s of %d bytes, but only %d bytes follow", what, n, left)
	}
	w.pos += int(n)
	return nil
}

// count reads an element count and checks that the input can hold that
// many elements of at least per bytes each. what formats the count.
func (w *gobWalker) count(what string, per uint64) (int, error) {
	n, err := w.uint()
	if err != nil {
		return 0, err
	}
	// Elements of interface type may continue in later messages, so the
	// bound is the whole input that remains.
	if left := uint64(len(w.data) - w.pos); n > left/per {
		return 0, w.errorf(what+", but only %d bytes follow", n, left)
	}
	return int(n), nil
}

// message starts the next message, as the decoder's recvMessage.
func (w *gobWalker) message() error {
	if w.pos >= len(w.data) {
		return errGobTruncated
	}
	n, size, err := gobUint(w.data[w.pos:])
	if err != nil {
		return err
	}
	w.pos += size
	if left := uint64(len(w.data) - w.pos); n > left {
		return fmt.Errorf("gob: message of %d bytes at offset %d, but only %d bytes follow", n, w.pos-size, left)
	}
	w.end = w.pos + int(n)
	w.msgs++
	return nil
}

// top walks what Decoder.Decode reads: a type sequence, then one value.
func (w *gobWalker) top(local reflect.Type) error {
	id, err := w.typeSequence(false)
	if err != nil {
		return err
	}
	return w.value(id, local, false)
}

// typeSequence walks type definitions up to a value's type id, as the
// decoder's decodeTypeSequence.
func (w *gobWalker) typeSequence(inInterface bool) (int32, error) {
	for {
		for w.pos == w.end {
			if err := w.message(); err != nil {
				return 0, err
			}
		}
		v, err := w.int()
		if err != nil {
			return 0, err
		}
		id := int32(v) // gob's typeId is an int32
		if id >= 0 {
			return id, nil
		}
		if err := w.defineType(-id); err != nil {
			return 0, err
		}
		if w.pos < w.end {
			if !inInterface {
				return 0, w.errorf("extra data after a type definition")
			}
			if _, err := w.uint(); err != nil {
				return 0, err
			}
		}
	}
}

// value walks a value of wire type id at the top of a message or of an
// interface: a struct as such, anything else after a zero field delta.
func (w *gobWalker) value(id int32, local reflect.Type, skipped bool) error {
	t, err := w.lookup(id)
	if err != nil {
		return err
	}
	if t != nil && t.kind == wireStruct {
		return w.structValue(t, local, skipped)
	}
	if d, err := w.uint(); err != nil || d != 0 {
		if err == nil {
			err = w.errorf("non-zero field delta %d before a single value", d)
		}
		return err
	}
	return w.walk(id, local, skipped)
}

// lookup returns the definition of a user type id, nil for a basic one.
func (w *gobWalker) lookup(id int32) (*gobType, error) {
	if id >= gobIDBool && id <= gobIDInterface {
		return nil, nil
	}
	if t := w.types[id]; t != nil {
		return t, nil
	}
	return nil, w.errorf("unknown type id %d", id)
}

const gobMaxNesting = maxNesting

// walk walks a value of type id. local is the Go type gob decodes it
// into, nil if not known; skipped tells that gob may be skipping it.
func (w *gobWalker) walk(id int32, local reflect.Type, skipped bool) error {
	w.depth++
	defer func() { w.depth-- }()
	if w.depth > gobMaxNesting {
		return w.errorf("value nested deeper than %d levels", gobMaxNesting)
	}
	local = gobBase(local)
	switch id {
	case gobIDBool, gobIDInt, gobIDUint, gobIDFloat:
		_, err := w.uint()
		return err
	case gobIDComplex:
		if _, err := w.uint(); err != nil {
			return err
		}
		_, err := w.uint()
		return err
	case gobIDBytes:
		return w.length("byte slice")
	case gobIDString:
		return w.length("string")
	case gobIDInterface:
		return w.iface(skipped)
	}
	t, err := w.lookup(id)
	if err != nil {
		return err
	}
	var elem reflect.Type
	if local != nil {
		switch local.Kind() {
		case reflect.Array, reflect.Slice, reflect.Map:
			elem = local.Elem()
		}
	}
	switch t.kind {
	case wireGobEncoder:
		return w.length("GobEncoder value")
	case wireStruct:
		return w.structValue(t, local, skipped)
	case wireArray:
		n, err := w.uint()
		if err != nil {
			return err
		}
		if n != uint64(t.len) {
			return w.errorf("array of %d elements, but its type has %d", n, t.len)
		}
		if left := uint64(len(w.data) - w.pos); n > left {
			return w.errorf("array of %d elements, but only %d bytes follow", n, left)
		}
		for range n {
			if err := w.walk(t.elem, elem, skipped); err != nil {
				return err
			}
		}
		return nil
	case wireSlice:
		n, err := w.count("slice of %d elements", 1)
		if err != nil {
			return err
		}
		for range n {
			if err := w.walk(t.elem, elem, skipped); err != nil {
				return err
			}
		}
		return nil
	case wireMap:
		n, err := w.count("map of %d entries", 2)
		if err != nil {
			return err
		}
		var key reflect.Type
		if elem != nil {
			key = local.Key()
		}
		for range n {
			if err := w.walk(t.key, key, skipped); err != nil {
				return err
			}
			if err := w.walk(t.elem, elem, skipped); err != nil {
				return err
			}
		}
		return nil
	}
	return w.errorf("invalid type %d", id)
}

// structValue walks a struct: field deltas and values up to a zero delta
// or the end of the message.
func (w *gobWalker) structValue(t *gobType, local reflect.Type, skipped bool) error {
	local = gobBase(local)
	if local != nil && local.Kind() != reflect.Struct {
		local = nil // gob refuses to decode it; assume nothing
	}
	field := -1
	for w.pos < w.end {
		d, err := w.uint()
		if err != nil {
			return err
		}
		if d == 0 {
			return nil
		}
		if d > uint64(len(t.fields)-1-field) {
			return w.errorf("field delta %d past the %d fields of the struct", d, len(t.fields))
		}
		field += int(d)
		f := t.fields[field]
		var ft reflect.Type
		fskipped := skipped
		if local != nil {
			name := string(w.data[f.name0:f.name1])
			r, _ := utf8.DecodeRuneInString(name)
			if lf, ok := local.FieldByName(name); ok && unicode.IsUpper(r) {
				ft = lf.Type
			} else {
				fskipped = true // gob skips the field
			}
		} else {
			fskipped = true // the Go type is unknown, so the field may be skipped
		}
		if err := w.walk(f.id, ft, fskipped); err != nil {
			return err
		}
	}
	return nil
}

// iface walks an interface value: the concrete type's name, a type
// sequence, the byte count of the value, and the value.
func (w *gobWalker) iface(skipped bool) error {
	n, err := w.uint()
	if err != nil {
		return err
	}
	if left := uint64(w.end - w.pos); n > left {
		return w.errorf("interface type name of %d bytes, but only %d bytes follow", n, left)
	}
	if n > 1024 {
		return w.errorf("interface type name of %d bytes", n)
	}
	w.pos += int(n)
	if n == 0 {
		if skipped {
			// A skipped nil interface value is read as a type sequence and
			// a byte count, which a decoded one is not.
			return w.errorf("nil interface value where gob may skip it")
		}
		return nil
	}
	id, err := w.typeSequence(true)
	if err != nil {
		return err
	}
	size, err := w.uint()
	if err != nil {
		return err
	}
	start, msgs := w.pos, w.msgs
	if err := w.value(id, nil, false); err != nil {
		return err
	}
	if skipped && (w.msgs != msgs || uint64(w.pos-start) != size) {
		// Skipped, gob drops size bytes and goes on from there.
		return w.errorf("interface value of %d bytes that holds %d", size, w.pos-start)
	}
	return nil
}

// gobBase returns t without its pointers, or nil if gob decodes t through
// one of its own decoding methods (then its contents are unknown).
func gobBase(t reflect.Type) reflect.Type {
	for t != nil {
		p := reflect.PointerTo(t)
		if t.Implements(gobDecoderType) || p.Implements(gobDecoderType) ||
			t.Implements(binaryUnmarshalerType) || p.Implements(binaryUnmarshalerType) ||
			t.Implements(textUnmarshalerType) || p.Implements(textUnmarshalerType) {
			return nil
		}
		if t.Kind() != reflect.Pointer {
			return t
		}
		t = t.Elem()
	}
	return nil
}

var (
	gobDecoderType        = reflect.TypeFor[gob.GobDecoder]()
	binaryUnmarshalerType = reflect.TypeFor[encoding.BinaryUnmarshaler]()
	textUnmarshalerType   = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// defineType reads the definition of type id (a gob wireType value) in
// the current message.
func (w *gobWalker) defineType(id int32) error {
	if id < gobFirstUser || w.types[id] != nil {
		return w.errorf("type id %d defined twice or reserved", id)
	}
	t := &gobType{}
	var kinds int
	err := w.wireStruct(7, func(field int) error {
		kinds++
		switch field {
		case 0: // ArrayT: CommonType, Elem, Len
			t.kind = wireArray
			return w.wireStruct(3, func(f int) (err error) {
				switch f {
				case 0:
					return w.commonType()
				case 1:
					t.elem, err = w.typeID()
				default:
					t.len, err = w.int()
				}
				return err
			})
		case 1: // SliceT: CommonType, Elem
			t.kind = wireSlice
			return w.wireStruct(2, func(f int) (err error) {
				if f == 0 {
					return w.commonType()
				}
				t.elem, err = w.typeID()
				return err
			})
		case 2: // StructT: CommonType, Field []fieldType
			t.kind = wireStruct
			return w.wireStruct(2, func(f int) error {
				if f == 0 {
					return w.commonType()
				}
				n, err := w.count("struct type of %d fields", 1)
				if err != nil {
					return err
				}
				t.fields = make([]gobField, n)
				for i := range t.fields {
					fl := &t.fields[i]
					err := w.wireStruct(2, func(f int) (err error) {
						if f == 0 {
							n, err := w.uint()
							if err != nil {
								return err
							}
							fl.name0 = w.pos
							err = w.length2(n)
							fl.name1 = w.pos
							return err
						}
						fl.id, err = w.typeID()
						return err
					})
					if err != nil {
						return err
					}
					if fl.name0 == fl.name1 {
						return w.errorf("struct field without a name")
					}
				}
				return nil
			})
		case 3: // MapT: CommonType, Key, Elem
			t.kind = wireMap
			return w.wireStruct(3, func(f int) (err error) {
				switch f {
				case 0:
					return w.commonType()
				case 1:
					t.key, err = w.typeID()
				default:
					t.elem, err = w.typeID()
				}
				return err
			})
		default: // GobEncoderT, BinaryMarshalerT, TextMarshalerT: CommonType
			t.kind = wireGobEncoder
			return w.wireStruct(1, func(int) error { return w.commonType() })
		}
	})
	if err != nil {
		return err
	}
	if kinds != 1 {
		return w.errorf("type %d defined as %d kinds of type", id, kinds)
	}
	if w.types == nil {
		w.types = make(map[int32]*gobType)
	}
	w.types[id] = t
	return nil
}

// length2 skips n bytes of a string whose length was read already.
func (w *gobWalker) length2(n uint64) error {
	if left := uint64(w.end - w.pos); n > left || n >= gobTooBig {
		return w.errorf("string of %d bytes, but only %d bytes follow", n, left)
	}
	w.pos += int(n)
	return nil
}

// wireStruct walks a struct of one of gob's own types with nfields fields,
// calling field for each field present.
func (w *gobWalker) wireStruct(nfields int, field func(int) error) error {
	w.depth++
	defer func() { w.depth-- }()
	if w.depth > gobMaxNesting {
		return w.errorf("value nested deeper than %d levels", gobMaxNesting)
	}
	f := -1
	for w.pos < w.end {
		d, err := w.uint()
		if err != nil {
			return err
		}
		if d == 0 {
			return nil
		}
		if d > uint64(nfields-1-f) {
			return w.errorf("field delta %d past the %d fields of a type definition", d, nfields)
		}
		f += int(d)
		if err := field(f); err != nil {
			return err
		}
	}
	return nil
}

// commonType walks a gob CommonType: Name string, Id typeId.
func (w *gobWalker) commonType() error {
	return w.wireStruct(2, func(f int) error {
		if f == 0 {
			return w.length("type name")
		}
		_, err := w.typeID()
		return err
	})
}

// typeID reads a type id, an int32.
func (w *gobWalker) typeID() (int32, error) {
	v, err := w.int()
	if err != nil {
		return 0, err
	}
	if v != int64(int32(v)) {
		return 0, w.errorf("type id %d out of range", v)
	}
	return int32(v), nil
}
