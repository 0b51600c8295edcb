package codec_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/cachet-go/cachet"
	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/store/memstore"
)

type Profile struct {
	Name   string    `json:"name" msgpack:"name"`
	Langs  []string  `json:"langs" msgpack:"langs"`
	Joined time.Time `json:"joined" msgpack:"joined"`
}

func ExampleJSON() {
	c := codec.JSON[Profile]()
	b, err := c.Marshal(Profile{Name: "Ada", Langs: []string{"en", "fr"}, Joined: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)})
	if err != nil {
		panic(err)
	}
	fmt.Println(string(b))

	var p Profile
	if err := c.Unmarshal(b, &p); err != nil {
		panic(err)
	}
	fmt.Println(p.Name, p.Langs, p.Joined.Format(time.DateOnly))
	// Output:
	// {"name":"Ada","langs":["en","fr"],"joined":"2024-01-02T03:04:05Z"}
	// Ada [en fr] 2024-01-02
}

func ExampleMsgpack() {
	c := codec.Msgpack[Profile]()
	in := Profile{Name: "Ada", Langs: []string{"en", "fr"}, Joined: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)}
	b, err := c.Marshal(in)
	if err != nil {
		panic(err)
	}
	j, _ := codec.JSON[Profile]().Marshal(in)
	fmt.Printf("msgpack %d bytes, JSON %d bytes\n", len(b), len(j))

	var p Profile
	if err := c.Unmarshal(b, &p); err != nil {
		panic(err)
	}
	// msgpack keeps the instant, not the location: compare with Equal.
	fmt.Println(p.Name, p.Langs, p.Joined.Equal(in.Joined))
	// Output:
	// msgpack 36 bytes, JSON 66 bytes
	// Ada [en fr] true
}

func ExampleGob() {
	c := codec.Gob[Profile]()
	b, err := c.Marshal(Profile{Name: "Ada", Langs: []string{"en"}})
	if err != nil {
		panic(err)
	}
	var p Profile
	if err := c.Unmarshal(b, &p); err != nil {
		panic(err)
	}
	fmt.Println(p.Name, p.Langs)
	// Output:
	// Ada [en]
}

func ExampleString() {
	c := codec.String()
	b, _ := c.Marshal("héllo")
	fmt.Printf("%q %d bytes\n", b, len(b))

	var s string
	_ = c.Unmarshal([]byte("stored"), &s)
	fmt.Println(s)
	// Output:
	// "héllo" 6 bytes
	// stored
}

func ExampleBytes() {
	c := codec.Bytes()
	// A nil slice encodes to an empty, non-nil one: stores reject nil.
	b, _ := c.Marshal(nil)
	fmt.Println(b == nil, len(b))

	// Unmarshal copies: changing the input later does not change v.
	data := []byte("value")
	var v []byte
	_ = c.Unmarshal(data, &v)
	data[0] = 'V'
	fmt.Println(string(v))
	// Output:
	// false 0
	// value
}

func ExampleCompress() {
	c := codec.Compress(codec.JSON[[]string](), &codec.CompressOptions{Threshold: 256})

	small, _ := c.Marshal([]string{"a", "b"})
	fmt.Printf("small: header %#02x, %d bytes\n", small[0], len(small))

	words := strings.Fields(strings.Repeat("the quick brown fox jumps over the lazy dog ", 50))
	large, _ := c.Marshal(words)
	plain, _ := codec.JSON[[]string]().Marshal(words)
	fmt.Printf("large: header %#02x, %d bytes instead of %d\n", large[0], len(large), len(plain))

	var got []string
	if err := c.Unmarshal(large, &got); err != nil {
		panic(err)
	}
	fmt.Println(len(got), got[0], got[len(got)-1])
	// Output:
	// small: header 0x00, 10 bytes
	// large: header 0x01, 99 bytes instead of 3101
	// 450 the dog
}

// Failures wrap ErrEncode and ErrDecode, and keep the cause.
func Example_errors() {
	_, err := codec.JSON[float64]().Marshal(math.NaN())
	fmt.Println(errors.Is(err, codec.ErrEncode))
	fmt.Println(err)

	var p Profile
	err = codec.Msgpack[Profile]().Unmarshal([]byte("not msgpack"), &p)
	fmt.Println(errors.Is(err, codec.ErrDecode))
	// Output:
	// true
	// codec: cannot encode value: json: unsupported value: NaN
	// true
}

// A codec is chosen per cache and fixes the cache's value type: here a
// *cachet.Cache[string, Profile], inferred from codec.JSON[Profile]().
func Example_cache() {
	ctx := context.Background()
	s := memstore.Must(nil)
	defer s.Close()
	c, err := cachet.New[string](s, codec.JSON[Profile](), nil) // Cache[string, Profile]
	if err != nil {
		panic(err)
	}
	defer c.Close()

	c.Set(ctx, "ada", Profile{Name: "Ada", Langs: []string{"en"}})
	p, _ := c.Get(ctx, "ada")
	fmt.Println(p.Name, p.Langs)
	// Output: Ada [en]
}
