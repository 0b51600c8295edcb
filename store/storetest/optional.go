package storetest

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/cachet-go/cachet/store"
)

// optional returns the checks of the optional interfaces. Each check
// looks its interface up with store.As, so that it reaches the backend
// through any middleware, and skips when no store in the chain has it.
func (su *suite) optional() []check {
	return append(su.optionalLend(), findChecks(su)...) // find.go
}

// optionalLend returns the checks of CompareAndDeleter and Lender.
func (su *suite) optionalLend() []check {
	if su.opts.KeepsNothing {
		return []check{
			{"CompareAndDelete/KeepsNothing", su.testCADNothing},
			{"CompareAndDelete/BadInput", su.testCADBadInput},
			{"CompareAndDelete/Context", su.testCADContext},
			{"CompareAndDelete/Closed", su.testCADClosed},
			{"Lender/KeepsNothing", su.testLendNothing},
			{"Lender/BadInput", su.testLendBadInput},
			{"Lender/Context", su.testLendContext},
			{"Lender/Closed", su.testLendClosed},
		}
	}
	return []check{
		{"CompareAndDelete/OwnerDeletes", su.testCADOwner},
		{"CompareAndDelete/NonOwnerKeeps", su.testCADNonOwner},
		{"CompareAndDelete/Missing", su.testCADMissing},
		{"CompareAndDelete/Expired", su.testCADExpired},
		{"CompareAndDelete/AddAfter", su.testCADAddAfter},
		{"CompareAndDelete/Concurrent", su.testCADConcurrent},
		{"CompareAndDelete/BadInput", su.testCADBadInput},
		{"CompareAndDelete/Context", su.testCADContext},
		{"CompareAndDelete/Closed", su.testCADClosed},
		{"Lender/Value", su.testLendValue},
		{"Lender/Missing", su.testLendMissing},
		{"Lender/Expired", su.testLendExpired},
		{"Lender/ErrorOfF", su.testLendErrorOfF},
		{"Lender/WriteDuringF", su.testLendWriteDuringF},
		{"Lender/Concurrent", su.testLendConcurrent},
		{"Lender/BadInput", su.testLendBadInput},
		{"Lender/Context", su.testLendContext},
		{"Lender/Closed", su.testLendClosed},
	}
}

// needCAD returns the store's CompareAndDeleter, or skips the check.
func needCAD(t *testing.T, s store.Store) store.CompareAndDeleter {
	t.Helper()
	cad, ok := store.As[store.CompareAndDeleter](s)
	if !ok {
		t.Skip("no store in the chain implements store.CompareAndDeleter")
	}
	return cad
}

// cadKeys are keys a compare-and-delete must handle like any other: with
// namespaces, spaces and Redis Cluster hash tags.
var cadKeys = []string{"lock", "ns:lock", "with space:lock", "{x}:lock", "a", "b"}

// token is a lease token with bytes that trip up text protocols.
var token = []byte("mine\x00\xff\r\n")

func (su *suite) testCADOwner(t *testing.T, s store.Store) {
	cad := needCAD(t, s)
	for _, k := range cadKeys {
		mustSet(t, s, k, token, time.Hour)
		if ok, err := cad.CompareAndDelete(bg, k, token); !ok || err != nil {
			t.Errorf("CompareAndDelete(%q, own value): got %v, %v; want true, nil", k, ok, err)
		}
		wantMissing(t, s, k)
		if ok, err := s.Exists(bg, k); ok || err != nil {
			t.Errorf("Exists(%q) after the owner's CompareAndDelete: got %v, %v; want false, nil", k, ok, err)
		}
	}
}

func (su *suite) testCADNonOwner(t *testing.T, s store.Store) {
	cad := needCAD(t, s)
	for _, k := range cadKeys {
		mustSet(t, s, k, token, time.Hour)
		for _, other := range [][]byte{[]byte("mine"), []byte("theirs"), {}, append(token, 0)} {
			if ok, err := cad.CompareAndDelete(bg, k, other); ok || err != nil {
				t.Errorf("CompareAndDelete(%q, %s) of a key holding %s: got %v, %v; want false, nil", k, show(other), show(token), ok, err)
			}
		}
		wantValue(t, s, k, token)
	}
}

