package codec_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cachet-go/cachet/codec"
)

// Address is nested in User through a pointer and a slice.
type Address struct {
	Street string    `json:"street" msgpack:"street"`
	City   string    `json:"city" msgpack:"city"`
	Geo    []float64 `json:"geo,omitempty" msgpack:"geo,omitempty"`
}

// User is a realistic cached value: scalars, nested slices and maps,
// time.Time, pointers.
type User struct {
	ID       int64               `json:"id" msgpack:"id"`
	Name     string              `json:"name" msgpack:"name"`
	Email    string              `json:"email,omitempty" msgpack:"email,omitempty"`
	Rating   float64             `json:"rating" msgpack:"rating"`
	Active   bool                `json:"active" msgpack:"active"`
	Created  time.Time           `json:"created" msgpack:"created"`
	Tags     []string            `json:"tags" msgpack:"tags"`
	Attrs    map[string]string   `json:"attrs" msgpack:"attrs"`
	Scores   map[string][]int    `json:"scores" msgpack:"scores"`
	Home     *Address            `json:"home" msgpack:"home"`
	Past     []Address           `json:"past" msgpack:"past"`
	Manager  *User               `json:"manager" msgpack:"manager"`
	Settings map[string]*Address `json:"settings" msgpack:"settings"`
}

// equalUsers reports whether a and b are the same user, comparing times
// with Time.Equal (codecs keep the instant, not always the location).
func equalUsers(a, b *User) bool {
	if a == nil || b == nil {
		return a == b
	}
	if !a.Created.Equal(b.Created) {
		return false
	}
	if !equalUsers(a.Manager, b.Manager) {
		return false
	}
	x, y := *a, *b
	x.Created, y.Created = time.Time{}, time.Time{}
	x.Manager, y.Manager = nil, nil
	return reflect.DeepEqual(x, y)
}

// gobFlatten returns u as gob gives it back: gob does not transmit zero
// values, so empty slices come back nil (empty maps and pointers to zero
// structs do come back, as empty maps and pointers to zero structs).
func gobFlatten(u User) User {
	if len(u.Tags) == 0 {
		u.Tags = nil
	}
	if len(u.Past) == 0 {
		u.Past = nil
	}
	flatAddr := func(a Address) Address {
		if len(a.Geo) == 0 {
			a.Geo = nil
		}
		return a
	}
	if u.Home != nil {
		h := flatAddr(*u.Home)
		u.Home = &h
	}
	for i := range u.Past {
		u.Past[i] = flatAddr(u.Past[i])
	}
	for k, a := range u.Settings {
		if a != nil {
			b := flatAddr(*a)
			u.Settings[k] = &b
		}
	}
	if u.Manager != nil {
		m := gobFlatten(*u.Manager)
		u.Manager = &m
	}
	return u
}

func sampleUser() User {
	cet := time.FixedZone("CET", 3600)
	return User{
		ID:      42,
		Name:    "Zoë Ångström",
		Email:   "zoe@example.com",
		Rating:  4.75,
		Active:  true,
		Created: time.Date(2024, 2, 29, 13, 14, 15, 123456789, cet),
		Tags:    []string{"admin", "beta", ""},
		Attrs:   map[string]string{"lang": "sv", "theme": "dark"},
		Scores:  map[string][]int{"q1": {1, 2, 3}, "q2": {-7}},
		Home:    &Address{Street: "Drottninggatan 1", City: "Stockholm", Geo: []float64{59.33, 18.06}},
		Past:    []Address{{Street: "Main St 5", City: "Springfield"}, {City: "Nowhere"}},
		Manager: &User{ID: 7, Name: "Boss", Created: time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)},
		Settings: map[string]*Address{
			"billing": {Street: "PO Box 9", City: "Gothenburg"},
		},
	}
}

// userCodec is one codec under test, with how it transforms a value on a
// round trip (nil: not at all).
type userCodec struct {
	name  string
	c     codec.Codec[User]
	lossy func(User) User
}

