package cachet_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cachet-go/cachet"
	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/memstore"
)

// findKeys returns keys of lengths 1 to 150 (around the 64-byte lent-key
// buffer, with and without a namespace and version in front), each with
// a distinct last byte pattern, so that a key read from a reused buffer
// would name another key.
func findKeys() []string {
	var keys []string
	for n := 1; n <= 150; n++ {
		keys = append(keys, strings.Repeat(string(rune('a'+n%26)), n))
	}
	return keys
}

// TestFindProbe_ConcurrentKeyLengths: Cache.Get over bare memstore (the
// Finder path, key built in a pooled buffer) with 8 goroutines reading
// keys of 1 to 150 bytes under several namespace/version settings and
// codecs, while another goroutine disables and enables the cache: every
// hit is its own key's value, every miss error names its own key, and
// nothing else is returned.
func TestFindProbe_ConcurrentKeyLengths(t *testing.T) {
	for _, o := range []*cachet.Options[string]{
		nil,
		{Namespace: "ns"},
		{Namespace: strings.Repeat("n", 40), Version: 3},
		{Namespace: "v", Version: "release-2026"},
	} {
		name := "bare"
		if o != nil {
			name = fmt.Sprintf("%s/%v", o.Namespace[:min(len(o.Namespace), 4)], o.Version)
		}
		t.Run(name, func(t *testing.T) {
			ms, err := memstore.New(nil)
			if err != nil {
				t.Fatal(err)
			}
			c := cachet.Must(cachet.New[string](ms, codec.String(), o))
			cb := cachet.Must(cachet.New[string](ms, codec.Bytes(), &cachet.Options[string]{Namespace: "bytes"}))
			defer c.Close()
			ctx := context.Background()
			keys := findKeys()
			for i, k := range keys {
				if i%3 == 0 {
					continue // misses
				}
				if err := c.Set(ctx, k, "v:"+k); err != nil {
					t.Fatal(err)
				}
				if err := cb.Set(ctx, k, []byte("b:"+k)); err != nil {
					t.Fatal(err)
				}
			}
			var stop atomic.Bool
			var toggles sync.WaitGroup
			toggles.Add(1)
			go func() {
				defer toggles.Done()
				for !stop.Load() {
					c.Disable()
					c.Enable()
				}
			}()
			var wg sync.WaitGroup
			for g := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for j := range 3000 {
						i := (g*31 + j*7) % len(keys)
						k := keys[i]
						sk, _ := c.Key(k)
						v, err := c.Get(ctx, k)
						switch {
						case err == nil:
							if i%3 == 0 || v != "v:"+k {
								t.Errorf("Get(%d-byte key) = %.20q; want its own value", len(k), v)
								return
							}
						case errors.Is(err, cachet.ErrNotFound):
							var se *store.Error
							if !errors.As(err, &se) || se.Key != sk {
								t.Errorf("miss of %q: error %v names another key", sk, err)
								return
							}
						default:
							t.Errorf("Get(%d-byte key): %v", len(k), err)
							return
						}
						b, err := cb.Get(ctx, k)
						if err == nil && string(b) != "b:"+k {
							t.Errorf("[]byte Get(%d-byte key) = %.20q; want its own value", len(k), b)
							return
						}
						if err == nil {
							b[0] = 'X' // the caller's own copy
						}
					}
				}()
			}
			wg.Wait()
			stop.Store(true)
			toggles.Wait()
			for i, k := range keys {
				if i%3 != 0 {
					if b, err := cb.Get(ctx, k); err != nil || string(b) != "b:"+k {
						t.Fatalf("[]byte Get(%d) after the scribbles = %.20q, %v", len(k), b, err)
					}
				}
			}
		})
	}
}

