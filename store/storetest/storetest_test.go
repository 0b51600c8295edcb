package storetest_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/memstore"
	"github.com/cachet-go/cachet/store/noopstore"
	"github.com/cachet-go/cachet/store/storetest"
)

func newMem(t *testing.T) store.Store {
	s, err := memstore.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRun_Noopstore(t *testing.T) {
	storetest.Run(t, func(*testing.T) store.Store { return noopstore.New() }, &storetest.Options{KeepsNothing: true})
}

// broken wraps a correct store and breaks one rule of the contract.
type broken struct {
	store.Store
	bug    string
	closed bool
	// checked counts the Adds of add-not-atomic that found the key absent.
	checked atomic.Int32
}

func (b *broken) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if b.bug == "ttl-whole-seconds" && ttl > 0 {
		ttl = ttl.Round(time.Second) + time.Second
	}
	if b.bug == "empty-key-accepted" && key == "" {
		key = "empty"
	}
	return b.Store.Set(ctx, key, value, ttl)
}

func (b *broken) Add(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if b.bug != "add-not-atomic" {
		return b.Store.Add(ctx, key, value, ttl)
	}
	ok, err := b.Store.Exists(ctx, key)
	if err != nil {
		return err
	}
	if ok {
		return store.Errorf(store.OpAdd.String(), key, store.ErrExists)
	}
	// Wait (up to a second) until another Add has found the key absent
	// too, so that concurrent Adds interleave however they are scheduled.
	b.checked.Add(1)
	for deadline := time.Now().Add(time.Second); b.checked.Load() < 2 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	return b.Store.Set(ctx, key, value, ttl)
}

func (b *broken) Increment(ctx context.Context, key string, delta int64) (int64, error) {
	if b.bug != "increment-wraps" {
		return b.Store.Increment(ctx, key, delta)
	}
	v, err := b.Store.Get(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		v, err = []byte("0"), nil
	}
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		return 0, store.Errorf(store.OpIncrement.String(), key, store.ErrNotInteger)
	}
	n += delta
	return n, b.Store.Set(ctx, key, []byte(strconv.FormatInt(n, 10)), 0)
}

func (b *broken) Expire(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if b.bug == "persist-ignored" && ttl <= 0 {
		return b.Store.Exists(ctx, key)
	}
	return b.Store.Expire(ctx, key, ttl)
}

func (b *broken) Delete(ctx context.Context, keys ...string) (int, error) {
	n, err := b.Store.Delete(ctx, keys...)
	if b.bug == "delete-counts-all" && err == nil {
		n = len(keys)
	}
	return n, err
}

func (b *broken) GetMany(ctx context.Context, keys []string) ([][]byte, error) {
	vs, err := b.Store.GetMany(ctx, keys)
	if b.bug == "empty-as-missing" {
		for i, v := range vs {
			if len(v) == 0 {
				vs[i] = nil
			}
		}
	}
	return vs, err
}

func (b *broken) Get(ctx context.Context, key string) ([]byte, error) {
	if b.bug == "ignores-context" {
		ctx = context.Background()
	}
	return b.Store.Get(ctx, key)
}

func (b *broken) Clear(ctx context.Context, prefix string) error {
	if b.bug == "clear-without-separator" {
		prefix = strings.TrimSuffix(prefix, ":")
	}
	return b.Store.Clear(ctx, prefix)
}

// CompareAndDelete makes broken a store.CompareAndDeleter.
func (b *broken) CompareAndDelete(ctx context.Context, key string, value []byte) (bool, error) {
	switch b.bug {
	case "cad-ignores-value":
		n, err := b.Store.Delete(ctx, key)
		return n > 0, err
	case "cad-reports-every-reader":
		v, err := b.Store.Get(ctx, key)
		if errors.Is(err, store.ErrNotFound) || err == nil && string(v) != string(value) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		time.Sleep(time.Millisecond) // a round trip between the two commands
		_, err = b.Store.Delete(ctx, key)
		return true, err
	}
	cad, _ := store.As[store.CompareAndDeleter](b.Store)
	return cad.CompareAndDelete(ctx, key, value)
}