func (su *suite) testCADMissing(t *testing.T, s store.Store) {
	cad := needCAD(t, s)
	for _, k := range []string{"missing", "never:seen"} {
		if ok, err := cad.CompareAndDelete(bg, k, token); ok || err != nil {
			t.Errorf("CompareAndDelete(%q) of a missing key: got %v, %v; want false, nil", k, ok, err)
		}
	}
	// A deleted key is missing too.
	mustSet(t, s, "k", token, 0)
	if _, err := s.Delete(bg, "k"); err != nil {
		t.Fatalf("Delete: got error %v; want nil", err)
	}
	if ok, err := cad.CompareAndDelete(bg, "k", token); ok || err != nil {
		t.Errorf("CompareAndDelete of a deleted key: got %v, %v; want false, nil", ok, err)
	}
}

func (su *suite) testCADExpired(t *testing.T, s store.Store) {
	cad := needCAD(t, s)
	ttl := su.shortTTL()
	start := time.Now()
	mustSet(t, s, "short", token, ttl)
	su.waitGone(t, s, "short", start, ttl)
	if ok, err := cad.CompareAndDelete(bg, "short", token); ok || err != nil {
		t.Errorf("CompareAndDelete of an expired key: got %v, %v; want false, nil", ok, err)
	}
}

func (su *suite) testCADAddAfter(t *testing.T, s store.Store) {
	cad := needCAD(t, s)
	for _, k := range cadKeys {
		if err := s.Add(bg, k, token, time.Hour); err != nil {
			t.Fatalf("Add(%q): got error %v; want nil", k, err)
		}
		if ok, err := cad.CompareAndDelete(bg, k, token); !ok || err != nil {
			t.Fatalf("CompareAndDelete(%q, own value): got %v, %v; want true, nil", k, ok, err)
		}
		// The lease can be taken again at once.
		if err := s.Add(bg, k, []byte("next"), time.Hour); err != nil {
			t.Errorf("Add(%q) after CompareAndDelete: got error %v; want nil", k, err)
		}
		wantValue(t, s, k, []byte("next"))
	}
}

// testCADConcurrent has many goroutines release the same lease at once:
// exactly one of them deletes it.
func (su *suite) testCADConcurrent(t *testing.T, s store.Store) {
	cad := needCAD(t, s)
	const n = 50
	for round := range 3 {
		mustSet(t, s, "lease", token, time.Hour)
		var (
			wg      sync.WaitGroup
			start   = make(chan struct{})
			mu      sync.Mutex
			deleted int
			errs    []error
		)
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				ok, err := cad.CompareAndDelete(bg, "lease", token)
				mu.Lock()
				defer mu.Unlock()
				if ok {
					deleted++
				}
				if err != nil {
					errs = append(errs, err)
				}
			}()
		}
		close(start)
		wg.Wait()
		if len(errs) > 0 {
			t.Errorf("round %d: %d of %d concurrent CompareAndDeletes failed, first: %v; want no error", round, len(errs), n, errs[0])
		}
		if deleted != 1 {
			t.Errorf("round %d: %d of %d concurrent CompareAndDeletes of one key reported deleted; want exactly 1", round, deleted, n)
		}
		wantMissing(t, s, "lease")
	}
}

func (su *suite) testCADBadInput(t *testing.T, s store.Store) {
	cad := needCAD(t, s)
	if _, err := cad.CompareAndDelete(bg, "", token); !errors.Is(err, store.ErrInvalidKey) {
		t.Errorf("CompareAndDelete(empty key): got error %v; want ErrInvalidKey", err)
	}
	if !su.opts.KeepsNothing {
		mustSet(t, s, "k", []byte{}, 0)
	}
	if _, err := cad.CompareAndDelete(bg, "k", nil); !errors.Is(err, store.ErrInvalidValue) {
		t.Errorf("CompareAndDelete(nil value): got error %v; want ErrInvalidValue", err)
	}
	if !su.opts.KeepsNothing {
		wantValue(t, s, "k", []byte{})
	}
}

