package memstore

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cachet-go/cachet/store"
)

var bg = context.Background()

func newStore(t *testing.T, o *Options) *Store {
	t.Helper()
	s, err := New(o)
	if err != nil {
		t.Fatalf("New(%+v): got error %v; want nil", o, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// live returns the keys among keys that hold a value, after the engine
// has finished its pending maintenance (evictions).
func live(t *testing.T, s *Store, keys []string) []string {
	t.Helper()
	s.cache.CleanUp()
	var out []string
	for _, k := range keys {
		if ok, err := s.Exists(bg, k); err != nil {
			t.Fatalf("Exists(%q): got error %v; want nil", k, err)
		} else if ok {
			out = append(out, k)
		}
	}
	return out
}

func fill(t *testing.T, s *Store, n, size int) []string {
	t.Helper()
	keys := make([]string, n)
	v := []byte(strings.Repeat("v", size))
	for i := range keys {
		keys[i] = "key:" + strconv.Itoa(i)
		if err := s.Set(bg, keys[i], v, 0); err != nil {
			t.Fatalf("Set(%q): got error %v; want nil", keys[i], err)
		}
	}
	return keys
}

func TestNew_InvalidOptions(t *testing.T) {
	if s, err := New(&Options{MaxEntries: -1}); err == nil {
		t.Errorf("New(MaxEntries -1): got %v, nil; want an error", s)
	}
	defer func() {
		if recover() == nil {
			t.Errorf("Must(MaxEntries -1): did not panic; want a panic")
		}
	}()
	Must(&Options{MaxEntries: -1})
}

func TestNew_Defaults(t *testing.T) {
	s := newStore(t, nil)
	if got := s.cache.GetMaximum(); got != DefaultMaxBytes {
		t.Errorf("default bound: got %d; want %d bytes", got, DefaultMaxBytes)
	}
	if !s.cache.IsWeighted() {
		t.Errorf("default store: got an unweighted engine; want one bounded by bytes")
	}
}

func TestStore_MaxEntries(t *testing.T) {
	for _, o := range []*Options{
		{MaxEntries: 100, MaxBytes: -1},      // count only
		{MaxEntries: 100},                    // count and the default byte bound
		{MaxEntries: 100, MaxBytes: 1 << 20}, // both
	} {
		t.Run(fmt.Sprintf("%+v", *o), func(t *testing.T) {
			s := newStore(t, o)
			keys := fill(t, s, 1000, 10)
			got := len(live(t, s, keys))
			if got > o.MaxEntries || got < o.MaxEntries/2 {
				t.Errorf("entries after storing 1000: got %d; want at most %d (and not far fewer)", got, o.MaxEntries)
			}
		})
	}
}

func TestStore_MaxBytes(t *testing.T) {
	const maxBytes = 64 << 10
	s := newStore(t, &Options{MaxBytes: maxBytes})
	keys := fill(t, s, 1000, 1000)
	kept := live(t, s, keys)
	total := 0
	for _, k := range kept {
		total += len(k) + 1000 + EntryOverhead
	}
	if total > maxBytes || total < maxBytes/2 {
		t.Errorf("bytes held after storing 1000 KB: got %d in %d entries; want at most %d (and not far fewer)", total, len(kept), maxBytes)
	}
}

func TestStore_Unbounded(t *testing.T) {
	s := newStore(t, &Options{MaxBytes: -1})
	keys := fill(t, s, 5000, 100)
	if got := len(live(t, s, keys)); got != len(keys) {
		t.Errorf("entries in an unbounded store: got %d; want %d", got, len(keys))
	}
}

func TestStore_ValueLargerThanBound(t *testing.T) {
	s := newStore(t, &Options{MaxBytes: 4096})
	big := make([]byte, 4096)
	if err := s.Set(bg, "k", big, 0); !errors.Is(err, store.ErrInvalidValue) {
		t.Errorf("Set of a value larger than MaxBytes: got error %v; want ErrInvalidValue", err)
	}
	if err := s.Add(bg, "k", big, 0); !errors.Is(err, store.ErrInvalidValue) {
		t.Errorf("Add of a value larger than MaxBytes: got error %v; want ErrInvalidValue", err)
	}
	err := s.SetMany(bg, []store.Entry{{Key: "small", Value: []byte("s")}, {Key: "k", Value: big}}, 0)
	if !errors.Is(err, store.ErrInvalidValue) {
		t.Errorf("SetMany with a value larger than MaxBytes: got error %v; want ErrInvalidValue", err)
	}
	if ok, err := s.Exists(bg, "small"); err != nil || ok {
		t.Errorf("SetMany refused for one entry: got the other entry stored; want nothing stored (err %v)", err)
	}
	fits := make([]byte, 4096-EntryOverhead-len("k"))
	if err := s.Set(bg, "k", fits, 0); err != nil {
		t.Errorf("Set of a value that exactly fits: got error %v; want nil", err)
	}
}

// TestStore_ExpiredEntriesReclaimed checks that expired entries leave the
// engine (and free their memory), not only that they are invisible.
func TestStore_ExpiredEntriesReclaimed(t *testing.T) {
	s := newStore(t, nil)
	for i := range 1000 {
		if err := s.Set(bg, "k"+strconv.Itoa(i), []byte("v"), 20*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.cache.CleanUp()
		n := s.cache.EstimatedSize()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("entries held 5s after they expired: got %d; want 0", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if w := s.cache.WeightedSize(); w != 0 {
		t.Errorf("weight held after every entry expired: got %d; want 0", w)
	}
}

// TestStore_TTLPrecision checks millisecond precision of ttls and that the
// engine's deadline is the store's: TTL and Get agree.
func TestStore_TTLPrecision(t *testing.T) {
	s := newStore(t, nil)
	for _, ttl := range []time.Duration{1234 * time.Millisecond, 5*time.Millisecond + 500*time.Microsecond, time.Nanosecond} {
		start := time.Now()
		if err := s.Set(bg, "k", []byte("v"), ttl); err != nil {
			t.Fatal(err)
		}
		d, err := s.TTL(bg, "k")
		elapsed := time.Since(start)
		if elapsed >= ttl {
			if err == nil && d > 0 && d > ttl-elapsed {
				t.Errorf("TTL %v after Set with ttl %v (%v ago): got %v; want at most %v or ErrNotFound", elapsed, ttl, elapsed, d, ttl-elapsed)
			}
			continue
		}
		if err != nil || d > ttl || d < ttl-elapsed {
			t.Errorf("TTL after Set with ttl %v (%v ago): got %v, %v; want in [%v, %v]", ttl, elapsed, d, err, ttl-elapsed, ttl)
		}
		if e, ok := s.cache.GetEntryQuietly("k"); ok && e.ExpiresAtNano != e.Value.exp {
			t.Errorf("engine deadline: got %d; want the entry's own %d", e.ExpiresAtNano, e.Value.exp)
		}
	}
}

// TestStore_ConcurrentMixed runs every operation at once on a small
// keyspace; with -race it checks the store's synchronisation, and it checks
// that readers only ever see whole values that some writer wrote.
func TestStore_ConcurrentMixed(t *testing.T) {
	s := newStore(t, &Options{MaxEntries: 50})
	const workers, rounds = 8, 400
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				k := "k" + strconv.Itoa((i*7+w)%20)
				c := "c" + strconv.Itoa(i%3)
				want := []byte("value-of-" + k)
				var err error
				switch i % 9 {
				case 0:
					err = s.Set(bg, k, want, time.Duration(i%3)*time.Millisecond)
				case 1:
					var got []byte
					got, err = s.Get(bg, k)
					if err == nil && string(got) != string(want) {
						err = fmt.Errorf("Get(%q): got %q; want %q", k, got, want)
					}
				case 2:
					err = s.Add(bg, k, want, 0)
					if errors.Is(err, store.ErrExists) {
						err = nil
					}
				case 3:
					_, err = s.Increment(bg, c, 1)
				case 4:
					_, err = s.Expire(bg, k, time.Duration(i%2)*time.Millisecond)
				case 5:
					_, err = s.Delete(bg, k, "k0")
				case 6:
					var got [][]byte
					got, err = s.GetMany(bg, []string{k, "k1"})
					if err == nil && got[0] != nil && string(got[0]) != string(want) {
						err = fmt.Errorf("GetMany(%q): got %q; want %q", k, got[0], want)
					}
				case 7:
					err = s.Clear(bg, "k1")
				case 8:
					_, err = s.TTL(bg, k)
				}
				if err != nil && !errors.Is(err, store.ErrNotFound) {
					errc <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
}

// TestStore_CloseWhileInUse checks that closing a store in use neither
// panics nor returns anything but the operations' own results or
// ErrClosed.
func TestStore_CloseWhileInUse(t *testing.T) {
	s, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	started := make(chan struct{})
	errc := make(chan error, 4)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				if i == 100 && w == 0 {
					close(started)
				}
				k := "k" + strconv.Itoa(i%10)
				err := s.Set(bg, k, []byte("v"), 0)
				if err == nil {
					_, err = s.Get(bg, k)
				}
				if errors.Is(err, store.ErrClosed) {
					return
				}
				if err != nil && !errors.Is(err, store.ErrNotFound) {
					errc <- err
					return
				}
			}
		}()
	}
	<-started
	if err := s.Close(); err != nil {
		t.Errorf("Close: got error %v; want nil", err)
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Errorf("operation racing Close: got error %v; want nil, ErrNotFound or ErrClosed", err)
	}
}

func TestStore_ErrorsNameOperationAndKey(t *testing.T) {
	s := newStore(t, nil)
	_, err := s.Get(bg, "user:42")
	if got, want := fmt.Sprint(err), `cachet: get "user:42": store: key not found`; got != want {
		t.Errorf("Get(missing) error: got %q; want %q", got, want)
	}
	if err := s.Set(bg, "n", []byte("x1"), 0); err != nil {
		t.Fatal(err)
	}
	_, err = s.Increment(bg, "n", 1)
	if got, want := fmt.Sprint(err), `cachet: increment "n": store: value is not an integer: "x1"`; got != want {
		t.Errorf("Increment(non-integer) error: got %q; want %q", got, want)
	}
}

// doneAfter is a context whose Err reports context.Canceled from its
// n-th call on, to cancel in the middle of an operation.
type doneAfter struct {
	context.Context
	calls, n int
}

func (d *doneAfter) Err() error {
	d.calls++
	if d.calls >= d.n {
		return context.Canceled
	}
	return nil
}

func TestStore_ClearStopsWhenContextDone(t *testing.T) {
	s := newStore(t, &Options{MaxBytes: -1})
	keys := fill(t, s, 5000, 1)
	// Live for the check at the start, done at the first check inside.
	ctx := &doneAfter{Context: bg, n: 2}
	if err := s.Clear(ctx, "key:"); !errors.Is(err, context.Canceled) {
		t.Errorf("Clear cancelled while it runs: got %v; want context.Canceled", err)
	}
	if got := len(live(t, s, keys)); got == 0 || got == len(keys) {
		t.Errorf("keys after a Clear cancelled part way: got %d; want some but not all of %d", got, len(keys))
	}
	if err := s.Clear(bg, "key:"); err != nil {
		t.Fatalf("Clear: got error %v; want nil", err)
	}
	if got := len(live(t, s, keys)); got != 0 {
		t.Errorf("keys after Clear(\"key:\"): got %d; want 0", got)
	}
}

// wantParseInt is parseInt's specification: what strconv.ParseInt
// accepts, and only in the form strconv.FormatInt writes.
func wantParseInt(in string) (int64, bool) {
	v, err := strconv.ParseInt(in, 10, 64)
	return v, err == nil && strconv.FormatInt(v, 10) == in
}

func TestParseInt(t *testing.T) {
	for _, in := range []string{
		"0", "-0", "+0", "00", "7", "-7", "+7", "+41", "041", "007", "9223372036854775807", "-9223372036854775808",
		"9223372036854775808", "-9223372036854775809", "99999999999999999999", "1234567890123456789", "00000000000000000000", "-000000000000000000001",
		"", "-", "+", "--1", "1-", " 1", "1 ", "1.5", "1e3", "0x10", "1_000", "abc", "١",
	} {
		want, wok := wantParseInt(in)
		got, ok := parseInt([]byte(in))
		if ok != wok || (ok && got != want) {
			t.Errorf("parseInt(%q): got %d, %v; want %d, %v", in, got, ok, want, wok)
		}
	}
}

func FuzzParseInt(f *testing.F) {
	for _, s := range []string{"0", "-9223372036854775808", "9223372036854775807", "+1", "x", "-0", "01"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		want, wok := wantParseInt(in)
		got, ok := parseInt([]byte(in))
		if ok != wok || (ok && got != want) {
			t.Errorf("parseInt(%q): got %d, %v; want %d, %v", in, got, ok, want, wok)
		}
	})
}

// TestStore_IncrementCanonicalOnly is the regression test of issue 12 #11:
// Increment treats only canonical decimals as integers, as Redis does.
func TestStore_IncrementCanonicalOnly(t *testing.T) {
	s := newStore(t, nil)
	for _, in := range []string{"+41", "041", "-0", "00", " 1", "1 ", "+0", "-01"} {
		if err := s.Set(bg, "n", []byte(in), 0); err != nil {
			t.Fatal(err)
		}
		if n, err := s.Increment(bg, "n", 1); !errors.Is(err, store.ErrNotInteger) {
			t.Errorf("Increment of %q: got %d, %v; want ErrNotInteger", in, n, err)
		}
		if v, err := s.Get(bg, "n"); err != nil || string(v) != in {
			t.Errorf("value after a refused Increment of %q: got %q; want it unchanged (err %v)", in, v, err)
		}
	}
	for _, c := range []struct {
		in   string
		want int64
	}{{"0", 1}, {"-5", -4}, {"123", 124}, {"-1", 0}, {"9223372036854775806", 9223372036854775807}} {
		if err := s.Set(bg, "n", []byte(c.in), 0); err != nil {
			t.Fatal(err)
		}
		if n, err := s.Increment(bg, "n", 1); err != nil || n != c.want {
			t.Errorf("Increment of %q: got %d, %v; want %d, nil", c.in, n, err, c.want)
		}
	}
}

// writeBatch is the most writes otter applies in one maintenance pass
// before it evicts: 128 × GOMAXPROCS (at most NumCPU), rounded up to a
// power of two. The bounds are exceeded by at most two of them.
func writeBatch() int {
	return 128 * roundUpPow2(min(runtime.GOMAXPROCS(0), runtime.NumCPU()))
}

// TestStore_FrequentKeySurvivesBurst is the regression test of issue 12
// #6: in a store bounded by bytes (also what MaxEntries alone uses) a key
// read 50 times was evicted by a burst of 1,000 keys written once, because
// the engine rebuilt its frequency sketch, forgetting every count, as the
// burst pushed the number of entries past the next power of two.
func TestStore_FrequentKeySurvivesBurst(t *testing.T) {
	for _, o := range []*Options{
		{MaxEntries: 100},
		{MaxBytes: 100 << 10}, // about 100 entries of 1 KiB
		{MaxEntries: 100, MaxBytes: 1 << 20},
	} {
		t.Run(fmt.Sprintf("%+v", *o), func(t *testing.T) {
			v := []byte(strings.Repeat("v", 900))
			for round := range 5 {
				s := newStore(t, o)
				for i := range 50 {
					if err := s.Set(bg, "warm:"+strconv.Itoa(i), v, 0); err != nil {
						t.Fatal(err)
					}
				}
				if err := s.Set(bg, "hot", v, 0); err != nil {
					t.Fatal(err)
				}
				for range 50 {
					if _, err := s.Get(bg, "hot"); err != nil {
						t.Fatalf("Get(hot): got error %v; want nil", err)
					}
				}
				s.cache.CleanUp() // the reads reach the engine's policy
				for i := range 1000 {
					if err := s.Set(bg, "burst:"+strconv.Itoa(i), v, 0); err != nil {
						t.Fatal(err)
					}
				}
				if got := live(t, s, []string{"hot"}); len(got) != 1 {
					t.Errorf("round %d: key read 50 times, after 1000 keys written once: got evicted; want kept", round)
				}
			}
		})
	}
}

// TestStore_EntryCountNearBound checks how far a burst of writes takes a
// store past its bound: at most the two write batches doc.go states while
// the engine catches up, and not at all once its pending work is applied.
func TestStore_EntryCountNearBound(t *testing.T) {
	const maxEntries = 100
	s := newStore(t, &Options{MaxEntries: maxEntries})
	limit := maxEntries + 2*writeBatch() + 1
	peak := 0
	for i := range 2000 {
		if err := s.Set(bg, "k"+strconv.Itoa(i), []byte("v"), 0); err != nil {
			t.Fatal(err)
		}
		peak = max(peak, s.cache.EstimatedSize())
	}
	if peak > limit {
		t.Errorf("entries held during a burst of writes to a %d-entry store: got a peak of %d; want at most %d", maxEntries, peak, limit)
	}
	s.cache.CleanUp()
	if n := s.cache.EstimatedSize(); n > maxEntries {
		t.Errorf("entries held once pending work is applied: got %d; want at most %d", n, maxEntries)
	}
}

func TestStore_Options(t *testing.T) {
	for _, o := range []Options{
		{},
		{MaxEntries: 100},
		{MaxBytes: -1},
		{MaxEntries: 100, MaxBytes: 1 << 20},
	} {
		got := newStore(t, &o).Options()
		if got.MaxEntries != o.MaxEntries || got.MaxBytes != o.MaxBytes {
			t.Errorf("New(%+v).Options() = %+v; want the same bounds", o, got)
		}
	}
	if got := newStore(t, nil).Options(); got.MaxEntries != 0 || got.MaxBytes != 0 || got.OnRemove != nil {
		t.Errorf("New(nil).Options() = %+v; want the zero Options", got)
	}
}
