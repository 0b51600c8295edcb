package storetest

import (
	"bytes"
	"context"
	"errors"
	"math"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cachet-go/cachet/store"
)

var bg = context.Background()

func (su *suite) testGetMissing(t *testing.T, s store.Store) {
	wantMissing(t, s, "missing")
}

func (su *suite) testSetGet(t *testing.T, s store.Store) {
	mustSet(t, s, "k", []byte("value"), 0)
	wantValue(t, s, "k", []byte("value"))
	mustSet(t, s, "k2", []byte("other"), time.Hour)
	wantValue(t, s, "k2", []byte("other"))
	wantValue(t, s, "k", []byte("value"))
}

func (su *suite) testOverwrite(t *testing.T, s store.Store) {
	mustSet(t, s, "k", []byte("first value"), 0)
	mustSet(t, s, "k", []byte("2nd"), 0)
	wantValue(t, s, "k", []byte("2nd"))
}

func (su *suite) testEmptyValue(t *testing.T, s store.Store) {
	mustSet(t, s, "empty", []byte{}, 0)
	got, err := s.Get(bg, "empty")
	if err != nil || len(got) != 0 {
		t.Errorf("Get of an empty value: got %s, %v; want an empty value, nil", show(got), err)
	}
	if ok, err := s.Exists(bg, "empty"); err != nil || !ok {
		t.Errorf("Exists of an empty value: got %v, %v; want true, nil", ok, err)
	}
}

// binaryValues are values that trip up text protocols and string handling.
func binaryValues() map[string][]byte {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	return map[string][]byte{
		"all-bytes":    all,
		"nul":          {0},
		"nuls":         []byte("a\x00b\x00\x00c"),
		"invalid-utf8": []byte("\xff\xfe\xfd\xc3\x28"),
		"crlf":         []byte("line\r\nEND\r\n"),
		"protocol":     []byte("VALUE k 0 1\r\nx\r\nEND\r\n*1\r\n$3\r\nfoo\r\n"),
		"spaces":       []byte("  leading and trailing  "),
		"decimal":      []byte("42"),
	}
}

func (su *suite) testBinaryValues(t *testing.T, s store.Store) {
	vals := binaryValues()
	for k, v := range vals {
		mustSet(t, s, "bin:"+k, v, 0)
	}
	for k, v := range vals {
		wantValue(t, s, "bin:"+k, v)
	}
	// The same through GetMany and Add.
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, "bin:"+k)
	}
	got, err := s.GetMany(bg, keys)
	if err != nil || len(got) != len(keys) {
		t.Fatalf("GetMany of binary values: got %d slots, %v; want %d, nil", len(got), err, len(keys))
	}
	for i, k := range keys {
		if want := vals[strings.TrimPrefix(k, "bin:")]; !bytes.Equal(got[i], want) {
			t.Errorf("GetMany slot %d (%q): got %s; want %s", i, k, show(got[i]), show(want))
		}
	}
	for k, v := range vals {
		if err := s.Add(bg, "add:"+k, v, 0); err != nil {
			t.Errorf("Add(%q): got error %v; want nil", "add:"+k, err)
			continue
		}
		wantValue(t, s, "add:"+k, v)
	}
}

func (su *suite) testLargeValue(t *testing.T, s store.Store) {
	n := su.opts.MaxValueSize
	big := randomBytes(n, 1)
	mustSet(t, s, "big", big, 0)
	wantValue(t, s, "big", big)

	big2 := randomBytes(n, 2)
	if err := s.SetMany(bg, []store.Entry{{Key: "big2", Value: big2}, {Key: "small", Value: []byte("s")}}, time.Hour); err != nil {
		t.Fatalf("SetMany with a %d-byte value: got error %v; want nil", n, err)
	}
	got, err := s.GetMany(bg, []string{"big", "big2", "small"})
	if err != nil || len(got) != 3 {
		t.Fatalf("GetMany of large values: got %d slots, %v; want 3, nil", len(got), err)
	}
	if !bytes.Equal(got[0], big) || !bytes.Equal(got[1], big2) || string(got[2]) != "s" {
		t.Errorf("GetMany of large values: got %s, %s, %s; want the stored values", show(got[0]), show(got[1]), show(got[2]))
	}
	if err := s.Add(bg, "big3", big, 0); err != nil {
		t.Fatalf("Add with a %d-byte value: got error %v; want nil", n, err)
	}
	wantValue(t, s, "big3", big)
}

