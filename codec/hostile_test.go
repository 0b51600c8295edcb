package codec_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/cachet-go/cachet/codec"
)

// allocated returns the bytes the heap handed out while f ran, as the
// difference of runtime.MemStats.TotalAlloc (exact: ReadMemStats flushes
// every P's cache). Nothing else may run meanwhile: the callers are not
// parallel tests.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// decodeBudget is the most a decode of n bytes of input may allocate in
// these tests, whatever the bytes claim: a small multiple of the input
// plus a constant (gob builds its type's decoder on every Unmarshal, about
// 13 KiB for a small map type).
func decodeBudget(n int) uint64 {
	return 64*uint64(n) + 64<<10
}

// unhex decodes a hex string written with spaces between bytes.
func unhex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// decoder returns a function that decodes its input with c into a fresh V.
func decoder[V any](c codec.Codec[V]) func([]byte) error {
	return func(data []byte) error {
		var v V
		return c.Unmarshal(data, &v)
	}
}

// hostileCases are stored values whose headers claim far more elements or
// bytes than they hold, or nest deeper than any value a cache holds.
func hostileCases() []struct {
	name   string
	data   []byte
	decode func([]byte) error
	want   string // in the error message
} {
	deep := append(bytes.Repeat([]byte{0x91}, 100_000), 0xc0)                       // [[[...[nil]...]]]
	jsonDeep := []byte(strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000)) // the same in JSON
	return []struct {
		name   string
		data   []byte
		decode func([]byte) error
		want   string
	}{
		// Issue 12: these six bytes made msgpack v5.4.1 allocate 32 GiB.
		{"msgpack/array32 into []int64", unhex("dd ff ff ff ff 01"), decoder(codec.Msgpack[[]int64]()), "array of 4294967295 elements"},
		{"msgpack/array32 into any", unhex("dd ff ff ff ff 01"), decoder(codec.Msgpack[any]()), "array of 4294967295 elements"},
		{"msgpack/array32 into User.Tags", unhex("81 a4 74 61 67 73 dd 00 10 00 00 a0"), decoder(codec.Msgpack[User]()), "array of 1048576 elements"},
		{"msgpack/map32 into map[string]string", unhex("df ff ff ff ff a1 61"), decoder(codec.Msgpack[map[string]string]()), "map of 4294967295 entries"},
		{"msgpack/map32 into any", unhex("df 00 10 00 00 a1 61"), decoder(codec.Msgpack[any]()), "map of 1048576 entries"},
		{"msgpack/map32 into User.Attrs", unhex("81 a5 61 74 74 72 73 df 00 10 00 00 a0"), decoder(codec.Msgpack[User]()), "map of 1048576 entries"},
		{"msgpack/str32 into string", unhex("db ff ff ff ff 61"), decoder(codec.Msgpack[string]()), "string of 4294967295 bytes"},
		{"msgpack/bin32 into []byte", unhex("c6 ff ff ff ff 61"), decoder(codec.Msgpack[[]byte]()), "binary of 4294967295 bytes"},
		{"msgpack/ext32 into any", unhex("c9 ff ff ff ff 01 61"), decoder(codec.Msgpack[any]()), "extension of 4294967295 bytes"},
		{"msgpack/nested claims", unhex("92 dd 00 00 ff ff 91 dd 00 00 ff ff"), decoder(codec.Msgpack[any]()), "array of 65535 elements"},
		{"msgpack/deep nesting", deep, decoder(codec.Msgpack[any]()), "nested deeper than"},
		{"gob/message length", unhex("fc 7f ff ff ff 0c 00"), decoder(codec.Gob[string]()), "message of 2147483647 bytes"},
		{"json/deep nesting", jsonDeep, decoder(codec.JSON[any]()), "depth"},
	}
}

// Stored bytes that claim more than they hold fail with ErrDecode, saying
// what they claim, after allocating about as much as their own size. The
// cases run in a child process: before the fix some of them made the
// runtime die of "out of memory", which no recover catches, and a test
// must report that rather than die of it.
func TestCodecs_HostileLengths(t *testing.T) {
	if os.Getenv("CACHET_CODEC_HOSTILE_CHILD") == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCodecs_HostileLengths$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), "CACHET_CODEC_HOSTILE_CHILD=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			if len(out) > 4000 {
				out = out[:4000]
			}
			t.Fatalf("child process: %v; want a clean exit. Output:\n%s", err, out)
		}
		return
	}
	for _, tc := range hostileCases() {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			n := allocated(func() { err = tc.decode(tc.data) })
			if !errors.Is(err, codec.ErrDecode) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Unmarshal error = %v; want ErrDecode containing %q", err, tc.want)
			}
			if budget := decodeBudget(len(tc.data)); n > budget {
				t.Errorf("Unmarshal of %d bytes allocated %d bytes; want at most %d", len(tc.data), n, budget)
			}
			t.Logf("%d bytes in, %d bytes allocated", len(tc.data), n)
		})
	}
}

// hostileSeeds returns the hostile inputs as seeds for the fuzz targets.
func hostileSeeds(prefix string) [][]byte {
	var seeds [][]byte
	for _, tc := range hostileCases() {
		if strings.HasPrefix(tc.name, prefix) && len(tc.data) < 1000 {
			seeds = append(seeds, tc.data)
		}
	}
	return seeds
}
