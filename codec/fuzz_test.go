package codec_test

import (
	"bytes"
	"compress/flate"
	"errors"
	"math"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/cachet-go/cachet/codec"
)

// fuzzUser builds a User from fuzzer-chosen parts.
func fuzzUser(id int64, name, tag, key, val string, rating float64, nanos int64, n int) User {
	u := User{
		ID:      id,
		Name:    name,
		Rating:  rating,
		Active:  n%2 == 0,
		Created: time.Unix(0, nanos).UTC(),
		Tags:    []string{tag, name},
		Attrs:   map[string]string{key: val},
		Scores:  map[string][]int{val: {n, -n}},
	}
	if n%3 == 0 {
		u.Home = &Address{Street: val, City: key, Geo: []float64{rating}}
	}
	if n%5 == 0 {
		u.Past = []Address{{Street: tag}}
		u.Manager = &User{ID: -id, Name: key}
	}
	return u
}

// seedUsers adds the seed corpus shared by the User fuzz targets.
func seedUsers(f *testing.F) {
	f.Add(int64(42), "Zoë", "admin", "lang", "sv", 4.5, int64(1700000000123456789), 3, []byte(`{"id":1,"name":"a","tags":["x"],"attrs":{"k":"v"}}`))
	f.Add(int64(0), "", "", "", "", 0.0, int64(0), 0, []byte{})
	f.Add(int64(math.MinInt64), "\xff\x00", "\u2028", "<&>", "\"\\", -1e308, int64(-1), 15, []byte{0x81, 0xa2, 'i', 'd', 0x01})
	f.Add(int64(1), "n", "t", "k", "v", math.Inf(1), int64(math.MaxInt64), 5, []byte{0x01, 0x00, 0x00, 0xff, 0xff})
	f.Add(int64(7), "x", "y", "z", "w", math.NaN(), int64(86400e9), 30, []byte("\x0e\xff\x81\x03\x01\x01\x04User\x01\xff\x82\x00\x01\x01\x02ID\x01\x04\x00\x00\x00\x07\xff\x82\x01\x0e\x00"))
	f.Add(int64(-5), "a", "b", "c", "d", 1.5, int64(5), 2, []byte("null"))
	f.Add(int64(3), "", "", "", "", 0.0, int64(0), 1, []byte{0xc0})
	// msgpack v5.4.1 panics on this (an array-encoded User with nil for
	// the time.Time field); Msgpack must turn that into ErrDecode.
	f.Add(int64(1), "0", "0", "0", "0", math.Inf(1), int64(math.MaxInt64), 134, []byte("\x9d0\xc0\xc00\xc0\xc0"))
	// Values whose headers claim far more than they hold (issue 12).
	for _, data := range hostileSeeds("") {
		f.Add(int64(2), "h", "o", "s", "t", 0.5, int64(0), 4, data)
	}
}

// fuzzDecode checks that Unmarshal of arbitrary bytes never panics, fails
// only with ErrDecode leaving *v alone, and that whatever it accepts
// re-encodes and decodes again to the same value.
//
// It also checks the memory ceiling: the decode allocates at most
// budget(len(data)) bytes, whatever the bytes claim. A nil budget skips
// that check.
func fuzzDecode[V any](t *testing.T, c codec.Codec[V], data []byte, equal func(a, b *V) bool, sentinel V, budget func(int) uint64) {
	t.Helper()
	v := sentinel
	var err error
	n := allocated(func() { err = c.Unmarshal(data, &v) })
	if budget != nil && n > budget(len(data)) {
		t.Fatalf("Unmarshal of %d bytes (%q) allocated %d bytes; want at most %d", len(data), truncate(data), n, budget(len(data)))
	}
	if err != nil {
		if !errors.Is(err, codec.ErrDecode) {
			t.Fatalf("Unmarshal(%q) error = %v; want ErrDecode", data, err)
		}
		if !equal(&v, &sentinel) {
			t.Fatalf("failed Unmarshal(%q) modified *v", data)
		}
		return
	}
	b, err := c.Marshal(v)
	if err != nil {
		if errors.Is(err, codec.ErrEncode) {
			return // e.g. gob: a decoded value it cannot encode (nil pointer)
		}
		t.Fatalf("Marshal of a decoded value: %v; want nil or ErrEncode", err)
	}
	var w V
	if err := c.Unmarshal(b, &w); err != nil {
		t.Fatalf("Unmarshal of a re-encoded value: %v", err)
	}
	if !equal(&w, &v) {
		t.Fatalf("decode(encode(decode(%q))) differs from decode(%q)", data, data)
	}
}

// truncate returns the start of data, for error messages.
func truncate(data []byte) []byte {
	return data[:min(len(data), 64)]
}

