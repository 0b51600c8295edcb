package codec_test

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/cachet-go/cachet/codec"
)

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestCompress_Format(t *testing.T) {
	t.Parallel()
	text := []byte(strings.Repeat("compressible text, ", 200)) // 3800 bytes
	random := randomBytes(4096, 1)
	cases := []struct {
		name       string
		opts       *codec.CompressOptions
		in         []byte
		wantHeader byte
		smaller    bool // the stored value is smaller than the input
	}{
		{"below default threshold", nil, text[:1023], 0x00, false},
		{"at default threshold", nil, text[:1024], 0x01, true},
		{"large text", nil, text, 0x01, true},
		{"incompressible stays raw", nil, random, 0x00, false},
		{"empty", &codec.CompressOptions{Threshold: 1}, []byte{}, 0x00, false},
		{"tiny with threshold 1 stays raw", &codec.CompressOptions{Threshold: 1}, []byte("ab"), 0x00, false},
		{"threshold 1", &codec.CompressOptions{Threshold: 1}, text[:100], 0x01, true},
		{"high threshold", &codec.CompressOptions{Threshold: 1 << 20}, text, 0x00, false},
		{"best compression", &codec.CompressOptions{Level: flate.BestCompression}, text, 0x01, true},
		{"default compression", &codec.CompressOptions{Level: flate.DefaultCompression}, text, 0x01, true},
		{"huffman only", &codec.CompressOptions{Level: flate.HuffmanOnly}, text, 0x01, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := codec.Compress(codec.Bytes(), tc.opts)
			b, err := c.Marshal(tc.in)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if len(b) == 0 || b[0] != tc.wantHeader {
				t.Fatalf("header = %v; want %#02x", b[:min(len(b), 1)], tc.wantHeader)
			}
			if tc.smaller && len(b) >= len(tc.in) {
				t.Errorf("stored %d bytes for %d input bytes; want fewer", len(b), len(tc.in))
			}
			if !tc.smaller && len(b) != 1+len(tc.in) {
				t.Errorf("stored %d bytes for %d input bytes; want header + input", len(b), len(tc.in))
			}
			if tc.wantHeader == 0x00 && !bytes.Equal(b[1:], tc.in) {
				t.Errorf("raw payload differs from the input")
			}
			var got []byte
			if err := c.Unmarshal(b, &got); err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			if !bytes.Equal(got, tc.in) {
				t.Errorf("round trip: got %d bytes; want the %d input bytes", len(got), len(tc.in))
			}
		})
	}
}

// Reading never depends on the options: values written with any
// threshold and level read back through a codec with other options.
func TestCompress_OptionsChangeKeepsOldValues(t *testing.T) {
	t.Parallel()
	opts := []*codec.CompressOptions{
		nil,
		{Threshold: 1},
		{Threshold: 1 << 30},
		{Threshold: 10, Level: flate.BestCompression},
		{Level: flate.HuffmanOnly},
	}
	values := [][]byte{{}, []byte("short"), []byte(strings.Repeat("abc", 1000)), randomBytes(2000, 2)}
	for i, wo := range opts {
		for j, ro := range opts {
			w, r := codec.Compress(codec.Bytes(), wo), codec.Compress(codec.Bytes(), ro)
			for _, v := range values {
				b, err := w.Marshal(v)
				if err != nil {
					t.Fatalf("Marshal with options %d: %v", i, err)
				}
				var got []byte
				if err := r.Unmarshal(b, &got); err != nil || !bytes.Equal(got, v) {
					t.Errorf("written with options %d, read with %d: got %d bytes, %v; want %d bytes", i, j, len(got), err, len(v))
				}
			}
		}
	}
}

func TestCompress_InvalidOptionsPanic(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		f    func()
		want string
	}{
		{"nil codec", func() { codec.Compress[int](nil, nil) }, "nil Codec"},
		{"negative threshold", func() { codec.Compress(codec.Bytes(), &codec.CompressOptions{Threshold: -1}) }, "Threshold"},
		{"negative max size", func() { codec.Compress(codec.Bytes(), &codec.CompressOptions{MaxSize: -1}) }, "MaxSize"},
		{"level too high", func() { codec.Compress(codec.Bytes(), &codec.CompressOptions{Level: 10}) }, "Level"},
		{"level too low", func() { codec.Compress(codec.Bytes(), &codec.CompressOptions{Level: -3}) }, "Level"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if s, _ := r.(string); !strings.Contains(s, tc.want) {
					t.Errorf("panic = %v; want a message mentioning %q", r, tc.want)
				}
			}()
			tc.f()
		})
	}
}