// Find makes broken a store.Finder.
func (b *broken) Find(ctx context.Context, key string, f func([]byte) error) (bool, error) {
	fs, _ := store.As[store.Finder](b.Store)
	ok, err := fs.Find(ctx, key, f)
	switch {
	case b.bug == "find-names-key" && err != nil:
		err = store.Errorf(store.OpGet.String(), key, err) // keeps the lent key
	case b.bug == "find-miss-as-error" && !ok && err == nil:
		err = &store.Error{Op: store.OpGet.String(), Key: key, Err: store.ErrNotFound}
	}
	return ok, err
}

func (b *broken) Close() error {
	if b.bug == "close-twice-nil" {
		if b.closed {
			return nil
		}
		b.closed = true
	}
	return b.Store.Close()
}

// TestRun_CatchesBrokenStores checks that the suite fails, in the subtest
// named for the rule, for stores that break one rule each. Each broken store
// runs in a child process (this test binary re-run with an environment
// variable), since a failing subtest would fail this test too.
func TestRun_CatchesBrokenStores(t *testing.T) {
	if os.Getenv("STORETEST_BROKEN") != "" {
		t.Skip("in a child process")
	}
	cases := []struct{ bug, subtest string }{
		{"add-not-atomic", "Add/Concurrent"},
		{"ttl-whole-seconds", "TTL/SubSecondExpiry"},
		{"increment-wraps", "Increment/Overflow"},
		{"persist-ignored", "Expire/PersistWithZeroOrNegative"},
		{"delete-counts-all", "Delete/Count"},
		{"empty-as-missing", "GetMany/OrderAndSlots"},
		{"ignores-context", "Context/Canceled"},
		{"clear-without-separator", "Clear/NamespacePrefix"},
		{"close-twice-nil", "Close/EveryOpAfterClose"},
		{"empty-key-accepted", "InvalidKey/Empty"},
		{"cad-ignores-value", "CompareAndDelete/NonOwnerKeeps"},
		{"cad-reports-every-reader", "CompareAndDelete/Concurrent"},
		{"middleware-hides-capabilities", "Middleware/OptionalReachable"},
		{"find-names-key", "Finder/Closed"},
		{"find-miss-as-error", "Finder/Missing"},
	}
	for _, c := range cases {
		t.Run(c.bug, func(t *testing.T) {
			t.Parallel()
			parts := strings.Split(c.subtest, "/")
			pattern := "^TestBrokenChild$/^" + strings.Join(parts, "$/^") + "$"
			cmd := exec.Command(os.Args[0], "-test.run="+pattern, "-test.v", "-test.count=1")
			cmd.Env = append(os.Environ(), "STORETEST_BROKEN="+c.bug)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("suite on a store with bug %q: got a pass; want a failure in %s\n%s", c.bug, c.subtest, out)
			}
			if want := "--- FAIL: TestBrokenChild/" + c.subtest + " "; !strings.Contains(string(out), want) {
				t.Errorf("suite on a store with bug %q: got output\n%s\nwant a line %q", c.bug, out, want)
			}
		})
	}
}

// TestBrokenChild runs the suite on a broken store; only in a child
// process of TestRun_CatchesBrokenStores.
func TestBrokenChild(t *testing.T) {
	bug := os.Getenv("STORETEST_BROKEN")
	if bug == "" {
		t.Skip("only run by TestRun_CatchesBrokenStores")
	}
	if bug == "middleware-hides-capabilities" {
		storetest.RunMiddleware(t, newMem, func(s store.Store) store.Store { return hiding{s} }, nil)
		return
	}
	storetest.Run(t, func(t *testing.T) store.Store {
		return &broken{Store: newMem(t), bug: bug}
	}, nil)
}