func (su *suite) testKeys(t *testing.T, s store.Store) {
	long := strings.Repeat("k", 299)
	keys := []string{
		"with space",
		" leading and trailing ",
		"unicode: ключ 键 🔑 ü",
		long + "a",
		long + "b", // differs from the previous key only in its last byte
		strings.Repeat("é", 150),
		"ns:v1:colon:separated",
		"glob*?[]{}\\%#",
		"a",
	}
	for i, k := range keys {
		mustSet(t, s, k, []byte(strconv.Itoa(i)), 0)
	}
	for i, k := range keys {
		wantValue(t, s, k, []byte(strconv.Itoa(i)))
		if ok, err := s.Exists(bg, k); err != nil || !ok {
			t.Errorf("Exists(%q): got %v, %v; want true, nil", k, ok, err)
		}
	}
	got, err := s.GetMany(bg, keys)
	if err != nil || len(got) != len(keys) {
		t.Fatalf("GetMany: got %d slots, %v; want %d, nil", len(got), err, len(keys))
	}
	for i, k := range keys {
		if string(got[i]) != strconv.Itoa(i) {
			t.Errorf("GetMany slot %d (%q): got %s; want %q", i, k, show(got[i]), strconv.Itoa(i))
		}
	}
	if n, err := s.Increment(bg, long+"c", 3); err != nil || n != 3 {
		t.Errorf("Increment(long key): got %d, %v; want 3, nil", n, err)
	}
	if n, err := s.Delete(bg, keys[3]); err != nil || n != 1 {
		t.Errorf("Delete(long key): got %d, %v; want 1, nil", n, err)
	}
	wantMissing(t, s, keys[3])
	wantValue(t, s, keys[4], []byte("4"))
}

// testControlKeys checks that keys holding control characters either round
// trip or are refused with ErrInvalidKey, and never disturb other keys.
func (su *suite) testControlKeys(t *testing.T, s store.Store) {
	mustSet(t, s, "victim", []byte("safe"), 0)
	for i, k := range []string{"line\r\nbreak", "nul\x00byte", "tab\tkey", "victim\r\n"} {
		v := []byte("v" + strconv.Itoa(i))
		err := s.Set(bg, k, v, 0)
		switch {
		case errors.Is(err, store.ErrInvalidKey):
			continue
		case err != nil:
			t.Errorf("Set(%q): got error %v; want nil or ErrInvalidKey", k, err)
			continue
		}
		wantValue(t, s, k, v)
	}
	wantValue(t, s, "victim", []byte("safe"))
}

func (su *suite) testCopies(t *testing.T, s store.Store) {
	in := []byte("original")
	mustSet(t, s, "k", in, 0)
	in[0] = 'X'
	wantValue(t, s, "k", []byte("original"))

	got, err := s.Get(bg, "k")
	if err != nil {
		t.Fatalf("Get: got error %v; want nil", err)
	}
	if len(got) > 0 {
		got[0] = 'Y'
	}
	wantValue(t, s, "k", []byte("original"))

	many, err := s.GetMany(bg, []string{"k", "k"})
	if err != nil || len(many) != 2 {
		t.Fatalf("GetMany: got %d slots, %v; want 2, nil", len(many), err)
	}
	if len(many[0]) > 0 {
		many[0][0] = 'Z'
	}
	if !bytes.Equal(many[1], []byte("original")) {
		t.Errorf("GetMany second slot after changing the first: got %s; want %q", show(many[1]), "original")
	}
	wantValue(t, s, "k", []byte("original"))

	add := []byte("added")
	if err := s.Add(bg, "a", add, 0); err != nil {
		t.Fatalf("Add: got error %v; want nil", err)
	}
	add[0] = 'X'
	wantValue(t, s, "a", []byte("added"))

	e := []store.Entry{{Key: "m", Value: []byte("many")}}
	if err := s.SetMany(bg, e, 0); err != nil {
		t.Fatalf("SetMany: got error %v; want nil", err)
	}
	e[0].Value[0] = 'X'
	wantValue(t, s, "m", []byte("many"))
}

