package storetest

import (
	"context"
	"errors"
	"math"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/cachet-go/cachet/store"
)

// swapChecks returns the checks of store.Swapper and
// store.FloatIncrementer. Each skips when no store in the chain has its
// interface.
func (su *suite) swapChecks() []check {
	if su.opts.KeepsNothing {
		return []check{
			{"Swapper/KeepsNothing", su.testSwapNothing},
			{"Swapper/BadInput", su.testSwapBadInput},
			{"Swapper/Context", su.testSwapContext},
			{"Swapper/Closed", su.testSwapClosed},
			{"FloatIncrementer/KeepsNothing", su.testFloatNothing},
			{"FloatIncrementer/BadInput", su.testFloatBadInput},
			{"FloatIncrementer/Context", su.testFloatContext},
			{"FloatIncrementer/Closed", su.testFloatClosed},
		}
	}
	return []check{
		{"Swapper/Missing", su.testSwapMissing},
		{"Swapper/Unchanged", su.testSwapUnchanged},
		{"Swapper/Changed", su.testSwapChanged},
		{"Swapper/Deleted", su.testSwapDeleted},
		{"Swapper/EmptyValue", su.testSwapEmpty},
		{"Swapper/TTL", su.testSwapTTL},
		{"Swapper/Concurrent", su.testSwapConcurrent},
		{"Swapper/BadInput", su.testSwapBadInput},
		{"Swapper/Context", su.testSwapContext},
		{"Swapper/Closed", su.testSwapClosed},
		{"FloatIncrementer/Text", su.testFloatText},
		{"FloatIncrementer/Counter", su.testFloatCounter},
		{"FloatIncrementer/NotNumber", su.testFloatNotNumber},
		{"FloatIncrementer/Overflow", su.testFloatOverflow},
		{"FloatIncrementer/KeepsTTL", su.testFloatKeepsTTL},
		{"FloatIncrementer/Concurrent", su.testFloatConcurrent},
		{"FloatIncrementer/BadInput", su.testFloatBadInput},
		{"FloatIncrementer/Context", su.testFloatContext},
		{"FloatIncrementer/Closed", su.testFloatClosed},
	}
}

// needSwapper returns the store's Swapper, or skips the check.
func needSwapper(t *testing.T, s store.Store) store.Swapper {
	t.Helper()
	sw, ok := store.As[store.Swapper](s)
	if !ok {
		t.Skip("no store in the chain implements store.Swapper")
	}
	return sw
}

// needFloat returns the store's FloatIncrementer, or skips the check.
func needFloat(t *testing.T, s store.Store) store.FloatIncrementer {
	t.Helper()
	fi, ok := store.As[store.FloatIncrementer](s)
	if !ok {
		t.Skip("no store in the chain implements store.FloatIncrementer")
	}
	return fi
}

// mustVersion reads key with GetVersion and checks the value.
func mustVersion(t *testing.T, sw store.Swapper, key string, want []byte) []byte {
	t.Helper()
	v, ver, err := sw.GetVersion(bg, key)
	if err != nil || string(v) != string(want) || v == nil || ver == nil {
		t.Fatalf("GetVersion(%q): got %s, version %v, %v; want %s, a non-nil version, nil", key, show(v), ver != nil, err, show(want))
	}
	return ver
}

func (su *suite) testSwapMissing(t *testing.T, s store.Store) {
	sw := needSwapper(t, s)
	for _, k := range cadKeys {
		if v, ver, err := sw.GetVersion(bg, k); !errors.Is(err, store.ErrNotFound) || v != nil || ver != nil {
			t.Fatalf("GetVersion(%q) of a missing key: got %s, %v, %v; want nil, nil, ErrNotFound", k, show(v), ver, err)
		}
		if ok, err := sw.CompareAndSwap(bg, k, nil, token, 0); !ok || err != nil {
			t.Fatalf("CompareAndSwap(%q, nil version) of a missing key: got %v, %v; want true, nil", k, ok, err)
		}
		wantValue(t, s, k, token)
		// Now the key exists: a nil version no longer matches.
		if ok, err := sw.CompareAndSwap(bg, k, nil, []byte("late"), 0); ok || err != nil {
			t.Errorf("CompareAndSwap(%q, nil version) of an existing key: got %v, %v; want false, nil", k, ok, err)
		}
		wantValue(t, s, k, token)
	}
}