// TestFindProbe_CloseMidFlight: Gets racing Close return their own key's
// value or ErrClosed (never another's value, never a panic), and every
// Get after Close returns ErrClosed naming its key.
func TestFindProbe_CloseMidFlight(t *testing.T) {
	ms, err := memstore.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := cachet.Must(cachet.New[string](ms, codec.String(), &cachet.Options[string]{Namespace: "ns", Version: 2}))
	ctx := context.Background()
	keys := findKeys()
	for _, k := range keys {
		if err := c.Set(ctx, k, "v:"+k); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for j := range 2000 {
				k := keys[(g+j)%len(keys)]
				v, err := c.Get(ctx, k)
				if err == nil && v != "v:"+k || err != nil && !errors.Is(err, cachet.ErrClosed) {
					t.Errorf("Get(%d-byte key) racing Close = %.20q, %v", len(k), v, err)
					return
				}
			}
		}()
	}
	close(start)
	c.Close()
	wg.Wait()
	for _, k := range keys {
		sk, _ := c.Key(k)
		_, err := c.Get(ctx, k)
		var se *store.Error
		if !errors.Is(err, cachet.ErrClosed) || !errors.As(err, &se) || se.Key != sk {
			t.Fatalf("Get(%q) after Close = %v; want ErrClosed naming the key", sk, err)
		}
	}
}

type findUser struct {
	Name string
	Tags []string
}

// TestFindProbe_HostileBytes: short, truncated and garbage entries written
// straight into the memstore under a Cache's keys are read through the
// Finder path with every codec: ErrDecode naming the key, or a miss, never
// a panic and never a value that was not stored.
func TestFindProbe_HostileBytes(t *testing.T) {
	ctx := context.Background()
	ms, err := memstore.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	good := func(c codec.Codec[findUser]) []byte {
		b, err := codec.Append(c, nil, findUser{"ann", []string{"x"}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	hostile := [][]byte{
		{}, {0}, {0xff}, {0x01, 0x02}, []byte("garbage that is no entry"),
		{0xc1, 0xc1, 0xc1}, make([]byte, 3), make([]byte, 64), []byte{0x80, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
	}
	codecs := map[string]codec.Codec[findUser]{
		"json": codec.JSON[findUser](), "msgpack": codec.Msgpack[findUser](), "gob": codec.Gob[findUser](),
		"zjson": codec.Compress(codec.JSON[findUser](), nil),
	}
	for name, cd := range codecs {
		c := cachet.Must(cachet.New[string](ms, cd, &cachet.Options[string]{Namespace: name}))
		// A valid entry, then every prefix of it and garbage.
		if err := c.Set(ctx, "ok", findUser{"ann", []string{"x"}}); err != nil {
			t.Fatal(err)
		}
		skOK, _ := c.Key("ok")
		entryBytes, err := ms.Get(ctx, skOK)
		if err != nil {
			t.Fatal(err)
		}
		cases := append([][]byte{}, hostile...)
		for i := range len(entryBytes) {
			cases = append(cases, entryBytes[:i])
		}
		cases = append(cases, good(cd)) // a bare payload without an entry header
		for i, b := range cases {
			k := fmt.Sprintf("h%d-%s", i, strings.Repeat("k", i%80))
			sk, _ := c.Key(k)
			if err := ms.Set(ctx, sk, b, 0); err != nil {
				t.Fatal(err)
			}
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Errorf("%s: Get of hostile entry %d (% x) panicked: %v", name, i, b, p)
					}
				}()
				v, err := c.Get(ctx, k)
				switch {
				case err == nil:
					if v.Name != "ann" {
						t.Errorf("%s: Get of hostile entry %d (% x) = %+v, nil; want ErrDecode or a miss", name, i, b, v)
					}
				case errors.Is(err, cachet.ErrDecode):
					var se *store.Error
					if errors.As(err, &se) && se.Key != sk {
						t.Errorf("%s: decode error of %q names %q", name, sk, se.Key)
					}
				case errors.Is(err, cachet.ErrNotFound):
				default:
					t.Errorf("%s: Get of hostile entry %d (% x): %v; want ErrDecode or a miss", name, i, b, err)
				}
			}()
		}
	}
}
