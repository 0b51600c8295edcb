package codec_test

import (
	"bytes"
	"encoding/gob"
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

// The registered name of gob's interface claim (gobInterfaceClaim).
func init() { gob.Register(map[string]string(nil)) }

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
		// Issue 12: gob made a map of the stored count: 22 bytes claiming
		// 2^20 entries cost 56 MB, 2^24 cost 894 MB. Slices grew to 10 MB.
		{"gob/map count into map[string]string", gobMapClaim(0x1000000), decoder(codec.Gob[map[string]string]()), "map of 16777216 entries"},
		{"gob/map count into any", gobInterfaceClaim(gobMapClaim(0x100000)), decoder(codec.Gob[any]()), "map of 1048576 entries"},
		{"gob/map count into User.Attrs", gobUserAttrsClaim(0x100000), decoder(codec.Gob[User]()), "map of 1048576 entries"},
		{"gob/map count into a skipped field", gobUserAttrsClaim(0x100000), decoder(codec.Gob[struct{ ID int }]()), "map of 1048576 entries"},
		{"gob/slice count into []string", gobSliceClaim(0x100000), decoder(codec.Gob[[]string]()), "slice of 1048576 elements"},
		{"gob/string length", unhex("07 0c 00 fd 10 00 00 61"), decoder(codec.Gob[string]()), "string of 1048576 bytes"},
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

// gobMapClaim returns a gob stream of a map[string]string holding one
// entry but claiming n: the map type's definition (id 65), then the value.
func gobMapClaim(n uint32) []byte {
	def := unhex("ff 81 04 02 0c 01 0c 00 00") // -65, wireType{MapT: {Key: string, Elem: string}}
	val := append(unhex("ff 82 00 fc"), byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	val = append(val, unhex("01 61 01 62")...) // "a": "b"
	return append(append([]byte{byte(len(def))}, def...), append([]byte{byte(len(val))}, val...)...)
}

// gobSliceClaim returns a gob stream of a []string holding one element
// but claiming n.
func gobSliceClaim(n uint32) []byte {
	def := unhex("ff 81 02 02 0c 00 00") // -65, wireType{SliceT: {Elem: string}}
	val := append(unhex("ff 82 00 fc"), byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	val = append(val, unhex("01 61")...)
	return append(append([]byte{byte(len(def))}, def...), append([]byte{byte(len(val))}, val...)...)
}

// gobInterfaceClaim wraps the two messages of a gobMapClaim stream in an
// interface value of the registered name "map[string]string": its type
// definition goes inside the value's message, as gob's encoder writes it.
func gobInterfaceClaim(stream []byte) []byte {
	def := stream[1 : 1+stream[0]]
	val := stream[2+stream[0]:][2:] // the map's value, without its type id
	name := "map[string]string"
	msg1 := append(append(unhex("10 00"), byte(len(name))), name...) // id 8 (interface), delta 0, name
	msg1 = append(msg1, def...)
	msg2 := append(unhex("ff 82"), byte(len(val)))
	msg2 = append(msg2, val...)
	return append(append([]byte{byte(len(msg1))}, msg1...), append([]byte{byte(len(msg2))}, msg2...)...)
}

// gobUserAttrsClaim returns a gob stream of a struct with the fields
// Attrs map[string]string and ID int, whose Attrs claims n entries.
func gobUserAttrsClaim(n uint32) []byte {
	m := gobMapClaim(n)
	mapDef := m[1 : 1+m[0]]
	// -66, wireType{StructT: {Field: [{Name: "Attrs", Id: 65}, {Name: "ID", Id: int}]}}
	structDef := append(unhex("ff 83 03 02 02 01 05"), "Attrs"...)
	structDef = append(structDef, unhex("01 ff 82 00 01 02")...)
	structDef = append(structDef, "ID"...)
	structDef = append(structDef, unhex("01 04 00 00 00")...)
	val := append(unhex("ff 84 01 fc"), byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	val = append(val, unhex("01 61 01 62 00")...)
	out := append([]byte{byte(len(mapDef))}, mapDef...)
	out = append(out, byte(len(structDef)))
	out = append(out, structDef...)
	return append(append(out, byte(len(val))), val...)
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