func userCodecs() []userCodec {
	return []userCodec{
		{"JSON", codec.JSON[User](), nil},
		{"Msgpack", codec.Msgpack[User](), nil},
		{"Gob", codec.Gob[User](), gobFlatten},
		{"Compress(JSON)", codec.Compress(codec.JSON[User](), &codec.CompressOptions{Threshold: 1}), nil},
		{"Compress(Msgpack)", codec.Compress(codec.Msgpack[User](), nil), nil},
		{"Compress(Gob)", codec.Compress(codec.Gob[User](), &codec.CompressOptions{Threshold: 64, Level: 9}), gobFlatten},
	}
}

func TestCodecs_RoundTrip(t *testing.T) {
	t.Parallel()
	empty := User{Tags: []string{}, Attrs: map[string]string{}, Scores: map[string][]int{}, Past: []Address{}, Home: &Address{}}
	big := sampleUser()
	for i := range 200 {
		big.Tags = append(big.Tags, strings.Repeat("tag", i%7))
		big.Past = append(big.Past, Address{Street: "Street " + strings.Repeat("x", i%13), City: "City"})
	}
	cases := []struct {
		name string
		in   User
	}{
		{"zero", User{}},
		{"sample", sampleUser()},
		{"empty collections", empty},
		{"negative and extreme numbers", User{ID: math.MinInt64, Rating: -math.MaxFloat64, Scores: map[string][]int{"": {math.MaxInt64, math.MinInt64}}}},
		{"unicode and control characters", User{Name: "a\x00b\t\"c\"\\ <script>&\u2028日本", Tags: []string{"\U0001F600"}}},
		{"utc time", User{Created: time.Date(1999, 12, 31, 23, 59, 59, 999999999, time.UTC)}},
		{"large", big},
	}
	for _, uc := range userCodecs() {
		for _, tc := range cases {
			t.Run(uc.name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				want := tc.in
				if uc.lossy != nil {
					want = uc.lossy(sampleCopy(tc.in))
				}
				b, err := uc.c.Marshal(tc.in)
				if err != nil {
					t.Fatalf("Marshal: %v", err)
				}
				if b == nil {
					t.Fatal("Marshal returned a nil slice")
				}
				var got User
				if err := uc.c.Unmarshal(b, &got); err != nil {
					t.Fatalf("Unmarshal: %v", err)
				}
				if !equalUsers(&got, &want) {
					t.Errorf("round trip:\ngot  %+v\nwant %+v", got, want)
				}
				// Unmarshal replaces *v, it does not merge into it.
				dirty := sampleUser()
				dirty.Attrs["stale"] = "yes"
				if err := uc.c.Unmarshal(b, &dirty); err != nil {
					t.Fatalf("Unmarshal into a non-zero value: %v", err)
				}
				if !equalUsers(&dirty, &want) {
					t.Errorf("Unmarshal into a non-zero value:\ngot  %+v\nwant %+v", dirty, want)
				}
			})
		}
	}
}

// sampleCopy deep-copies u through JSON so that lossy functions do not
// modify the case's input (time zones aside, which equalUsers ignores).
func sampleCopy(u User) User {
	b, err := json.Marshal(u)
	if err != nil {
		panic(err)
	}
	var c User
	if err := json.Unmarshal(b, &c); err != nil {
		panic(err)
	}
	return c
}