func (su *suite) testGetMany(t *testing.T, s store.Store) {
	mustSet(t, s, "a", []byte("A"), 0)
	mustSet(t, s, "empty", []byte{}, 0)
	mustSet(t, s, "c", []byte("C"), 0)
	keys := []string{"c", "missing", "a", "empty", "a", "missing2"}
	got, err := s.GetMany(bg, keys)
	if err != nil {
		t.Fatalf("GetMany: got error %v; want nil", err)
	}
	want := [][]byte{[]byte("C"), nil, []byte("A"), {}, []byte("A"), nil}
	if len(got) != len(want) {
		t.Fatalf("GetMany: got %d slots; want %d", len(got), len(want))
	}
	for i := range want {
		switch {
		case want[i] == nil && got[i] != nil:
			t.Errorf("GetMany slot %d (%q, missing): got %s; want nil", i, keys[i], show(got[i]))
		case want[i] != nil && got[i] == nil:
			t.Errorf("GetMany slot %d (%q): got nil; want %s (a stored empty value is a non-nil empty slice)", i, keys[i], show(want[i]))
		case !bytes.Equal(got[i], want[i]):
			t.Errorf("GetMany slot %d (%q): got %s; want %s", i, keys[i], show(got[i]), show(want[i]))
		}
	}
}

func (su *suite) testSetMany(t *testing.T, s store.Store) {
	mustSet(t, s, "b", []byte("old"), 0)
	entries := []store.Entry{
		{Key: "a", Value: []byte("1")},
		{Key: "b", Value: []byte("2")},
		{Key: "e", Value: []byte{}},
	}
	if err := s.SetMany(bg, entries, 0); err != nil {
		t.Fatalf("SetMany: got error %v; want nil", err)
	}
	for _, e := range entries {
		wantValue(t, s, e.Key, e.Value)
	}
}

func (su *suite) testSetManyDuplicates(t *testing.T, s store.Store) {
	entries := []store.Entry{
		{Key: "d", Value: []byte("first")},
		{Key: "x", Value: []byte("x")},
		{Key: "d", Value: []byte("last")},
	}
	if err := s.SetMany(bg, entries, 0); err != nil {
		t.Fatalf("SetMany: got error %v; want nil", err)
	}
	wantValue(t, s, "d", []byte("last"))
}

func (su *suite) testSetManyTTL(t *testing.T, s store.Store) {
	ttl := su.shortTTL()
	start := time.Now()
	entries := []store.Entry{{Key: "a", Value: []byte("1")}, {Key: "b", Value: []byte("2")}}
	if err := s.SetMany(bg, entries, ttl); err != nil {
		t.Fatalf("SetMany: got error %v; want nil", err)
	}
	got, err := s.GetMany(bg, []string{"a", "b"})
	if su.surelyAlive(start, ttl) && (err != nil || len(got) != 2 || string(got[0]) != "1" || string(got[1]) != "2") {
		t.Errorf("GetMany right after SetMany with ttl %v: got %q, %v; want [\"1\" \"2\"], nil", ttl, got, err)
	}
	su.waitGone(t, s, "a", start, ttl)
	su.waitGone(t, s, "b", start, ttl)
}

func (su *suite) testAddAbsent(t *testing.T, s store.Store) {
	if err := s.Add(bg, "k", []byte("v"), 0); err != nil {
		t.Fatalf("Add of an absent key: got error %v; want nil", err)
	}
	wantValue(t, s, "k", []byte("v"))
}

func (su *suite) testAddExisting(t *testing.T, s store.Store) {
	mustSet(t, s, "k", []byte("old"), time.Hour)
	if err := s.Add(bg, "k", []byte("new"), 0); !errors.Is(err, store.ErrExists) {
		t.Errorf("Add of an existing key: got error %v; want ErrExists", err)
	}
	wantValue(t, s, "k", []byte("old"))
	if !su.opts.NoTTL {
		if d, err := s.TTL(bg, "k"); err != nil || d <= 0 {
			t.Errorf("TTL after a refused Add: got %v, %v; want the original ttl kept (> 0)", d, err)
		}
	}
	// An empty stored value is still a value.
	mustSet(t, s, "e", []byte{}, 0)
	if err := s.Add(bg, "e", []byte("new"), 0); !errors.Is(err, store.ErrExists) {
		t.Errorf("Add over an empty value: got error %v; want ErrExists", err)
	}
}

