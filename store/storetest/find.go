package storetest

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/cachet-go/cachet/store"
)

// The checks of store.Finder: what GetFunc promises, plus a lent key that
// the store does not keep (not in the store, not in an error) and a miss
// reported as false, not as an error.

// findChecks returns the Finder checks for a store that keeps values, or
// for one that keeps nothing.
func findChecks(su *suite) []check {
	if su.opts.KeepsNothing {
		return []check{
			{"Finder/KeepsNothing", su.testFindNothing},
			{"Finder/BadInput", su.testFindBadInput},
			{"Finder/Context", su.testFindContext},
			{"Finder/Closed", su.testFindClosed},
		}
	}
	return []check{
		{"Finder/Value", su.testFindValue},
		{"Finder/Missing", su.testFindMissing},
		{"Finder/Expired", su.testFindExpired},
		{"Finder/ErrorOfF", su.testFindErrorOfF},
		{"Finder/LentKey", su.testFindLentKey},
		{"Finder/BadInput", su.testFindBadInput},
		{"Finder/Context", su.testFindContext},
		{"Finder/Closed", su.testFindClosed},
	}
}

// needFinder returns the store's Finder, or skips the check.
func needFinder(t *testing.T, s store.Store) store.Finder {
	t.Helper()
	f, ok := store.As[store.Finder](s)
	if !ok {
		t.Skip("no store in the chain implements store.Finder")
	}
	return f
}

// found calls f.Find and returns a copy of what f was lent, whether it
// was called, what Find reported and its error.
func found(fs store.Finder, ctx context.Context, key string) (got []byte, called, ok bool, err error) {
	ok, err = fs.Find(ctx, key, func(b []byte) error {
		called = true
		got = append(make([]byte, 0, len(b)), b...)
		return nil
	})
	return got, called, ok, err
}

// lentKey is the key of the Finder checks whose errors must not name it.
const lentKey = "storetest-lent-key"

func (su *suite) testFindValue(t *testing.T, s store.Store) {
	fs := needFinder(t, s)
	for _, v := range [][]byte{token, {}, bytes.Repeat([]byte("x"), 10000)} {
		mustSet(t, s, "k", v, time.Hour)
		got, called, ok, err := found(fs, bg, "k")
		if !ok || !called || err != nil || !bytes.Equal(got, v) {
			t.Errorf("Find(k) of %s: got %v, f called %v with %s, error %v; want true, f called with the value, nil", show(v), ok, called, show(got), err)
		}
	}
}

func (su *suite) testFindMissing(t *testing.T, s store.Store) {
	fs := needFinder(t, s)
	mustSet(t, s, "k", token, 0)
	if _, err := s.Delete(bg, "k"); err != nil {
		t.Fatalf("Delete: got error %v; want nil", err)
	}
	for _, k := range []string{"missing", "k"} {
		if _, called, ok, err := found(fs, bg, k); ok || called || err != nil {
			t.Errorf("Find(%q) of a missing key: got %v, f called %v, error %v; want false, f not called, nil", k, ok, called, err)
		}
	}
}

func (su *suite) testFindExpired(t *testing.T, s store.Store) {
	fs := needFinder(t, s)
	ttl := su.shortTTL()
	start := time.Now()
	mustSet(t, s, "short", token, ttl)
	su.waitGone(t, s, "short", start, ttl)
	if _, called, ok, err := found(fs, bg, "short"); ok || called || err != nil {
		t.Errorf("Find of an expired key: got %v, f called %v, error %v; want false, f not called, nil", ok, called, err)
	}
}

// testFindErrorOfF checks that Find returns f's error as it is.
func (su *suite) testFindErrorOfF(t *testing.T, s store.Store) {
	fs := needFinder(t, s)
	mustSet(t, s, "k", token, 0)
	errF := errors.New("storetest: error of f")
	if ok, err := fs.Find(bg, "k", func([]byte) error { return errF }); !ok || err != errF {
		t.Errorf("Find with f returning an error: got %v, %v; want true, f's error as it is", ok, err)
	}
}

