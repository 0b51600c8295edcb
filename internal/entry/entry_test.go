package entry

import (
	"bytes"
	"errors"
	"testing"
)

func TestEncodeDecode(t *testing.T) {
	for _, tc := range []struct {
		name    string
		h       Header
		payload []byte
		wantLen int // header bytes
	}{
		{"plain value", Header{}, []byte(`{"a":1}`), 3},
		{"empty payload", Header{}, nil, 3},
		{"with delta and expiry", Header{Delta: 2_000_000, Expiry: 1_700_000_000_123_000_000}, []byte(`{"a":1}`), 3 + 3 + 6},
		{"stale kept", Header{Flags: FlagStale, Expiry: 5_000_000}, []byte("v"), 4},
		{"not found", Header{Flags: FlagNotFound, Expiry: 9_000_000}, nil, 4},
		{"zero", Header{Flags: FlagZero}, nil, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := Encode(tc.h, tc.payload)
			if got := len(b) - len(tc.payload); got != tc.wantLen {
				t.Fatalf("header is %d bytes; want %d", got, tc.wantLen)
			}
			h, p, err := Decode(b)
			want := tc.h
			if want.Delta > 0 {
				want.Flags |= FlagDelta
			}
			if want.Expiry > 0 {
				want.Flags |= FlagExpiry
			}
			if err != nil || h != want || !bytes.Equal(p, tc.payload) {
				t.Fatalf("Decode = %+v, %q, %v; want %+v, %q, nil", h, p, err, want, tc.payload)
			}
		})
	}
}

// The expiry is kept to the millisecond, rounded up, so that an entry is
// never seen as expired before the ttl it was written with.
func TestEncode_ExpiryRoundsUp(t *testing.T) {
	h, _, err := Decode(Encode(Header{Expiry: 1_000_001}, nil))
	if err != nil || h.Expiry != 2_000_000 {
		t.Fatalf("Expiry = %d, %v; want 2000000, nil", h.Expiry, err)
	}
}

// The layout is a stored format: pin it byte for byte.
func TestEncode_Layout(t *testing.T) {
	b := Encode(Header{Flags: FlagZero, Delta: 0x10, Expiry: 0x20 * 1_000_000}, []byte{})
	want := []byte{0xC7, 2, FlagZero | FlagDelta | FlagExpiry, 0x10, 0x20}
	if !bytes.Equal(b, want) {
		t.Fatalf("Encode = % x; want % x", b, want)
	}
	if b := Encode(Header{}, []byte("v")); !bytes.Equal(b, []byte{0xC7, 2, 0, 'v'}) {
		t.Fatalf("Encode = % x; want c7 02 00 76", b)
	}
}

func TestDecode_Rejects(t *testing.T) {
	valid := Encode(Header{Delta: 300, Expiry: 1_000_000_000}, []byte("v"))
	with := func(i int, c byte) []byte {
		b := bytes.Clone(valid)
		b[i] = c
		return b
	}
	for _, tc := range []struct {
		name    string
		b       []byte
		foreign bool
	}{
		{"nil", nil, true},
		{"plain codec output", []byte(`"hello"`), true},
		{"counter", []byte("42"), true},
		{"other magic", with(0, 0xC8), true},
		{"magic only", []byte{Magic}, false},
		{"magic and version", []byte{Magic, Version}, false},
		{"truncated delta", valid[:4], false},
		{"truncated expiry", valid[:6], false},
		{"older version", with(1, 1), false},
		{"later version", with(1, Version+1), false},
		{"unknown flag", with(2, 1<<7), false},
		{"not found with payload", append(Encode(Header{Flags: FlagNotFound}, nil), 'x'), false},
		{"zero with payload", append(Encode(Header{Flags: FlagZero}, nil), 'x'), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, p, err := Decode(tc.b)
			if err == nil {
				t.Fatalf("Decode(% x) = %+v, %q, nil; want an error", tc.b, h, p)
			}
			if errors.Is(err, ErrNotEntry) != tc.foreign {
				t.Fatalf("Decode(% x) error %q: errors.Is(ErrNotEntry) = %v; want %v", tc.b, err, !tc.foreign, tc.foreign)
			}
		})
	}
}

func TestHeader_Negative(t *testing.T) {
	for _, tc := range []struct {
		flags byte
		want  bool
	}{{0, false}, {FlagDelta | FlagExpiry | FlagStale, false}, {FlagNotFound, true}, {FlagZero, true}, {FlagNotFound | FlagZero, true}} {
		if got := (Header{Flags: tc.flags}).Negative(); got != tc.want {
			t.Errorf("Header{Flags: %b}.Negative() = %v; want %v", tc.flags, got, tc.want)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("plain"))
	f.Add(Encode(Header{Delta: 2, Expiry: 3_000_000}, []byte("payload")))
	f.Add(Encode(Header{Flags: FlagNotFound}, nil))
	f.Add(Encode(Header{Flags: FlagZero | FlagStale, Expiry: 1}, nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, p, err := Decode(b) // must not panic
		if err != nil {
			if p != nil || h != (Header{}) {
				t.Fatalf("Decode(% x) = %+v, %q, %v; want zero results", b, h, p, err)
			}
			return
		}
		if h.Negative() && len(p) != 0 {
			t.Fatalf("negative entry with payload %q", p)
		}
		// Round trip: what decodes re-encodes to a header that decodes
		// the same.
		h2, p2, err := Decode(Encode(h, p))
		if err != nil || h2 != h || !bytes.Equal(p2, p) {
			t.Fatalf("Decode(Encode(Decode(% x))) = %+v, %q, %v; want %+v, %q", b, h2, p2, err, h, p)
		}
	})
}