// fuzzRoundTrip checks Marshal then Unmarshal gives want.
func fuzzRoundTrip[V any](t *testing.T, c codec.Codec[V], in V, want V, equal func(a, b *V) bool) {
	t.Helper()
	b, err := c.Marshal(in)
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	if b == nil {
		t.Fatal("Marshal returned nil")
	}
	var got V
	if err := c.Unmarshal(b, &got); err != nil {
		t.Fatalf("Unmarshal of Marshal's output: %v", err)
	}
	if !equal(&got, &want) {
		t.Fatalf("round trip:\ngot  %+v\nwant %+v", got, want)
	}
}

// sameFloatUsers is equalUsers where NaN equals NaN.
func sameFloatUsers(a, b *User) bool {
	if math.IsNaN(a.Rating) && math.IsNaN(b.Rating) {
		x, y := *a, *b
		x.Rating, y.Rating = 0, 0
		if x.Home != nil && y.Home != nil && len(x.Home.Geo) == 1 && len(y.Home.Geo) == 1 {
			hx, hy := *x.Home, *y.Home
			hx.Geo, hy.Geo = nil, nil
			x.Home, y.Home = &hx, &hy
		}
		return equalUsers(&x, &y)
	}
	return equalUsers(a, b)
}

var sentinelUser = User{ID: 12345, Name: "sentinel"}

func FuzzJSON(f *testing.F) {
	seedUsers(f)
	c := codec.JSON[User]()
	f.Fuzz(func(t *testing.T, id int64, name, tag, key, val string, rating float64, nanos int64, n int, data []byte) {
		fuzzDecode(t, c, data, equalUsers, sentinelUser, decodeBudget)
		u := fuzzUser(id, name, tag, key, val, rating, nanos, n)
		if math.IsNaN(rating) || math.IsInf(rating, 0) {
			if _, err := c.Marshal(u); !errors.Is(err, codec.ErrEncode) {
				t.Fatalf("Marshal with rating %v: error = %v; want ErrEncode", rating, err)
			}
			return
		}
		for _, s := range []string{name, tag, key, val} {
			if !utf8.ValidString(s) {
				return // JSON replaces invalid UTF-8 (documented); covered by TestJSON_InvalidUTF8
			}
		}
		fuzzRoundTrip(t, c, u, u, equalUsers)
	})
}

func FuzzMsgpack(f *testing.F) {
	seedUsers(f)
	c := codec.Msgpack[User]()
	f.Fuzz(func(t *testing.T, id int64, name, tag, key, val string, rating float64, nanos int64, n int, data []byte) {
		fuzzDecode(t, c, data, sameFloatUsers, sentinelUser, decodeBudget)
		u := fuzzUser(id, name, tag, key, val, rating, nanos, n)
		fuzzRoundTrip(t, c, u, u, sameFloatUsers)
	})
}

func FuzzGob(f *testing.F) {
	seedUsers(f)
	c := codec.Gob[User]()
	f.Fuzz(func(t *testing.T, id int64, name, tag, key, val string, rating float64, nanos int64, n int, data []byte) {
		fuzzDecode(t, c, data, sameFloatUsers, sentinelUser, decodeBudget)
		u := fuzzUser(id, name, tag, key, val, rating, nanos, n)
		fuzzRoundTrip(t, c, u, gobFlatten(u), sameFloatUsers)
	})
}

func FuzzString(f *testing.F) {
	f.Add("", []byte{})
	f.Add("hello", []byte("world"))
	f.Add("\xff\x00日本", []byte{0, 0xff})
	c := codec.String()
	eq := func(a, b *string) bool { return *a == *b }
	f.Fuzz(func(t *testing.T, s string, data []byte) {
		fuzzRoundTrip(t, c, s, s, eq)
		var got string
		if err := c.Unmarshal(data, &got); err != nil || got != string(data) {
			t.Fatalf("Unmarshal(%q) = %q, %v; want the same bytes, nil", data, got, err)
		}
	})
}

func FuzzBytes(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("hello"))
	f.Add([]byte{0, 0xff, 0xfe})
	c := codec.Bytes()
	f.Fuzz(func(t *testing.T, data []byte) {
		in := bytes.Clone(data)
		fuzzRoundTrip(t, c, in, data, func(a, b *[]byte) bool { return *a != nil && bytes.Equal(*a, *b) })
		if !bytes.Equal(in, data) {
			t.Fatal("Marshal/Unmarshal modified the input")
		}
		var got []byte
		if err := c.Unmarshal(data, &got); err != nil || got == nil || !bytes.Equal(got, data) {
			t.Fatalf("Unmarshal(%q) = %q, %v; want the same bytes, non-nil, nil", data, got, err)
		}
		if len(data) > 0 && &got[0] == &data[0] {
			t.Fatal("Unmarshal kept its input")
		}
	})
}