func (su *suite) testAddAfterExpiry(t *testing.T, s store.Store) {
	ttl := su.shortTTL()
	start := time.Now()
	mustSet(t, s, "k", []byte("old"), ttl)
	su.waitGone(t, s, "k", start, ttl)
	if err := s.Add(bg, "k", []byte("new"), 0); err != nil {
		t.Fatalf("Add after the key expired: got error %v; want nil", err)
	}
	wantValue(t, s, "k", []byte("new"))
}

func (su *suite) testAddTTL(t *testing.T, s store.Store) {
	ttl := su.shortTTL()
	start := time.Now()
	if err := s.Add(bg, "k", []byte("v"), ttl); err != nil {
		t.Fatalf("Add with ttl %v: got error %v; want nil", ttl, err)
	}
	su.waitGone(t, s, "k", start, ttl)
}

func (su *suite) testAddConcurrent(t *testing.T, s store.Store) {
	const n = 100
	errs := make([]error, n)
	var wg sync.WaitGroup
	startLine := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-startLine
			errs[i] = s.Add(bg, "k", []byte(strconv.Itoa(i)), 0)
		}()
	}
	close(startLine)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("Add by goroutines %d and %d both succeeded; want exactly one winner", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, store.ErrExists):
			t.Errorf("Add by goroutine %d: got error %v; want nil or ErrExists", i, err)
		}
	}
	if winner < 0 {
		t.Fatalf("%d concurrent Adds: got no winner; want exactly one", n)
	}
	wantValue(t, s, "k", []byte(strconv.Itoa(winner)))
}

func (su *suite) testDelete(t *testing.T, s store.Store) {
	for _, k := range []string{"a", "b", "c", "e"} {
		v := []byte(k)
		if k == "e" {
			v = []byte{}
		}
		mustSet(t, s, k, v, 0)
	}
	n, err := s.Delete(bg, "a", "missing", "b", "e")
	if err != nil || n != 3 {
		t.Errorf("Delete(a, missing, b, e): got %d, %v; want 3, nil", n, err)
	}
	wantMissing(t, s, "a")
	wantMissing(t, s, "b")
	wantMissing(t, s, "e")
	wantValue(t, s, "c", []byte("c"))
	if n, err := s.Delete(bg, "a"); err != nil || n != 0 {
		t.Errorf("Delete of a deleted key: got %d, %v; want 0, nil", n, err)
	}
	if n, err := s.Delete(bg, "c", "c"); err != nil || n != 1 {
		t.Errorf("Delete(c, c): got %d, %v; want 1, nil (a key is counted once)", n, err)
	}
	wantMissing(t, s, "c")
}

func (su *suite) testExists(t *testing.T, s store.Store) {
	if ok, err := s.Exists(bg, "k"); err != nil || ok {
		t.Errorf("Exists(missing): got %v, %v; want false, nil", ok, err)
	}
	mustSet(t, s, "k", []byte("v"), time.Hour)
	if ok, err := s.Exists(bg, "k"); err != nil || !ok {
		t.Errorf("Exists after Set: got %v, %v; want true, nil", ok, err)
	}
}

func (su *suite) testIncrementMissing(t *testing.T, s store.Store) {
	if n, err := s.Increment(bg, "n", 5); err != nil || n != 5 {
		t.Fatalf("Increment(missing, 5): got %d, %v; want 5, nil", n, err)
	}
	if n, err := s.Increment(bg, "n", 2); err != nil || n != 7 {
		t.Errorf("Increment(n, 2): got %d, %v; want 7, nil", n, err)
	}
	if n, err := s.Increment(bg, "z", 0); err != nil || n != 0 {
		t.Errorf("Increment(missing, 0): got %d, %v; want 0, nil", n, err)
	}
	if !su.opts.NoTTL {
		if d, err := s.TTL(bg, "n"); err != nil || d != 0 {
			t.Errorf("TTL of a key created by Increment: got %v, %v; want 0 (no expiry), nil", d, err)
		}
	}
}

