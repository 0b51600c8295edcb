package codec_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/cachet-go/cachet/codec"
)

// TestCodecs_DecodeAppend checks codec.Decode and codec.Append, through
// each codec's Decoder and Appender or through the fallback: the same
// values as Unmarshal and Marshal, Append keeps what dst held, and
// consecutive decodes (which may share pooled state) neither merge into
// nor share memory with each other.
func TestCodecs_DecodeAppend(t *testing.T) {
	t.Parallel()
	for _, uc := range userCodecs() {
		t.Run(uc.name, func(t *testing.T) {
			t.Parallel()
			want := func(u User) User {
				if uc.lossy != nil {
					return uc.lossy(sampleCopy(u))
				}
				return u
			}
			prefix := []byte("prefix")
			full, err := codec.Append(uc.c, bytes.Clone(prefix), sampleUser())
			if err != nil {
				t.Fatalf("Append: %v", err)
			}
			if !bytes.HasPrefix(full, prefix) {
				t.Fatalf("Append(dst, v): got %q...; want it to start with dst", full[:len(prefix)])
			}
			enc := full[len(prefix):]
			zeroEnc, err := codec.Append(uc.c, nil, User{})
			if err != nil || zeroEnc == nil {
				t.Fatalf("Append(nil, zero User): got %v, %v; want a non-nil encoding", zeroEnc, err)
			}

			first, err := codec.Decode(uc.c, enc)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if w := want(sampleUser()); !equalUsers(&first, &w) {
				t.Errorf("Decode(Append(sample)):\ngot  %+v\nwant %+v", first, w)
			}
			// A decode after a fuller one starts from a zero User.
			zero, err := codec.Decode(uc.c, zeroEnc)
			if err != nil {
				t.Fatalf("Decode(zero): %v", err)
			}
			if w := want(User{}); !equalUsers(&zero, &w) {
				t.Errorf("Decode(zero User) after Decode(sample):\ngot  %+v\nwant %+v", zero, w)
			}
			// A failed decode does not spoil the next.
			if _, err := codec.Decode(uc.c, enc[:len(enc)/2]); !errors.Is(err, codec.ErrDecode) {
				t.Errorf("Decode(truncated): got %v; want ErrDecode", err)
			}
			second, err := codec.Decode(uc.c, enc)
			if err != nil {
				t.Fatalf("Decode again: %v", err)
			}
			// Results share nothing.
			first.Tags[0] = "changed"
			first.Attrs["lang"] = "changed"
			first.Home.City = "changed"
			if w := want(sampleUser()); !equalUsers(&second, &w) {
				t.Errorf("second Decode after changing the first's result:\ngot  %+v\nwant %+v", second, w)
			}
		})
	}
}

func TestRawCodecs_DecodeAppend(t *testing.T) {
	t.Parallel()
	if b, err := codec.Append(codec.String(), nil, ""); b == nil || len(b) != 0 || err != nil {
		t.Errorf("Append(String, nil, \"\"): got %v, %v; want an empty non-nil slice", b, err)
	}
	if b, err := codec.Append(codec.String(), []byte("a"), "bc"); string(b) != "abc" || err != nil {
		t.Errorf("Append(String, a, bc): got %q, %v; want abc", b, err)
	}
	data := []byte("value")
	s, err := codec.Decode(codec.String(), data)
	b, err2 := codec.Decode(codec.Bytes(), data)
	data[0] = 'X'
	if s != "value" || err != nil || string(b) != "value" || err2 != nil {
		t.Errorf("Decode(String), Decode(Bytes) after the data changed: got %q, %q; want copies of \"value\"", s, b)
	}
	if b, err := codec.Decode(codec.Bytes(), []byte{}); b == nil || err != nil {
		t.Errorf("Decode(Bytes, empty): got %v, %v; want an empty non-nil slice", b, err)
	}
}

// small is a struct whose msgpack decode allocates only its string.
type small struct {
	ID   int64  `msgpack:"id"`
	Name string `msgpack:"name"`
}

// TestMsgpack_DecodeAllocs checks that decoding allocates what the value
// points to and no V: the pooled V is copied out.
func TestMsgpack_DecodeAllocs(t *testing.T) {
	c := codec.Msgpack[small]()
	enc := mustMarshal(t, c, small{ID: 1, Name: "a name"})
	if n := testing.AllocsPerRun(200, func() {
		if _, err := codec.Decode(c, enc); err != nil {
			t.Fatal(err)
		}
	}); n > 1 {
		t.Errorf("Decode of a struct with one string: %v allocations; want at most 1 (the string)", n)
	}
	buf := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(200, func() {
		if _, err := codec.Append(c, buf[:0], small{ID: 1, Name: "a name"}); err != nil {
			t.Fatal(err)
		}
	}); n > 1 {
		// The one allocation is msgpack's: Encode takes the V as an any.
		t.Errorf("Append into a large enough buffer: %v allocations; want at most 1", n)
	}
}