// hiding is a wrapper without Unwrap: it hides every optional interface
// of the store it wraps.
type hiding struct{ store.Store }

func TestRunMiddleware(t *testing.T) {
	for name, mw := range map[string]store.Middleware{
		// &store.Wrapper{Store: s} is TestMyMiddleware's.
		"Identity":  func(s store.Store) store.Store { return s },
		"TwoLayers": store.Chain(func(s store.Store) store.Store { return store.Wrapper{Store: s} }, func(s store.Store) store.Store { return &store.Wrapper{Store: s} }),
	} {
		t.Run(name, func(t *testing.T) { storetest.RunMiddleware(t, newMem, mw, nil) })
	}
	t.Run("Noopstore", func(t *testing.T) {
		storetest.RunMiddleware(t, func(*testing.T) store.Store { return noopstore.New() },
			func(s store.Store) store.Store { return store.Wrapper{Store: s} }, &storetest.Options{KeepsNothing: true})
	})
}

// coarse wraps a correct store to behave like memcached: ttls are rounded
// up to res and measured on a clock that ticks every res (so an entry may
// expire up to res early), TTL is not supported and Clear works only for
// namespace prefixes.
type coarse struct {
	store.Store
	res time.Duration
}

func (c coarse) round(ttl time.Duration) time.Duration {
	if ttl <= 0 {
		return ttl
	}
	n := (ttl + c.res - 1) / c.res * c.res
	return n - time.Duration(time.Now().UnixNano())%c.res
}

func (c coarse) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	return c.Store.Set(ctx, key, value, c.round(ttl))
}

func (c coarse) SetMany(ctx context.Context, entries []store.Entry, ttl time.Duration) error {
	return c.Store.SetMany(ctx, entries, c.round(ttl))
}

func (c coarse) Add(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	return c.Store.Add(ctx, key, value, c.round(ttl))
}

func (c coarse) Expire(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	return c.Store.Expire(ctx, key, c.round(ttl))
}

func (c coarse) TTL(ctx context.Context, key string) (time.Duration, error) {
	if _, err := c.Store.Exists(ctx, key); err != nil {
		return 0, err
	}
	return 0, store.Errorf("ttl", key, store.ErrNotSupported)
}

func (c coarse) Clear(ctx context.Context, prefix string) error {
	if prefix != "" && (!strings.HasSuffix(prefix, ":") || strings.Count(prefix, ":") != 1) {
		if err := ctx.Err(); err != nil {
			return err
		}
		return store.Errorf("clear", prefix, store.ErrNotSupported)
	}
	return c.Store.Clear(ctx, prefix)
}

// TestRun_CoarseOptions checks the suite's own handling of
// TTLResolution, NoTTL and NamespaceClearOnly on a memcached-like store
// with a 100ms clock.
func TestRun_CoarseOptions(t *testing.T) {
	const res = 100 * time.Millisecond
	storetest.Run(t, func(t *testing.T) store.Store {
		return coarse{Store: newMem(t), res: res}
	}, &storetest.Options{TTLResolution: res, NoTTL: true, NamespaceClearOnly: true, MaxValueSize: 1000})
}

// TestRun_Rounding is TestRun_CoarseOptions with TTL read-back.
func TestRun_Rounding(t *testing.T) {
	const res = 100 * time.Millisecond
	storetest.Run(t, func(t *testing.T) store.Store {
		return rounding{coarse{Store: newMem(t), res: res}}
	}, &storetest.Options{TTLResolution: res})
}

// rounding is coarse with TTL read-back and every Clear.
type rounding struct{ coarse }

func (r rounding) TTL(ctx context.Context, key string) (time.Duration, error) {
	return r.Store.TTL(ctx, key)
}

func (r rounding) Clear(ctx context.Context, prefix string) error {
	return r.Store.Clear(ctx, prefix)
}