func (su *suite) testIncrementNegative(t *testing.T, s store.Store) {
	if n, err := s.Increment(bg, "n", -5); err != nil || n != -5 {
		t.Fatalf("Increment(missing, -5): got %d, %v; want -5, nil", n, err)
	}
	wantValue(t, s, "n", []byte("-5"))
	mustSet(t, s, "m", []byte("10"), 0)
	if n, err := s.Increment(bg, "m", -3); err != nil || n != 7 {
		t.Errorf("Increment(\"10\", -3): got %d, %v; want 7, nil", n, err)
	}
	if n, err := s.Increment(bg, "m", -10); err != nil || n != -3 {
		t.Errorf("Increment(\"7\", -10): got %d, %v; want -3, nil", n, err)
	}
	wantValue(t, s, "m", []byte("-3"))
}

func (su *suite) testIncrementDecimal(t *testing.T, s store.Store) {
	mustSet(t, s, "n", []byte("40"), 0)
	if n, err := s.Increment(bg, "n", 2); err != nil || n != 42 {
		t.Fatalf("Increment(\"40\", 2): got %d, %v; want 42, nil", n, err)
	}
	wantValue(t, s, "n", []byte("42"))
	if n, err := s.Increment(bg, "c", 12345); err != nil || n != 12345 {
		t.Fatalf("Increment(missing, 12345): got %d, %v; want 12345, nil", n, err)
	}
	wantValue(t, s, "c", []byte("12345"))
}

func (su *suite) testIncrementNotInteger(t *testing.T, s store.Store) {
	for _, v := range []string{"abc", "1.5", "", "12abc", "9223372036854775808"} {
		mustSet(t, s, "k", []byte(v), 0)
		if n, err := s.Increment(bg, "k", 1); !errors.Is(err, store.ErrNotInteger) {
			t.Errorf("Increment of %q: got %d, %v; want ErrNotInteger", v, n, err)
		}
		wantValue(t, s, "k", []byte(v))
	}
}

func (su *suite) testIncrementOverflow(t *testing.T, s store.Store) {
	maxs := strconv.FormatInt(math.MaxInt64, 10)
	mins := strconv.FormatInt(math.MinInt64, 10)
	mustSet(t, s, "max", []byte(maxs), 0)
	if n, err := s.Increment(bg, "max", 1); !errors.Is(err, store.ErrOverflow) {
		t.Errorf("Increment(MaxInt64, 1): got %d, %v; want ErrOverflow", n, err)
	}
	wantValue(t, s, "max", []byte(maxs))
	mustSet(t, s, "min", []byte(mins), 0)
	if n, err := s.Increment(bg, "min", -1); !errors.Is(err, store.ErrOverflow) {
		t.Errorf("Increment(MinInt64, -1): got %d, %v; want ErrOverflow", n, err)
	}
	wantValue(t, s, "min", []byte(mins))
	if n, err := s.Increment(bg, "n", math.MaxInt64); err != nil || n != math.MaxInt64 {
		t.Fatalf("Increment(missing, MaxInt64): got %d, %v; want %d, nil", n, err, int64(math.MaxInt64))
	}
	if n, err := s.Increment(bg, "n", math.MaxInt64); !errors.Is(err, store.ErrOverflow) {
		t.Errorf("Increment(MaxInt64, MaxInt64): got %d, %v; want ErrOverflow", n, err)
	}
	if n, err := s.Increment(bg, "n", math.MinInt64); err != nil || n != -1 {
		t.Errorf("Increment(MaxInt64, MinInt64): got %d, %v; want -1, nil", n, err)
	}
}

func (su *suite) testIncrementKeepsTTL(t *testing.T, s store.Store) {
	if !su.opts.NoTTL {
		mustSet(t, s, "long", []byte("1"), time.Hour)
		if n, err := s.Increment(bg, "long", 1); err != nil || n != 2 {
			t.Fatalf("Increment: got %d, %v; want 2, nil", n, err)
		}
		if d, err := s.TTL(bg, "long"); err != nil || d <= time.Hour-time.Minute || d > time.Hour+su.opts.TTLResolution {
			t.Errorf("TTL after Increment of a key with ttl 1h: got %v, %v; want about 1h", d, err)
		}
	}
	ttl := su.shortTTL()
	start := time.Now()
	mustSet(t, s, "short", []byte("1"), ttl)
	n, err := s.Increment(bg, "short", 1)
	switch {
	case n == 1 && err == nil && !su.surelyAlive(start, ttl):
		// The key expired before the Increment (a loaded machine), which
		// then started a new counter, rightly without ttl: nothing to
		// wait for.
		t.Logf("Increment after %v found the key expired; ttl not checked", time.Since(start))
		return
	case err != nil || n != 2:
		t.Fatalf("Increment: got %d, %v; want 2, nil", n, err)
	}
	su.waitGone(t, s, "short", start, ttl)
}