func TestCodecs_OtherTypes(t *testing.T) {
	t.Parallel()
	u := sampleUser()
	check := func(t *testing.T, name string, marshal func() ([]byte, error), unmarshal func([]byte) (any, error), want any) {
		t.Helper()
		b, err := marshal()
		if err != nil {
			t.Fatalf("%s: Marshal: %v", name, err)
		}
		got, err := unmarshal(b)
		if err != nil {
			t.Fatalf("%s: Unmarshal: %v", name, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %#v; want %#v", name, got, want)
		}
	}
	for _, tc := range []struct {
		name string
		ints codec.Codec[int]
		strs codec.Codec[[]string]
		ptr  codec.Codec[*User]
	}{
		{"JSON", codec.JSON[int](), codec.JSON[[]string](), codec.JSON[*User]()},
		{"Msgpack", codec.Msgpack[int](), codec.Msgpack[[]string](), codec.Msgpack[*User]()},
		{"Gob", codec.Gob[int](), codec.Gob[[]string](), codec.Gob[*User]()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, n := range []int{0, -1, math.MaxInt} {
				check(t, "int", func() ([]byte, error) { return tc.ints.Marshal(n) },
					func(b []byte) (any, error) { var v int; err := tc.ints.Unmarshal(b, &v); return v, err }, n)
			}
			s := []string{"a", "", "c"}
			check(t, "[]string", func() ([]byte, error) { return tc.strs.Marshal(s) },
				func(b []byte) (any, error) { var v []string; err := tc.strs.Unmarshal(b, &v); return v, err }, s)
			b, err := tc.ptr.Marshal(&u)
			if err != nil {
				t.Fatalf("*User: Marshal: %v", err)
			}
			var p *User
			if err := tc.ptr.Unmarshal(b, &p); err != nil {
				t.Fatalf("*User: Unmarshal: %v", err)
			}
			want := u
			if tc.name == "Gob" {
				want = gobFlatten(sampleCopy(u))
			}
			if p == nil || !equalUsers(p, &want) {
				t.Errorf("*User: got %+v; want %+v", p, want)
			}
		})
	}
}

// A nil pointer round-trips as nil through JSON and msgpack; gob cannot
// encode it and says so.
func TestCodecs_NilPointer(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]codec.Codec[*User]{"JSON": codec.JSON[*User](), "Msgpack": codec.Msgpack[*User]()} {
		b, err := c.Marshal(nil)
		if err != nil {
			t.Fatalf("%s: Marshal(nil): %v", name, err)
		}
		p := &User{ID: 1}
		if err := c.Unmarshal(b, &p); err != nil {
			t.Fatalf("%s: Unmarshal: %v", name, err)
		}
		if p != nil {
			t.Errorf("%s: got %+v; want nil", name, p)
		}
	}
	if _, err := codec.Gob[*User]().Marshal(nil); !errors.Is(err, codec.ErrEncode) {
		t.Errorf("Gob: Marshal(nil) error = %v; want ErrEncode", err)
	}
	pp := new(*User)
	if _, err := codec.Gob[**User]().Marshal(pp); !errors.Is(err, codec.ErrEncode) {
		t.Errorf("Gob: Marshal(pointer to nil) error = %v; want ErrEncode", err)
	}
}

func TestGob_InterfaceValue(t *testing.T) {
	t.Parallel()
	c := codec.Gob[any]()
	b, err := c.Marshal(int64(42))
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	var got any
	if err := c.Unmarshal(b, &got); err != nil {
		t.Fatalf("Unmarshal: %v", err)
	}
	if got != int64(42) {
		t.Errorf("got %#v; want int64(42)", got)
	}
	type unregistered struct{ A int }
	if _, err := c.Marshal(unregistered{A: 1}); !errors.Is(err, codec.ErrEncode) {
		t.Errorf("Marshal(unregistered type) error = %v; want ErrEncode", err)
	}
}

// Gob drops zero values: check the exact flattening the codec's docs
// describe.
func TestGob_Flattening(t *testing.T) {
	t.Parallel()
	type T struct {
		P *int
		S []string
		M map[string]int
		A *Address
		N int
	}
	c := codec.Gob[T]()
	b, err := c.Marshal(T{P: new(int), S: []string{}, M: map[string]int{}, A: &Address{}})
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	got := T{N: 5}
	if err := c.Unmarshal(b, &got); err != nil {
		t.Fatalf("Unmarshal: %v", err)
	}
	if got.P != nil || got.S != nil || got.M == nil || len(got.M) != 0 || got.A == nil || !reflect.ValueOf(*got.A).IsZero() || got.N != 0 {
		t.Errorf("got %+v; want P nil, S nil, M empty, A pointing to a zero Address, N 0", got)
	}
}