func TestCompress_DecodeErrors(t *testing.T) {
	t.Parallel()
	c := codec.Compress(codec.Bytes(), &codec.CompressOptions{Threshold: 1})
	valid, err := c.Marshal([]byte(strings.Repeat("hello ", 100)))
	if err != nil || valid[0] != 0x01 {
		t.Fatalf("Marshal: %v, header %#02x", err, valid[0])
	}
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"nil", nil},
		{"empty", []byte{}},
		{"unknown header", []byte{0x02, 'x'}},
		{"unknown header 0xff", []byte{0xff}},
		{"flate header only", []byte{0x01}},
		{"flate garbage", []byte{0x01, 0xff, 0xff, 0xff}},
		{"truncated stream", valid[:len(valid)-3]},
		{"trailing data after stream", append(bytes.Clone(valid), 0x00)},
	} {
		got := []byte("untouched")
		err := c.Unmarshal(tc.data, &got)
		if !errors.Is(err, codec.ErrDecode) {
			t.Errorf("%s: error = %v; want ErrDecode", tc.name, err)
		}
		if string(got) != "untouched" {
			t.Errorf("%s: failed Unmarshal modified *v: %q", tc.name, got)
		}
	}
}

// Compress hands the inner codec a pooled buffer; Bytes copies out of it,
// so earlier results survive later decodes, also concurrently.
func TestCompress_ConcurrentUse(t *testing.T) {
	t.Parallel()
	c := codec.Compress(codec.Bytes(), &codec.CompressOptions{Threshold: 16})
	u := codec.Compress(codec.Msgpack[User](), &codec.CompressOptions{Threshold: 16})
	const goroutines, rounds = 8, 50
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var kept [][]byte
			var want [][]byte
			for i := range rounds {
				v := []byte(strings.Repeat(fmt.Sprintf("g%d-i%d;", g, i), 1+i%40))
				b, err := c.Marshal(v)
				if err != nil {
					errs <- err
					return
				}
				var got []byte
				if err := c.Unmarshal(b, &got); err != nil {
					errs <- err
					return
				}
				kept, want = append(kept, got), append(want, v)

				user := sampleUser()
				user.ID = int64(g*rounds + i)
				ub, err := u.Marshal(user)
				if err != nil {
					errs <- err
					return
				}
				var gotUser User
				if err := u.Unmarshal(ub, &gotUser); err != nil {
					errs <- err
					return
				}
				if !equalUsers(&gotUser, &user) {
					errs <- fmt.Errorf("goroutine %d round %d: user round trip differs", g, i)
					return
				}
			}
			for i := range kept {
				if !bytes.Equal(kept[i], want[i]) {
					errs <- fmt.Errorf("goroutine %d: result %d changed after later decodes", g, i)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// A stored value that would decompress beyond MaxSize is a decode error,
// not an unbounded allocation; one within the limit still reads.
func TestCompress_MaxSize(t *testing.T) {
	big := strings.Repeat("a", 1<<20) // compresses to a few KiB
	c := codec.Compress(codec.String(), &codec.CompressOptions{MaxSize: 1 << 20})
	data, err := c.Marshal(big)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > 1<<14 {
		t.Fatalf("1 MiB of 'a' compressed to %d bytes; want a few KiB", len(data))
	}
	var got string
	if err := c.Unmarshal(data, &got); err != nil || got != big {
		t.Fatalf("Unmarshal at exactly MaxSize: %d bytes, %v; want the value back", len(got), err)
	}
	small := codec.Compress(codec.String(), &codec.CompressOptions{MaxSize: 1<<20 - 1})
	got = "unchanged"
	err = small.Unmarshal(data, &got)
	if !errors.Is(err, codec.ErrDecode) || !strings.Contains(err.Error(), "MaxSize") {
		t.Fatalf("Unmarshal beyond MaxSize: err = %v; want ErrDecode naming MaxSize", err)
	}
	if got != "unchanged" {
		t.Fatalf("a failed Unmarshal changed the target to %d bytes", len(got))
	}
}

// A "bomb", a small stored value that expands far beyond MaxSize, fails
// with ErrDecode naming the limit after allocating little more than
// MaxSize: the decompression buffer grows only as data arrives and never
// past MaxSize+1. (It used to grow by doubling, to about 4x MaxSize.)
func TestCompress_Bomb(t *testing.T) {
	const maxSize = 1 << 20
	bomb, err := codec.Compress(codec.Bytes(), nil).Marshal(make([]byte, 32<<20))
	if err != nil {
		t.Fatal(err)
	}
	if len(bomb) > 64<<10 {
		t.Fatalf("32 MiB of zeros compressed to %d bytes; want a bomb", len(bomb))
	}
	c := codec.Compress(codec.Bytes(), &codec.CompressOptions{MaxSize: maxSize})
	var got []byte
	// Two collections empty the pools: measure the worst case, where no
	// pooled chunk is ready.
	runtime.GC()
	runtime.GC()
	n := allocated(func() { err = c.Unmarshal(bomb, &got) })
	if !errors.Is(err, codec.ErrDecode) || !strings.Contains(err.Error(), "limit 1048576 bytes") {
		t.Errorf("Unmarshal of a bomb: err = %v; want ErrDecode naming the limit", err)
	}
	if got != nil {
		t.Errorf("a failed Unmarshal set the target to %d bytes", len(got))
	}
	if limit := uint64(maxSize * 3 / 2); n > limit {
		t.Errorf("Unmarshal of a bomb allocated %d bytes; want at most %d (1.5x MaxSize)", n, limit)
	}
	t.Logf("bomb of %d bytes, MaxSize %d: %d bytes allocated", len(bomb), maxSize, n)
}