func (su *suite) testIncrementConcurrent(t *testing.T, s store.Store) {
	const n = 100
	results := make([]int64, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	startLine := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-startLine
			results[i], errs[i] = s.Increment(bg, "counter", 1)
		}()
	}
	close(startLine)
	wg.Wait()
	seen := make(map[int64]bool, n)
	for i := range n {
		if errs[i] != nil {
			t.Errorf("Increment by goroutine %d: got error %v; want nil", i, errs[i])
			continue
		}
		if seen[results[i]] || results[i] < 1 || results[i] > n {
			t.Errorf("Increment by goroutine %d: got %d; want a distinct result in 1..%d", i, results[i], n)
		}
		seen[results[i]] = true
	}
	wantValue(t, s, "counter", []byte(strconv.Itoa(n)))
}

func (su *suite) testSubSecondExpiry(t *testing.T, s store.Store) {
	ttl := su.shortTTL()
	start := time.Now()
	mustSet(t, s, "k", []byte("v"), ttl)
	got, err := s.Get(bg, "k")
	if su.surelyAlive(start, ttl) && (err != nil || string(got) != "v") {
		t.Errorf("Get right after Set with ttl %v: got %s, %v; want \"v\", nil", ttl, show(got), err)
	}
	su.waitGone(t, s, "k", start, ttl)
}

// testExpiredInvisible checks that once a key has expired no operation sees
// it.
func (su *suite) testExpiredInvisible(t *testing.T, s store.Store) {
	ttl := su.shortTTL()
	start := time.Now()
	mustSet(t, s, "k", []byte("7"), ttl)
	mustSet(t, s, "keep", []byte("kept"), 0)
	su.waitGone(t, s, "k", start, ttl)
	if ok, err := s.Exists(bg, "k"); err != nil || ok {
		t.Errorf("Exists of an expired key: got %v, %v; want false, nil", ok, err)
	}
	got, err := s.GetMany(bg, []string{"k", "keep"})
	if err != nil || len(got) != 2 || got[0] != nil || string(got[1]) != "kept" {
		t.Errorf("GetMany(expired, live): got %q, %v; want [nil \"kept\"], nil", got, err)
	}
	if d, err := s.TTL(bg, "k"); !errors.Is(err, store.ErrNotFound) && !(su.opts.NoTTL && errors.Is(err, store.ErrNotSupported)) {
		t.Errorf("TTL of an expired key: got %v, %v; want ErrNotFound", d, err)
	}
	if ok, err := s.Expire(bg, "k", time.Hour); err != nil || ok {
		t.Errorf("Expire of an expired key: got %v, %v; want false, nil", ok, err)
	}
	wantMissing(t, s, "k") // Expire must not have revived it
	if n, err := s.Delete(bg, "k"); err != nil || n != 0 {
		t.Errorf("Delete of an expired key: got %d, %v; want 0, nil", n, err)
	}
	if n, err := s.Increment(bg, "k", 1); err != nil || n != 1 {
		t.Errorf("Increment of an expired key: got %d, %v; want 1 (starts at 0), nil", n, err)
	}
}

func (su *suite) testNoExpiry(t *testing.T, s store.Store) {
	for _, ttl := range []time.Duration{0, -time.Second} {
		key := "k" + ttl.String()
		mustSet(t, s, key, []byte("v"), ttl)
		if !su.opts.NoTTL {
			if d, err := s.TTL(bg, key); err != nil || d != 0 {
				t.Errorf("TTL after Set with ttl %v: got %v, %v; want 0 (no expiry), nil", ttl, d, err)
			}
		}
	}
	su.waitProbe(t, s)
	wantValue(t, s, "k0s", []byte("v"))
	wantValue(t, s, "k-1s", []byte("v"))
}