// Msgpack keeps what JSON cannot: NaN, infinities, invalid UTF-8.
func TestMsgpack_ExactValues(t *testing.T) {
	t.Parallel()
	c := codec.Msgpack[User]()
	in := User{Name: "\xff\xfe", Rating: math.Inf(-1), Scores: map[string][]int{"\x80": {1}}}
	b, err := c.Marshal(in)
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	var got User
	if err := c.Unmarshal(b, &got); err != nil {
		t.Fatalf("Unmarshal: %v", err)
	}
	if !equalUsers(&got, &in) {
		t.Errorf("got %+v; want %+v", got, in)
	}
	nan, err := codec.Msgpack[float64]().Marshal(math.NaN())
	if err != nil {
		t.Fatalf("Marshal(NaN): %v", err)
	}
	var f float64
	if err := codec.Msgpack[float64]().Unmarshal(nan, &f); err != nil || !math.IsNaN(f) {
		t.Errorf("NaN round trip: got %v, %v; want NaN, nil", f, err)
	}
}

// JSON replaces invalid UTF-8, as encoding/json does.
func TestJSON_InvalidUTF8(t *testing.T) {
	t.Parallel()
	c := codec.JSON[string]()
	b, err := c.Marshal("a\xffb")
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	var s string
	if err := c.Unmarshal(b, &s); err != nil {
		t.Fatalf("Unmarshal: %v", err)
	}
	if s != "a\uFFFDb" {
		t.Errorf("got %q; want %q", s, "a\uFFFDb")
	}
}

type withChan struct {
	C chan int
	N int
}

type withFunc struct {
	F func() error
	N int
}

type noExported struct{ n int }

func TestCodecs_EncodeErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		marshal func() ([]byte, error)
	}{
		{"JSON/NaN", func() ([]byte, error) { return codec.JSON[float64]().Marshal(math.NaN()) }},
		{"JSON/+Inf field", func() ([]byte, error) { return codec.JSON[User]().Marshal(User{Rating: math.Inf(1)}) }},
		{"JSON/NaN nested", func() ([]byte, error) {
			return codec.JSON[map[string][]float64]().Marshal(map[string][]float64{"a": {1, math.NaN()}})
		}},
		{"JSON/chan field", func() ([]byte, error) { return codec.JSON[withChan]().Marshal(withChan{C: make(chan int)}) }},
		{"JSON/func field", func() ([]byte, error) { return codec.JSON[withFunc]().Marshal(withFunc{}) }},
		{"JSON/complex", func() ([]byte, error) { return codec.JSON[complex128]().Marshal(1i) }},
		{"JSON/func in any", func() ([]byte, error) { return codec.JSON[any]().Marshal(func() {}) }},
		{"Msgpack/chan field", func() ([]byte, error) { return codec.Msgpack[withChan]().Marshal(withChan{}) }},
		{"Msgpack/func field", func() ([]byte, error) {
			return codec.Msgpack[withFunc]().Marshal(withFunc{F: func() error { return nil }})
		}},
		{"Msgpack/complex", func() ([]byte, error) { return codec.Msgpack[complex64]().Marshal(1i) }},
		{"Gob/chan", func() ([]byte, error) { return codec.Gob[chan int]().Marshal(make(chan int)) }},
		{"Gob/func", func() ([]byte, error) { return codec.Gob[func()]().Marshal(func() {}) }},
		{"Gob/nil pointer", func() ([]byte, error) { return codec.Gob[*User]().Marshal(nil) }},
		{"Gob/no exported fields", func() ([]byte, error) { return codec.Gob[noExported]().Marshal(noExported{n: 1}) }},
		{"Gob/nil pointer in interface", func() ([]byte, error) { return codec.Gob[any]().Marshal((*int)(nil)) }},
		{"Compress(JSON)/NaN", func() ([]byte, error) {
			return codec.Compress(codec.JSON[float64](), nil).Marshal(math.NaN())
		}},
		{"Compress(Gob)/chan", func() ([]byte, error) {
			return codec.Compress(codec.Gob[chan int](), nil).Marshal(make(chan int))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, err := tc.marshal()
			if !errors.Is(err, codec.ErrEncode) {
				t.Fatalf("error = %v; want ErrEncode", err)
			}
			if errors.Is(err, codec.ErrDecode) {
				t.Errorf("error %v also wraps ErrDecode", err)
			}
			if b != nil {
				t.Errorf("Marshal returned %q with its error; want nil", b)
			}
			if !keepsCause(err) {
				t.Errorf("error %v does not keep the underlying error", err)
			}
		})
	}
}