func (su *suite) testSwapUnchanged(t *testing.T, s store.Store) {
	sw := needSwapper(t, s)
	for _, k := range cadKeys {
		mustSet(t, s, k, token, time.Hour)
		ver := mustVersion(t, sw, k, token)
		if ok, err := sw.CompareAndSwap(bg, k, ver, []byte("v2"), time.Hour); !ok || err != nil {
			t.Fatalf("CompareAndSwap(%q) of an unchanged key: got %v, %v; want true, nil", k, ok, err)
		}
		wantValue(t, s, k, []byte("v2"))
		// The version is spent: the key changed since it was read.
		if ok, err := sw.CompareAndSwap(bg, k, ver, []byte("v3"), time.Hour); ok || err != nil {
			t.Errorf("CompareAndSwap(%q) with the version read before a swap: got %v, %v; want false, nil", k, ok, err)
		}
		wantValue(t, s, k, []byte("v2"))
	}
}

func (su *suite) testSwapChanged(t *testing.T, s store.Store) {
	sw := needSwapper(t, s)
	mustSet(t, s, "k", []byte("v1"), 0)
	ver := mustVersion(t, sw, "k", []byte("v1"))
	mustSet(t, s, "k", []byte("other"), 0)
	if ok, err := sw.CompareAndSwap(bg, "k", ver, []byte("mine"), 0); ok || err != nil {
		t.Errorf("CompareAndSwap after another Set: got %v, %v; want false, nil", ok, err)
	}
	wantValue(t, s, "k", []byte("other"))
	// A missing key that another writer creates after the read.
	if _, ver, err := sw.GetVersion(bg, "new"); !errors.Is(err, store.ErrNotFound) || ver != nil {
		t.Fatalf("GetVersion(missing): got version %v, %v; want nil, ErrNotFound", ver, err)
	}
	mustSet(t, s, "new", []byte("theirs"), 0)
	if ok, err := sw.CompareAndSwap(bg, "new", nil, []byte("mine"), 0); ok || err != nil {
		t.Errorf("CompareAndSwap(nil version) after another Set: got %v, %v; want false, nil", ok, err)
	}
	wantValue(t, s, "new", []byte("theirs"))
}

func (su *suite) testSwapDeleted(t *testing.T, s store.Store) {
	sw := needSwapper(t, s)
	mustSet(t, s, "k", token, 0)
	ver := mustVersion(t, sw, "k", token)
	if _, err := s.Delete(bg, "k"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if ok, err := sw.CompareAndSwap(bg, "k", ver, []byte("mine"), 0); ok || err != nil {
		t.Errorf("CompareAndSwap of a key deleted since the read: got %v, %v; want false, nil", ok, err)
	}
	wantMissing(t, s, "k")
}

func (su *suite) testSwapEmpty(t *testing.T, s store.Store) {
	sw := needSwapper(t, s)
	mustSet(t, s, "k", []byte{}, 0)
	ver := mustVersion(t, sw, "k", []byte{})
	if ok, err := sw.CompareAndSwap(bg, "k", ver, []byte{}, 0); !ok || err != nil {
		t.Errorf("CompareAndSwap of an empty value by an empty value: got %v, %v; want true, nil", ok, err)
	}
	wantValue(t, s, "k", []byte{})
}

func (su *suite) testSwapTTL(t *testing.T, s store.Store) {
	sw := needSwapper(t, s)
	ttl := su.shortTTL()
	mustSet(t, s, "k", token, 0)
	ver := mustVersion(t, sw, "k", token)
	start := time.Now()
	if ok, err := sw.CompareAndSwap(bg, "k", ver, []byte("short"), ttl); !ok || err != nil {
		t.Fatalf("CompareAndSwap with a ttl: got %v, %v; want true, nil", ok, err)
	}
	su.waitGone(t, s, "k", start, ttl)
	// A ttl of 0 removes the expiry the key had.
	mustSet(t, s, "k", token, time.Hour)
	ver = mustVersion(t, sw, "k", token)
	if ok, err := sw.CompareAndSwap(bg, "k", ver, []byte("forever"), 0); !ok || err != nil {
		t.Fatalf("CompareAndSwap with ttl 0: got %v, %v; want true, nil", ok, err)
	}
	if !su.opts.NoTTL {
		if d, err := s.TTL(bg, "k"); d != 0 || err != nil {
			t.Errorf("TTL after CompareAndSwap with ttl 0: got %v, %v; want 0, nil", d, err)
		}
	}
}

// testSwapConcurrent has goroutines increment one decimal counter by
// read-modify-write with GetVersion and CompareAndSwap, retrying lost
// races: no increment is lost.
func (su *suite) testSwapConcurrent(t *testing.T, s store.Store) {
	sw := needSwapper(t, s)
	const goroutines, each = 16, 20
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		errs  []error
		start = make(chan struct{})
	)
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for range each {
				if err := swapIncrement(sw, "counter"); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d goroutines failed, first: %v", len(errs), errs[0])
	}
	wantValue(t, s, "counter", []byte(strconv.Itoa(goroutines*each)))
}