func (su *suite) testOverwriteResetsTTL(t *testing.T, s store.Store) {
	ttl := su.shortTTL()
	mustSet(t, s, "k", []byte("old"), ttl)
	mustSet(t, s, "k", []byte("new"), 0)
	if !su.opts.NoTTL {
		if d, err := s.TTL(bg, "k"); err != nil || d != 0 {
			t.Errorf("TTL after overwriting with no ttl: got %v, %v; want 0, nil", d, err)
		}
	}
	mustSet(t, s, "k2", []byte("old"), ttl)
	mustSet(t, s, "k2", []byte("new"), time.Hour)
	su.waitProbe(t, s)
	wantValue(t, s, "k", []byte("new"))
	wantValue(t, s, "k2", []byte("new"))
}

func (su *suite) testOverwriteShortensTTL(t *testing.T, s store.Store) {
	ttl := su.shortTTL()
	mustSet(t, s, "k", []byte("old"), 0)
	start := time.Now()
	mustSet(t, s, "k", []byte("new"), ttl)
	su.waitGone(t, s, "k", start, ttl)
}

func (su *suite) testTTLReadBack(t *testing.T, s store.Store) {
	if su.opts.NoTTL {
		mustSet(t, s, "k", []byte("v"), time.Hour)
		if d, err := s.TTL(bg, "k"); !errors.Is(err, store.ErrNotSupported) {
			t.Errorf("TTL on a store without TTL support: got %v, %v; want ErrNotSupported", d, err)
		}
		return
	}
	res := su.opts.TTLResolution
	mustSet(t, s, "hour", []byte("v"), time.Hour)
	if d, err := s.TTL(bg, "hour"); err != nil || d <= time.Hour-time.Minute || d > time.Hour+res {
		t.Errorf("TTL after Set with ttl 1h: got %v, %v; want in (59m, 1h]", d, err)
	}
	// Millisecond precision: 1.5s must not read back as 1s or 2s.
	ttl := 1500 * time.Millisecond
	if res > 0 {
		ttl = 3 * res
	}
	start := time.Now()
	mustSet(t, s, "ms", []byte("v"), ttl)
	d, err := s.TTL(bg, "ms")
	elapsed := time.Since(start)
	if err != nil && !(errors.Is(err, store.ErrNotFound) && elapsed >= ttl-res) {
		t.Fatalf("TTL after Set with ttl %v: got error %v; want nil", ttl, err)
	}
	if err == nil && (d > ttl+res || d < ttl-elapsed-res-time.Millisecond) {
		t.Errorf("TTL after Set with ttl %v (%v ago): got %v; want in [%v, %v]", ttl, elapsed, d, ttl-elapsed-res, ttl+res)
	}
}

func (su *suite) testTTLMissing(t *testing.T, s store.Store) {
	d, err := s.TTL(bg, "missing")
	if !errors.Is(err, store.ErrNotFound) && !(su.opts.NoTTL && errors.Is(err, store.ErrNotSupported)) {
		t.Errorf("TTL(missing): got %v, %v; want ErrNotFound", d, err)
	}
}

func (su *suite) testExpireSets(t *testing.T, s store.Store) {
	ttl := su.shortTTL()
	mustSet(t, s, "k", []byte("v"), 0)
	start := time.Now()
	if ok, err := s.Expire(bg, "k", ttl); err != nil || !ok {
		t.Fatalf("Expire(k, %v): got %v, %v; want true, nil", ttl, ok, err)
	}
	if !su.opts.NoTTL {
		d, err := s.TTL(bg, "k")
		if su.surelyAlive(start, ttl) && (err != nil || d <= 0 || d > ttl+su.opts.TTLResolution) {
			t.Errorf("TTL after Expire(k, %v): got %v, %v; want in (0, %v]", ttl, d, err, ttl)
		}
	}
	su.waitGone(t, s, "k", start, ttl)

	// Expire can also lengthen a ttl.
	mustSet(t, s, "k2", []byte("v"), ttl)
	if ok, err := s.Expire(bg, "k2", time.Hour); err != nil || !ok {
		t.Fatalf("Expire(k2, 1h): got %v, %v; want true, nil", ok, err)
	}
	su.waitProbe(t, s)
	wantValue(t, s, "k2", []byte("v"))
}