func (su *suite) testCADContext(t *testing.T, s store.Store) {
	cad := needCAD(t, s)
	if !su.opts.KeepsNothing {
		mustSet(t, s, "k", token, 0)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if ok, err := cad.CompareAndDelete(ctx, "k", token); ok || !errors.Is(err, context.Canceled) {
		t.Errorf("CompareAndDelete(cancelled context): got %v, %v; want false and an error wrapping context.Canceled", ok, err)
	}
	if !su.opts.KeepsNothing {
		wantValue(t, s, "k", token)
	}
}

func (su *suite) testCADClosed(t *testing.T, s store.Store) {
	cad := needCAD(t, s)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: got error %v; want nil", err)
	}
	if ok, err := cad.CompareAndDelete(bg, "k", token); ok || !errors.Is(err, store.ErrClosed) {
		t.Errorf("CompareAndDelete after Close: got %v, %v; want false, ErrClosed", ok, err)
	}
}

func (su *suite) testCADNothing(t *testing.T, s store.Store) {
	cad := needCAD(t, s)
	mustSet(t, s, "k", token, 0)
	if ok, err := cad.CompareAndDelete(bg, "k", token); ok || err != nil {
		t.Errorf("CompareAndDelete after Set on a store that keeps nothing: got %v, %v; want false, nil", ok, err)
	}
}

// needLender returns the store's Lender, or skips the check.
func needLender(t *testing.T, s store.Store) store.Lender {
	t.Helper()
	l, ok := store.As[store.Lender](s)
	if !ok {
		t.Skip("no store in the chain implements store.Lender")
	}
	return l
}

// lent calls l.GetFunc and returns a copy of what f was lent, whether f
// was called, and the error.
func lent(l store.Lender, ctx context.Context, key string) (got []byte, called bool, err error) {
	err = l.GetFunc(ctx, key, func(b []byte) error {
		called = true
		got = append(make([]byte, 0, len(b)), b...)
		return nil
	})
	return got, called, err
}

func (su *suite) testLendValue(t *testing.T, s store.Store) {
	l := needLender(t, s)
	for _, v := range [][]byte{token, {}, bytes.Repeat([]byte("x"), 10000)} {
		mustSet(t, s, "k", v, time.Hour)
		got, called, err := lent(l, bg, "k")
		if !called || err != nil || !bytes.Equal(got, v) {
			t.Errorf("GetFunc(k) of %s: f called %v with %s, error %v; want f called with the value, nil", show(v), called, show(got), err)
		}
	}
}

func (su *suite) testLendMissing(t *testing.T, s store.Store) {
	l := needLender(t, s)
	mustSet(t, s, "k", token, 0)
	if _, err := s.Delete(bg, "k"); err != nil {
		t.Fatalf("Delete: got error %v; want nil", err)
	}
	for _, k := range []string{"missing", "k"} {
		if _, called, err := lent(l, bg, k); called || !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetFunc(%q) of a missing key: f called %v, error %v; want f not called, ErrNotFound", k, called, err)
		}
	}
}

func (su *suite) testLendExpired(t *testing.T, s store.Store) {
	l := needLender(t, s)
	ttl := su.shortTTL()
	start := time.Now()
	mustSet(t, s, "short", token, ttl)
	su.waitGone(t, s, "short", start, ttl)
	if _, called, err := lent(l, bg, "short"); called || !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetFunc of an expired key: f called %v, error %v; want f not called, ErrNotFound", called, err)
	}
}

