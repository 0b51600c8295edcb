package entry

import (
	"bytes"
	"math"
	"testing"
)

func TestEncodeDecode(t *testing.T) {
	for _, tc := range []struct {
		name    string
		h       Header
		payload []byte
	}{
		{"value", Header{Created: 1, Delta: 2, Expiry: 3}, []byte(`{"a":1}`)},
		{"empty payload", Header{Created: 5}, nil},
		{"not found", Header{Flags: FlagNotFound, Created: 7, Expiry: 9}, nil},
		{"zero", Header{Flags: FlagZero}, nil},
		{"extremes", Header{Created: math.MinInt64, Delta: math.MaxInt64, Expiry: -1}, []byte{0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := Encode(tc.h, tc.payload)
			if len(b) != HeaderLen+len(tc.payload) || cap(b) != len(b) {
				t.Fatalf("len, cap = %d, %d; want %d, %d", len(b), cap(b), HeaderLen+len(tc.payload), HeaderLen+len(tc.payload))
			}
			h, p, ok := Decode(b)
			if !ok || h != tc.h || !bytes.Equal(p, tc.payload) {
				t.Fatalf("Decode = %+v, %q, %v; want %+v, %q, true", h, p, ok, tc.h, tc.payload)
			}
		})
	}
}

// The layout is a stored format: pin it byte for byte.
func TestEncode_Layout(t *testing.T) {
	b := Encode(Header{Flags: FlagZero, Created: 0x0102030405060708, Delta: 0x10, Expiry: 0x20}, nil)
	want := []byte{
		0xC7, 1, 2,
		1, 2, 3, 4, 5, 6, 7, 8,
		0, 0, 0, 0, 0, 0, 0, 0x10,
		0, 0, 0, 0, 0, 0, 0, 0x20,
	}
	if !bytes.Equal(b, want) {
		t.Fatalf("Encode = % x; want % x", b, want)
	}
}

func TestDecode_Rejects(t *testing.T) {
	valid := Encode(Header{Created: 1}, []byte("v"))
	with := func(i int, c byte) []byte {
		b := bytes.Clone(valid)
		b[i] = c
		return b
	}
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"nil", nil},
		{"plain codec output", []byte(`"hello"`)},
		{"magic only", []byte{Magic}},
		{"short header", valid[:HeaderLen-1]},
		{"other magic", with(0, 0xC8)},
		{"later version", with(1, Version+1)},
		{"unknown flag", with(2, 1<<2)},
		{"not found with payload", append(Encode(Header{Flags: FlagNotFound}, nil), 'x')},
		{"zero with payload", append(Encode(Header{Flags: FlagZero}, nil), 'x')},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if h, p, ok := Decode(tc.b); ok {
				t.Fatalf("Decode(% x) = %+v, %q, true; want not an entry", tc.b, h, p)
			}
		})
	}
}

func TestHeader_Negative(t *testing.T) {
	for _, tc := range []struct {
		flags byte
		want  bool
	}{{0, false}, {FlagNotFound, true}, {FlagZero, true}, {FlagNotFound | FlagZero, true}} {
		if got := (Header{Flags: tc.flags}).Negative(); got != tc.want {
			t.Errorf("Header{Flags: %b}.Negative() = %v; want %v", tc.flags, got, tc.want)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("plain"))
	f.Add(Encode(Header{Created: 1, Delta: 2, Expiry: 3}, []byte("payload")))
	f.Add(Encode(Header{Flags: FlagNotFound}, nil))
	f.Add(Encode(Header{Flags: FlagZero, Expiry: -1}, nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, p, ok := Decode(b) // must not panic
		if !ok {
			if p != nil || h != (Header{}) {
				t.Fatalf("Decode(% x) = %+v, %q, false; want zero results", b, h, p)
			}
			return
		}
		// Round trip: what decodes re-encodes to the same bytes.
		if got := Encode(h, p); !bytes.Equal(got, b) {
			t.Fatalf("Encode(Decode(% x)) = % x", b, got)
		}
		if h.Negative() && len(p) != 0 {
			t.Fatalf("negative entry with payload %q", p)
		}
	})
}