// swapIncrement adds 1 to the decimal counter at key, retrying lost
// compare-and-swaps.
func swapIncrement(sw store.Swapper, key string) error {
	for {
		v, ver, err := sw.GetVersion(bg, key)
		n := 0
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return err
		default:
			if n, err = strconv.Atoi(string(v)); err != nil {
				return err
			}
		}
		ok, err := sw.CompareAndSwap(bg, key, ver, []byte(strconv.Itoa(n+1)), 0)
		if err != nil || ok {
			return err
		}
	}
}

func (su *suite) testSwapBadInput(t *testing.T, s store.Store) {
	sw := needSwapper(t, s)
	if _, _, err := sw.GetVersion(bg, ""); !errors.Is(err, store.ErrInvalidKey) {
		t.Errorf("GetVersion(empty key): got error %v; want ErrInvalidKey", err)
	}
	if _, err := sw.CompareAndSwap(bg, "", nil, token, 0); !errors.Is(err, store.ErrInvalidKey) {
		t.Errorf("CompareAndSwap(empty key): got error %v; want ErrInvalidKey", err)
	}
	if ok, err := sw.CompareAndSwap(bg, "k", nil, nil, 0); ok || !errors.Is(err, store.ErrInvalidValue) {
		t.Errorf("CompareAndSwap(nil value): got %v, %v; want false, ErrInvalidValue", ok, err)
	}
	if !su.opts.KeepsNothing {
		wantMissing(t, s, "k")
	}
}

func (su *suite) testSwapContext(t *testing.T, s store.Store) {
	sw := needSwapper(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := sw.GetVersion(ctx, "k"); !errors.Is(err, context.Canceled) {
		t.Errorf("GetVersion(cancelled context): got %v; want an error wrapping context.Canceled", err)
	}
	if ok, err := sw.CompareAndSwap(ctx, "k", nil, token, 0); ok || !errors.Is(err, context.Canceled) {
		t.Errorf("CompareAndSwap(cancelled context): got %v, %v; want false and an error wrapping context.Canceled", ok, err)
	}
	if !su.opts.KeepsNothing {
		wantMissing(t, s, "k")
	}
}

func (su *suite) testSwapClosed(t *testing.T, s store.Store) {
	sw := needSwapper(t, s)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: got error %v; want nil", err)
	}
	if _, _, err := sw.GetVersion(bg, "k"); !errors.Is(err, store.ErrClosed) {
		t.Errorf("GetVersion after Close: got %v; want ErrClosed", err)
	}
	if ok, err := sw.CompareAndSwap(bg, "k", nil, token, 0); ok || !errors.Is(err, store.ErrClosed) {
		t.Errorf("CompareAndSwap after Close: got %v, %v; want false, ErrClosed", ok, err)
	}
}

func (su *suite) testSwapNothing(t *testing.T, s store.Store) {
	sw := needSwapper(t, s)
	mustSet(t, s, "k", token, 0)
	if _, ver, err := sw.GetVersion(bg, "k"); !errors.Is(err, store.ErrNotFound) || ver != nil {
		t.Errorf("GetVersion after Set on a store that keeps nothing: got version %v, %v; want nil, ErrNotFound", ver, err)
	}
	if ok, err := sw.CompareAndSwap(bg, "k", nil, token, 0); !ok || err != nil {
		t.Errorf("CompareAndSwap(nil version) on a store that keeps nothing: got %v, %v; want true (accepted, dropped), nil", ok, err)
	}
	wantMissing(t, s, "k")
}