func (su *suite) testExpirePersist(t *testing.T, s store.Store) {
	ttl := su.shortTTL()
	for _, p := range []time.Duration{0, -time.Second} {
		key := "k" + p.String()
		mustSet(t, s, key, []byte("v"), ttl)
		if ok, err := s.Expire(bg, key, p); err != nil || !ok {
			t.Fatalf("Expire(%q, %v): got %v, %v; want true, nil", key, p, ok, err)
		}
		if !su.opts.NoTTL {
			if d, err := s.TTL(bg, key); err != nil || d != 0 {
				t.Errorf("TTL after Expire(%q, %v): got %v, %v; want 0 (no expiry), nil", key, p, d, err)
			}
		}
	}
	// A key without a ttl is still reported as present.
	mustSet(t, s, "plain", []byte("v"), 0)
	if ok, err := s.Expire(bg, "plain", 0); err != nil || !ok {
		t.Errorf("Expire(key without ttl, 0): got %v, %v; want true, nil", ok, err)
	}
	su.waitProbe(t, s)
	wantValue(t, s, "k0s", []byte("v"))
	wantValue(t, s, "k-1s", []byte("v"))
	wantValue(t, s, "plain", []byte("v"))
}

func (su *suite) testExpireMissing(t *testing.T, s store.Store) {
	if ok, err := s.Expire(bg, "missing", time.Hour); err != nil || ok {
		t.Errorf("Expire(missing): got %v, %v; want false, nil", ok, err)
	}
	wantMissing(t, s, "missing")
}

// setAll stores each key with its own name as value.
func setAll(t *testing.T, s store.Store, keys ...string) {
	t.Helper()
	for _, k := range keys {
		mustSet(t, s, k, []byte(k), 0)
	}
}

func (su *suite) testClearNamespace(t *testing.T, s store.Store) {
	setAll(t, s, "foo:1", "foo:2", "foo:v2:3", "foobar:1", "fo:1", "other", "foo")
	if err := s.Clear(bg, "foo:"); err != nil {
		t.Fatalf("Clear(%q): got error %v; want nil", "foo:", err)
	}
	for _, k := range []string{"foo:1", "foo:2", "foo:v2:3"} {
		wantMissing(t, s, k)
	}
	for _, k := range []string{"foobar:1", "fo:1", "other", "foo"} {
		wantValue(t, s, k, []byte(k))
	}
	if err := s.Clear(bg, "nothing-here:"); err != nil {
		t.Errorf("Clear of a prefix with no keys: got error %v; want nil", err)
	}
	// New keys under a cleared namespace are visible.
	setAll(t, s, "foo:1")
	wantValue(t, s, "foo:1", []byte("foo:1"))
}

// testClearGlob checks that prefixes holding glob metacharacters are taken
// literally.
func (su *suite) testClearGlob(t *testing.T, s store.Store) {
	keys := []string{"n*:1", "nx:1", "n?:1", "n[a]:1", "na:1", `n\:1`, "n%:1", "n_:1"}
	setAll(t, s, keys...)
	for _, p := range []string{"n*:", "n?:", "n[a]:", `n\:`, "n%:"} {
		if err := s.Clear(bg, p); err != nil {
			t.Fatalf("Clear(%q): got error %v; want nil", p, err)
		}
		wantMissing(t, s, p+"1")
	}
	for _, k := range []string{"nx:1", "na:1", "n_:1"} {
		wantValue(t, s, k, []byte(k))
	}
}

func (su *suite) testClearAnyPrefix(t *testing.T, s store.Store) {
	setAll(t, s, "ab", "abc", "ab:1", "b", "ba", "a", "xab")
	if err := s.Clear(bg, "ab"); err != nil {
		t.Fatalf("Clear(%q): got error %v; want nil", "ab", err)
	}
	for _, k := range []string{"ab", "abc", "ab:1"} {
		wantMissing(t, s, k)
	}
	for _, k := range []string{"b", "ba", "a", "xab"} {
		wantValue(t, s, k, []byte(k))
	}
}

func (su *suite) testClearAll(t *testing.T, s store.Store) {
	keys := []string{"a", "b:1", "c:d:e", "with space"}
	setAll(t, s, keys...)
	if _, err := s.Increment(bg, "n", 1); err != nil {
		t.Fatalf("Increment: got error %v; want nil", err)
	}
	mustSet(t, s, "ttl", []byte("v"), time.Hour)
	if err := s.Clear(bg, ""); err != nil {
		t.Fatalf("Clear(\"\"): got error %v; want nil", err)
	}
	for _, k := range append(keys, "n", "ttl") {
		wantMissing(t, s, k)
	}
	setAll(t, s, "a")
	wantValue(t, s, "a", []byte("a"))
}