// The underlying error stays reachable with errors.As.
func TestCodecs_UnderlyingError(t *testing.T) {
	t.Parallel()
	_, err := codec.JSON[float64]().Marshal(math.Inf(1))
	var uv *json.UnsupportedValueError
	if !errors.As(err, &uv) {
		t.Errorf("JSON Marshal(+Inf) error %v: want a *json.UnsupportedValueError inside", err)
	}
	var u User
	err = codec.JSON[User]().Unmarshal([]byte(`{"id": "x"}`), &u)
	var ute *json.UnmarshalTypeError
	if !errors.Is(err, codec.ErrDecode) || !errors.As(err, &ute) {
		t.Errorf("JSON Unmarshal type mismatch error %v: want ErrDecode and a *json.UnmarshalTypeError", err)
	}
	err = codec.JSON[User]().Unmarshal([]byte(`{`), &u)
	var se *json.SyntaxError
	if !errors.Is(err, codec.ErrDecode) || !errors.As(err, &se) {
		t.Errorf("JSON Unmarshal syntax error %v: want ErrDecode and a *json.SyntaxError", err)
	}
}

// keepsCause reports whether err wraps a cause besides the sentinel.
func keepsCause(err error) bool {
	u, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return false
	}
	for _, e := range u.Unwrap() {
		if e != nil && e != codec.ErrEncode && e != codec.ErrDecode {
			return true
		}
	}
	return false
}

func mustMarshal[V any](t testing.TB, c codec.Codec[V], v V) []byte {
	t.Helper()
	b, err := c.Marshal(v)
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	return b
}

func TestCodecs_DecodeErrors(t *testing.T) {
	t.Parallel()
	type input struct {
		name string
		data []byte
	}
	common := []input{
		{"nil", nil},
		{"empty", []byte{}},
		{"garbage", []byte{0xc1, 0xff, 0x00, 0x13, 0x37}},
	}
	for _, uc := range userCodecs() {
		valid := mustMarshal(t, uc.c, sampleUser())
		inputs := append(common[:len(common):len(common)],
			input{"truncated", valid[:len(valid)-1]},
			input{"half", valid[:len(valid)/2]},
			input{"trailing byte", append(bytes.Clone(valid), 0x01)},
			input{"doubled", append(bytes.Clone(valid), valid...)},
		)
		switch uc.name {
		case "JSON":
			inputs = append(inputs,
				input{"wrong type", []byte(`"a string"`)},
				input{"wrong field type", []byte(`{"tags": 5}`)},
				input{"bad time", []byte(`{"created": "yesterday"}`)},
				input{"msgpack", mustMarshal(t, codec.Msgpack[User](), sampleUser())})
		case "Msgpack":
			inputs = append(inputs,
				input{"wrong type", []byte{0xa1, 'x'}},
				input{"json", mustMarshal(t, codec.JSON[User](), sampleUser())},
				input{"huge array header", []byte{0x81, 0xa4, 't', 'a', 'g', 's', 0xdd, 0xff, 0xff, 0xff, 0xff}})
		case "Gob":
			inputs = append(inputs,
				input{"other type", mustMarshal(t, codec.Gob[[]int](), []int{1, 2})},
				input{"json", mustMarshal(t, codec.JSON[User](), sampleUser())})
		default: // Compress
			inputs = append(inputs,
				input{"unknown header", append([]byte{0x02}, valid[1:]...)},
				input{"header only raw", []byte{0x00}},
				input{"header only flate", []byte{0x01}},
				input{"flate garbage", []byte{0x01, 0xff, 0xff, 0xff, 0xff}},
				input{"raw header, garbage", []byte{0x00, 0xc1, 0xff}},
				input{"uncompressed inner value", mustMarshal(t, codec.JSON[User](), sampleUser())})
		}
		for _, in := range inputs {
			t.Run(uc.name+"/"+in.name, func(t *testing.T) {
				t.Parallel()
				got := User{ID: 99, Name: "untouched"}
				err := uc.c.Unmarshal(in.data, &got)
				if !errors.Is(err, codec.ErrDecode) {
					t.Fatalf("Unmarshal(%q) error = %v; want ErrDecode", in.data, err)
				}
				if errors.Is(err, codec.ErrEncode) {
					t.Errorf("error %v also wraps ErrEncode", err)
				}
				if !keepsCause(err) {
					t.Errorf("error %v does not keep the underlying error", err)
				}
				if got.ID != 99 || got.Name != "untouched" || got.Tags != nil {
					t.Errorf("failed Unmarshal modified *v: %+v", got)
				}
			})
		}
	}
}