// floatSteps are increments of one key, each with the text Redis's
// INCRBYFLOAT stores after it.
var floatSteps = []struct {
	delta float64
	text  string
}{
	{10.5, "10.5"},
	{-7.5, "3"},
	{0.1, "3.1"},
	{-3.1, "0"},
	{0.1, "0.1"},
	{0.2, "0.3"},
	{math.Copysign(0, -1), "0.3"},
	{-0.3, "0"},
	{-1e-20, "0"},
	{1e20, "100000000000000000000"},
	{-1e20, "0"},
	{123456789.12345679, "123456789.12345679000281962"}, // the long double of "1.2345678912345679e+08"
	{-123456789.12345679, "0"},
	{-2.25, "-2.25"},
}

func (su *suite) testFloatText(t *testing.T, s store.Store) {
	fi := needFloat(t, s)
	for _, st := range floatSteps {
		got, err := fi.IncrementFloat(bg, "f", st.delta)
		want, _ := strconv.ParseFloat(st.text, 64)
		if err != nil || got != want {
			t.Fatalf("IncrementFloat(%v): got %v, %v; want %v, nil", st.delta, got, err, want)
		}
		wantValue(t, s, "f", []byte(st.text))
	}
}

func (su *suite) testFloatCounter(t *testing.T, s store.Store) {
	fi := needFloat(t, s)
	if _, err := s.Increment(bg, "c", 5); err != nil {
		t.Fatalf("Increment: %v", err)
	}
	if got, err := fi.IncrementFloat(bg, "c", 0.5); err != nil || got != 5.5 {
		t.Fatalf("IncrementFloat(0.5) of the counter 5: got %v, %v; want 5.5, nil", got, err)
	}
	if n, err := s.Increment(bg, "c", 1); !errors.Is(err, store.ErrNotInteger) {
		t.Errorf("Increment of 5.5: got %d, %v; want ErrNotInteger", n, err)
	}
	if got, err := fi.IncrementFloat(bg, "c", 0.5); err != nil || got != 6 {
		t.Fatalf("IncrementFloat(0.5) of 5.5: got %v, %v; want 6, nil", got, err)
	}
	if n, err := s.Increment(bg, "c", 1); err != nil || n != 7 {
		t.Errorf("Increment of the float 6, stored as %q: got %d, %v; want 7, nil", "6", n, err)
	}
	// Numbers as strtod reads them.
	for v, want := range map[string]float64{"1e3": 1001, "+1": 2, ".5": 1.5, "007": 8, "0x10": 17} {
		mustSet(t, s, "c", []byte(v), 0)
		if got, err := fi.IncrementFloat(bg, "c", 1); err != nil || got != want {
			t.Errorf("IncrementFloat(1) of %q: got %v, %v; want %v, nil", v, got, err, want)
		}
	}
}

func (su *suite) testFloatNotNumber(t *testing.T, s store.Store) {
	fi := needFloat(t, s)
	for _, v := range []string{"abc", "", " 1", "1 ", "nan", "1_0", "1p3", "0b1"} {
		mustSet(t, s, "k", []byte(v), 0)
		if got, err := fi.IncrementFloat(bg, "k", 1); !errors.Is(err, store.ErrNotNumber) {
			t.Errorf("IncrementFloat of %q: got %v, %v; want ErrNotNumber", v, got, err)
		}
		wantValue(t, s, "k", []byte(v))
	}
}

func (su *suite) testFloatOverflow(t *testing.T, s store.Store) {
	fi := needFloat(t, s)
	mustSet(t, s, "k", []byte("1e4932"), 0)
	if got, err := fi.IncrementFloat(bg, "k", 1e308); !errors.Is(err, store.ErrOverflow) {
		t.Errorf("IncrementFloat(1e308) of 1e4932: got %v, %v; want ErrOverflow", got, err)
	}
	for _, d := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		mustSet(t, s, "k", []byte("1"), 0)
		if got, err := fi.IncrementFloat(bg, "k", d); !errors.Is(err, store.ErrInvalidValue) {
			t.Errorf("IncrementFloat(%v): got %v, %v; want ErrInvalidValue", d, got, err)
		}
		wantValue(t, s, "k", []byte("1"))
	}
	mustSet(t, s, "k", []byte("inf"), 0)
	if got, err := fi.IncrementFloat(bg, "k", 1); !errors.Is(err, store.ErrOverflow) {
		t.Errorf("IncrementFloat(1) of %q: got %v, %v; want ErrOverflow", "inf", got, err)
	}
	wantValue(t, s, "k", []byte("inf"))
}