func FuzzCompress(f *testing.F) {
	f.Add([]byte("hello hello hello hello"), uint16(1), int8(1))
	f.Add([]byte{}, uint16(0), int8(0))
	f.Add(bytes.Repeat([]byte("abc"), 500), uint16(1024), int8(9))
	f.Add([]byte{0x01, 0xff, 0xff}, uint16(2), int8(-2))
	f.Add([]byte{0x00, 'x', 'y'}, uint16(5), int8(-1))
	f.Add([]byte{0x01, 0x4a, 0x4c, 0x4a, 0x06, 0x04, 0x00}, uint16(3), int8(6))
	eqBytes := func(a, b *[]byte) bool { return bytes.Equal(*a, *b) }
	// A bomb: 2 MiB of zeros in about 2 KiB, beyond fuzzMaxSize.
	bomb, _ := codec.Compress(codec.Bytes(), nil).Marshal(make([]byte, 2<<20))
	f.Add(bomb, uint16(1), int8(1))
	users := codec.Compress(codec.Msgpack[User](), &codec.CompressOptions{Threshold: 1, MaxSize: fuzzMaxSize})
	// Codecs are built once: a flate writer is large, and building one per
	// input would leave the fuzzer little time for anything else.
	thresholds := []int{1, 16, 1024}
	var codecs [][]codec.Codec[[]byte]
	// Levels 2 to 9 share one algorithm, so two of them stand for all.
	for _, lvl := range []int{0, flate.HuffmanOnly, flate.BestSpeed, flate.DefaultCompression, flate.BestCompression} {
		var row []codec.Codec[[]byte]
		for _, th := range thresholds {
			row = append(row, codec.Compress(codec.Bytes(), &codec.CompressOptions{Threshold: th, Level: lvl, MaxSize: fuzzMaxSize}))
		}
		codecs = append(codecs, row)
	}
	f.Fuzz(func(t *testing.T, data []byte, threshold uint16, level int8) {
		c := codecs[int(uint8(level))%len(codecs)][int(threshold)%len(thresholds)]
		fuzzRoundTrip(t, c, data, data, eqBytes)
		fuzzDecode(t, c, data, eqBytes, []byte("sentinel"), compressBudget)
		fuzzDecode(t, users, data, sameFloatUsers, sentinelUser, compressBudget)
	})
}

// fuzzMaxSize is the Compress MaxSize of the fuzzed Compress codecs.
const fuzzMaxSize = 1 << 20

// compressBudget is the memory ceiling of a Compress Unmarshal: the
// decompressed data (at most fuzzMaxSize plus a 64 KiB chunk), joined
// once if it spans several chunks, and what the inner codec may allocate
// for it.
func compressBudget(n int) uint64 {
	return 2*(fuzzMaxSize+64<<10) + decodeBudget(fuzzMaxSize)
}

// FuzzDecodeAny feeds arbitrary bytes to the decoders of the types that
// hostile length headers aim at (slices, maps, interface values) and
// checks that each fails only with ErrDecode and stays within the memory
// ceiling.
func FuzzDecodeAny(f *testing.F) {
	f.Add([]byte{0x93, 0x01, 0xa1, 'x', 0xc0})
	f.Add([]byte(`{"a":[1,2,{"b":null}]}`))
	for _, data := range hostileSeeds("") {
		f.Add(data)
	}
	decoders := []func([]byte) error{
		decoder(codec.Msgpack[any]()),
		decoder(codec.Msgpack[[]int64]()),
		decoder(codec.Msgpack[[]string]()),
		decoder(codec.Msgpack[map[string]string]()),
		decoder(codec.Msgpack[[]byte]()),
		decoder(codec.JSON[any]()),
		decoder(codec.JSON[[]int64]()),
		decoder(codec.JSON[map[string]string]()),
		decoder(codec.Gob[any]()),
		decoder(codec.Gob[map[string]string]()),
		decoder(codec.Gob[[]string]()),
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for i, decode := range decoders {
			var err error
			n := allocated(func() { err = decode(data) })
			if err != nil && !errors.Is(err, codec.ErrDecode) {
				t.Fatalf("decoder %d: error = %v; want nil or ErrDecode", i, err)
			}
			if budget := decodeBudget(len(data)); n > budget {
				t.Fatalf("decoder %d: Unmarshal of %d bytes (%q) allocated %d bytes; want at most %d", i, len(data), truncate(data), n, budget)
			}
		}
	})
}