// testLendErrorOfF checks that GetFunc returns f's error as it is.
func (su *suite) testLendErrorOfF(t *testing.T, s store.Store) {
	l := needLender(t, s)
	mustSet(t, s, "k", token, 0)
	errF := errors.New("storetest: error of f")
	if err := l.GetFunc(bg, "k", func([]byte) error { return errF }); err != errF {
		t.Errorf("GetFunc with f returning an error: got %v; want f's error as it is", err)
	}
}

// testLendWriteDuringF checks that the lent bytes are not changed by
// writes to the key while f runs: the promise that makes lending safe.
func (su *suite) testLendWriteDuringF(t *testing.T, s store.Store) {
	l := needLender(t, s)
	mustSet(t, s, "k", token, 0)
	err := l.GetFunc(bg, "k", func(b []byte) error {
		before := append([]byte(nil), b...)
		if err := s.Set(bg, "k", []byte("other value!"), 0); err != nil {
			return err
		}
		if _, err := s.Increment(bg, "n", 1); err != nil {
			return err
		}
		if _, err := s.Delete(bg, "k"); err != nil {
			return err
		}
		if !bytes.Equal(b, before) {
			t.Errorf("lent bytes changed by writes during f: got %s; want %s", show(b), show(before))
		}
		return nil
	})
	if err != nil {
		t.Errorf("GetFunc with writes inside f: got error %v; want nil", err)
	}
}

// testLendConcurrent has readers borrow a key while writers replace it:
// each read sees one whole written value (and -race sees no write to lent
// bytes).
func (su *suite) testLendConcurrent(t *testing.T, s store.Store) {
	l := needLender(t, s)
	values := [][]byte{bytes.Repeat([]byte("a"), 64), bytes.Repeat([]byte("b"), 64), bytes.Repeat([]byte("c"), 7)}
	mustSet(t, s, "k", values[0], 0)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if err := s.Set(bg, "k", values[(i+w)%len(values)], 0); err != nil {
					t.Errorf("Set: got error %v; want nil", err)
					return
				}
			}
		}()
	}
	for range 2000 {
		got, _, err := lent(l, bg, "k")
		if err != nil {
			t.Errorf("GetFunc during writes: got error %v; want nil", err)
			break
		}
		if !bytes.Equal(got, values[0]) && !bytes.Equal(got, values[1]) && !bytes.Equal(got, values[2]) {
			t.Errorf("GetFunc during writes: f was lent %s; want one of the written values", show(got))
			break
		}
	}
	close(stop)
	wg.Wait()
}

func (su *suite) testLendBadInput(t *testing.T, s store.Store) {
	l := needLender(t, s)
	if _, called, err := lent(l, bg, ""); called || !errors.Is(err, store.ErrInvalidKey) {
		t.Errorf("GetFunc(empty key): f called %v, error %v; want f not called, ErrInvalidKey", called, err)
	}
}

func (su *suite) testLendContext(t *testing.T, s store.Store) {
	l := needLender(t, s)
	if !su.opts.KeepsNothing {
		mustSet(t, s, "k", token, 0)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, called, err := lent(l, ctx, "k"); called || !errors.Is(err, context.Canceled) {
		t.Errorf("GetFunc(cancelled context): f called %v, error %v; want f not called, an error wrapping context.Canceled", called, err)
	}
}

func (su *suite) testLendClosed(t *testing.T, s store.Store) {
	l := needLender(t, s)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: got error %v; want nil", err)
	}
	if _, called, err := lent(l, bg, "k"); called || !errors.Is(err, store.ErrClosed) {
		t.Errorf("GetFunc after Close: f called %v, error %v; want f not called, ErrClosed", called, err)
	}
}

func (su *suite) testLendNothing(t *testing.T, s store.Store) {
	l := needLender(t, s)
	mustSet(t, s, "k", token, 0)
	if _, called, err := lent(l, bg, "k"); called || !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetFunc after Set on a store that keeps nothing: f called %v, error %v; want f not called, ErrNotFound", called, err)
	}
}