func TestCodecs_NilTarget(t *testing.T) {
	t.Parallel()
	data := []byte{0x00, '1'}
	for name, err := range map[string]error{
		"JSON":     codec.JSON[int]().Unmarshal([]byte("1"), nil),
		"Msgpack":  codec.Msgpack[int]().Unmarshal([]byte{0x01}, nil),
		"Gob":      codec.Gob[int]().Unmarshal(mustMarshal(t, codec.Gob[int](), 1), nil),
		"String":   codec.String().Unmarshal([]byte("x"), nil),
		"Bytes":    codec.Bytes().Unmarshal([]byte("x"), nil),
		"Compress": codec.Compress(codec.JSON[int](), nil).Unmarshal(data, nil),
	} {
		if !errors.Is(err, codec.ErrDecode) {
			t.Errorf("%s: Unmarshal into nil error = %v; want ErrDecode", name, err)
		}
	}
}

func TestString(t *testing.T) {
	t.Parallel()
	c := codec.String()
	for _, s := range []string{"", "hello", "日本語", "\x00\xff\xfe binary"} {
		b, err := c.Marshal(s)
		if err != nil {
			t.Fatalf("Marshal(%q): %v", s, err)
		}
		if b == nil || string(b) != s {
			t.Errorf("Marshal(%q) = %#v; want the string's bytes, non-nil", s, b)
		}
		got := "stale"
		if err := c.Unmarshal(b, &got); err != nil || got != s {
			t.Errorf("Unmarshal(%q) = %q, %v; want %q, nil", b, got, err, s)
		}
		if len(b) > 0 {
			b[0] ^= 0xff // the string must not share memory with b
			if got != s {
				t.Errorf("Unmarshal result changed with its input: %q", got)
			}
		}
	}
}

func TestBytes(t *testing.T) {
	t.Parallel()
	c := codec.Bytes()
	t.Run("nil and empty encode to a non-nil empty slice", func(t *testing.T) {
		for _, in := range [][]byte{nil, {}} {
			b, err := c.Marshal(in)
			if err != nil || b == nil || len(b) != 0 {
				t.Errorf("Marshal(%#v) = %#v, %v; want []byte{}, nil", in, b, err)
			}
		}
	})
	t.Run("Marshal does not copy", func(t *testing.T) {
		in := []byte("shared")
		b, err := c.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		if &b[0] != &in[0] || len(b) != len(in) {
			t.Errorf("Marshal copied its input; the docs promise it returns it as is")
		}
	})
	t.Run("Unmarshal copies", func(t *testing.T) {
		data := []byte("stored value")
		var got []byte
		if err := c.Unmarshal(data, &got); err != nil {
			t.Fatal(err)
		}
		data[0] = 'X'
		if string(got) != "stored value" {
			t.Errorf("got %q after the input changed; want %q (Unmarshal must copy)", got, "stored value")
		}
	})
	t.Run("stored empty value decodes to non-nil empty", func(t *testing.T) {
		for _, data := range [][]byte{nil, {}} {
			got := []byte("stale")
			if err := c.Unmarshal(data, &got); err != nil || got == nil || len(got) != 0 {
				t.Errorf("Unmarshal(%#v) = %#v, %v; want []byte{}, nil", data, got, err)
			}
		}
	})
	t.Run("binary", func(t *testing.T) {
		in := []byte{0, 1, 2, 0xff, 0xfe, 0}
		b, _ := c.Marshal(in)
		var got []byte
		if err := c.Unmarshal(b, &got); err != nil || !bytes.Equal(got, in) {
			t.Errorf("got %v, %v; want %v, nil", got, err, in)
		}
	})
}