// testFindLentKey looks keys up through a buffer that is overwritten after
// each Find, as a caller reusing it does: what the store holds must not
// change with it.
func (su *suite) testFindLentKey(t *testing.T, s store.Store) {
	fs := needFinder(t, s)
	mustSet(t, s, lentKey, token, 0)
	buf := []byte(lentKey)
	key := unsafe.String(&buf[0], len(buf))
	for range 3 {
		if got, _, ok, err := found(fs, bg, key); !ok || err != nil || !bytes.Equal(got, token) {
			t.Fatalf("Find of a key in a buffer: got %v, %s, %v; want true, %s, nil", ok, show(got), err, show(token))
		}
		copy(buf, "XXXXXXXXXXXXXXXXXX") // the caller reuses its buffer
		if ok, err := s.Exists(bg, "XXXXXXXXXXXXXXXXXX"); ok || err != nil {
			t.Errorf("Exists of what the buffer holds after Find: got %v, %v; want false, nil", ok, err)
		}
		v, err := s.Get(bg, lentKey)
		if err != nil || !bytes.Equal(v, token) {
			t.Errorf("Get of the key after its buffer was reused: got %s, %v; want %s, nil", show(v), err, show(token))
		}
		copy(buf, lentKey)
	}
	// A miss through the buffer: nothing is created either.
	copy(buf, "storetest-lent-xxx")
	if _, called, ok, err := found(fs, bg, key); ok || called || err != nil {
		t.Errorf("Find of a missing key in a buffer: got %v, f called %v, error %v; want false, not called, nil", ok, called, err)
	}
	copy(buf, "YYYYYYYYYYYYYYYYYY")
	if ok, err := s.Exists(bg, "storetest-lent-xxx"); ok || err != nil {
		t.Errorf("Exists of a key a Find missed: got %v, %v; want false, nil", ok, err)
	}
}

func (su *suite) testFindBadInput(t *testing.T, s store.Store) {
	fs := needFinder(t, s)
	if _, called, ok, err := found(fs, bg, ""); ok || called || !errors.Is(err, store.ErrInvalidKey) {
		t.Errorf("Find(empty key): got %v, f called %v, error %v; want false, f not called, ErrInvalidKey", ok, called, err)
	}
}

// testFindContext checks a cancelled context's error, which must not
// name the key: the key is only lent.
func (su *suite) testFindContext(t *testing.T, s store.Store) {
	fs := needFinder(t, s)
	if !su.opts.KeepsNothing {
		mustSet(t, s, lentKey, token, 0)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, called, ok, err := found(fs, ctx, lentKey)
	if ok || called || !errors.Is(err, context.Canceled) {
		t.Errorf("Find(cancelled context): got %v, f called %v, error %v; want false, f not called, an error wrapping context.Canceled", ok, called, err)
	}
	if err != nil && strings.Contains(err.Error(), lentKey) {
		t.Errorf("Find(cancelled context): error %q names the key; want an error without it (the key is lent)", err)
	}
}

// testFindClosed checks the error after Close, which must not name the
// key either.
func (su *suite) testFindClosed(t *testing.T, s store.Store) {
	fs := needFinder(t, s)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: got error %v; want nil", err)
	}
	_, called, ok, err := found(fs, bg, lentKey)
	if ok || called || !errors.Is(err, store.ErrClosed) {
		t.Errorf("Find after Close: got %v, f called %v, error %v; want false, f not called, ErrClosed", ok, called, err)
	}
	if err != nil && strings.Contains(err.Error(), lentKey) {
		t.Errorf("Find after Close: error %q names the key; want an error without it (the key is lent)", err)
	}
}

func (su *suite) testFindNothing(t *testing.T, s store.Store) {
	fs := needFinder(t, s)
	mustSet(t, s, "k", token, 0)
	if _, called, ok, err := found(fs, bg, "k"); ok || called || err != nil {
		t.Errorf("Find after Set on a store that keeps nothing: got %v, f called %v, error %v; want false, f not called, nil", ok, called, err)
	}
}