func (su *suite) testFloatKeepsTTL(t *testing.T, s store.Store) {
	fi := needFloat(t, s)
	if !su.opts.NoTTL {
		mustSet(t, s, "long", []byte("1"), time.Hour)
		if got, err := fi.IncrementFloat(bg, "long", 0.5); err != nil || got != 1.5 {
			t.Fatalf("IncrementFloat: got %v, %v; want 1.5, nil", got, err)
		}
		if d, err := s.TTL(bg, "long"); err != nil || d <= time.Hour-time.Minute || d > time.Hour+su.opts.TTLResolution {
			t.Errorf("TTL after IncrementFloat of a key with ttl 1h: got %v, %v; want about 1h", d, err)
		}
		if _, err := fi.IncrementFloat(bg, "new", 1); err != nil {
			t.Fatalf("IncrementFloat of a missing key: %v", err)
		}
		if d, err := s.TTL(bg, "new"); d != 0 || err != nil {
			t.Errorf("TTL of a key IncrementFloat created: got %v, %v; want 0 (no expiry), nil", d, err)
		}
	}
	ttl := su.shortTTL()
	start := time.Now()
	mustSet(t, s, "short", []byte("1"), ttl)
	got, err := fi.IncrementFloat(bg, "short", 0.5)
	if su.surelyAlive(start, ttl) && (err != nil || got != 1.5) {
		t.Fatalf("IncrementFloat: got %v, %v; want 1.5, nil", got, err)
	}
	su.waitGone(t, s, "short", start, ttl)
}

func (su *suite) testFloatConcurrent(t *testing.T, s store.Store) {
	fi := needFloat(t, s)
	const goroutines, each = 20, 10
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		errs  []error
		start = make(chan struct{})
	)
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for range each {
				if _, err := fi.IncrementFloat(bg, "f", 0.25); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d goroutines failed, first: %v", len(errs), errs[0])
	}
	wantValue(t, s, "f", []byte("50"))
}

func (su *suite) testFloatBadInput(t *testing.T, s store.Store) {
	fi := needFloat(t, s)
	if _, err := fi.IncrementFloat(bg, "", 1); !errors.Is(err, store.ErrInvalidKey) {
		t.Errorf("IncrementFloat(empty key): got error %v; want ErrInvalidKey", err)
	}
	if _, err := fi.IncrementFloat(bg, "k", math.NaN()); !errors.Is(err, store.ErrInvalidValue) {
		t.Errorf("IncrementFloat(NaN): got error %v; want ErrInvalidValue", err)
	}
	if !su.opts.KeepsNothing {
		wantMissing(t, s, "k")
	}
}

func (su *suite) testFloatContext(t *testing.T, s store.Store) {
	fi := needFloat(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := fi.IncrementFloat(ctx, "k", 1); !errors.Is(err, context.Canceled) {
		t.Errorf("IncrementFloat(cancelled context): got %v; want an error wrapping context.Canceled", err)
	}
	if !su.opts.KeepsNothing {
		wantMissing(t, s, "k")
	}
}

func (su *suite) testFloatClosed(t *testing.T, s store.Store) {
	fi := needFloat(t, s)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: got error %v; want nil", err)
	}
	if _, err := fi.IncrementFloat(bg, "k", 1); !errors.Is(err, store.ErrClosed) {
		t.Errorf("IncrementFloat after Close: got %v; want ErrClosed", err)
	}
}

func (su *suite) testFloatNothing(t *testing.T, s store.Store) {
	fi := needFloat(t, s)
	for _, st := range []struct {
		delta float64
		want  float64
	}{{2.5, 2.5}, {1e-20, 0}, {123456789.12345679, 123456789.12345679000281962}} {
		if got, err := fi.IncrementFloat(bg, "k", st.delta); err != nil || got != st.want {
			t.Errorf("IncrementFloat(%v) on a store that keeps nothing: got %v, %v; want %v, nil", st.delta, got, err, st.want)
		}
	}
	wantMissing(t, s, "k")
}
