package cachet_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachet-go/cachet"
	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/memstore"
	"github.com/cachet-go/cachet/store/noopstore"
)

type User struct {
	ID    int      `json:"id" msgpack:"id"`
	Name  string   `json:"name" msgpack:"name"`
	Email string   `json:"email" msgpack:"email"`
	Tags  []string `json:"tags,omitempty" msgpack:"tags,omitempty"`
}

func newMem(t testing.TB) *memstore.Store {
	t.Helper()
	s, err := memstore.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newUsers(t testing.TB, s store.Store, o *cachet.Options[string]) *cachet.Cache[string, User] {
	t.Helper()
	c, err := cachet.New[string](s, codec.JSON[User](), o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCache_SetGet(t *testing.T) {
	ctx := context.Background()
	c := newUsers(t, newMem(t), &cachet.Options[string]{Namespace: "users"})
	want := User{ID: 1, Name: "Ada", Tags: []string{"admin"}}
	if err := c.Set(ctx, "1", want); err != nil {
		t.Fatal(err)
	}
	got, err := c.Get(ctx, "1")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %+v; want %+v", got, want)
	}
	raw, err := c.Store().Get(ctx, "users:1")
	if err != nil {
		t.Fatalf("raw store key users:1: %v", err)
	}
	if string(raw) != `{"id":1,"name":"Ada","email":"","tags":["admin"]}` {
		t.Fatalf("raw value = %s; want the JSON encoding", raw)
	}
	if _, err := c.Get(ctx, "2"); !errors.Is(err, cachet.ErrNotFound) {
		t.Fatalf("Get missing: err = %v; want ErrNotFound", err)
	}
}

func TestCache_TTL(t *testing.T) {
	ctx := context.Background()
	c := newUsers(t, newMem(t), &cachet.Options[string]{Namespace: "u", TTL: time.Hour})

	if err := c.Set(ctx, "default", User{}); err != nil {
		t.Fatal(err)
	}
	if d, err := c.TTL(ctx, "default"); err != nil || d <= 59*time.Minute || d > time.Hour {
		t.Fatalf("TTL after Set = %v, %v; want about 1h (the default)", d, err)
	}
	if err := c.SetWithTTL(ctx, "never", User{}, cachet.NoExpiry); err != nil {
		t.Fatal(err)
	}
	if d, err := c.TTL(ctx, "never"); err != nil || d != 0 {
		t.Fatalf("TTL after NoExpiry = %v, %v; want 0", d, err)
	}
	if err := c.SetWithTTL(ctx, "short", User{}, 30*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		_, err := c.Get(ctx, "short")
		if errors.Is(err, cachet.ErrNotFound) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("value with a 30ms ttl still readable after 2s")
		}
		time.Sleep(5 * time.Millisecond) // polling an expiry, not synchronising
	}
	if err := c.SetWithTTL(ctx, "bad", User{}, -5*time.Second); !errors.Is(err, cachet.ErrInvalidTTL) {
		t.Fatalf("negative ttl: err = %v; want ErrInvalidTTL", err)
	}
	if _, err := c.Expire(ctx, "never", -2); !errors.Is(err, cachet.ErrInvalidTTL) {
		t.Fatalf("Expire negative ttl: err = %v; want ErrInvalidTTL", err)
	}
	if ok, err := c.Expire(ctx, "default", cachet.NoExpiry); err != nil || !ok {
		t.Fatalf("Expire NoExpiry = %v, %v; want true", ok, err)
	}
	if d, err := c.TTL(ctx, "default"); err != nil || d != 0 {
		t.Fatalf("TTL after persist = %v; want 0 (err %v)", d, err)
	}
	if ok, err := c.Expire(ctx, "missing", time.Minute); err != nil || ok {
		t.Fatalf("Expire missing = %v, %v; want false", ok, err)
	}
}

func TestCache_GetManySetMany(t *testing.T) {
	ctx := context.Background()
	c := newUsers(t, newMem(t), &cachet.Options[string]{Namespace: "u"})
	in := map[string]User{"a": {ID: 1}, "b": {ID: 2}, "c": {ID: 3}}
	if err := c.SetMany(ctx, in); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetMany(ctx, []string{"a", "x", "c", "a"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["a"].ID != 1 || got["c"].ID != 3 {
		t.Fatalf("GetMany = %+v; want a and c only", got)
	}
	if got, err := c.GetMany(ctx, nil); err != nil || len(got) != 0 {
		t.Fatalf("GetMany(nil) = %v, %v; want empty", got, err)
	}
	if n, err := c.Delete(ctx, "a", "b", "x"); err != nil || n != 2 {
		t.Fatalf("Delete = %d, %v; want 2", n, err)
	}
	if ok, err := c.Exists(ctx, "a"); err != nil || ok {
		t.Fatalf("a exists after Delete (err %v)", err)
	}
}

func TestCache_Add(t *testing.T) {
	ctx := context.Background()
	c := newUsers(t, newMem(t), nil)
	const n = 100
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			err := c.Add(ctx, "k", User{ID: i})
			switch {
			case err == nil:
				wins.Add(1)
			case !errors.Is(err, cachet.ErrExists):
				t.Errorf("Add: %v", err)
			}
		}(i)
	}
	wg.Wait()
	if w := wins.Load(); w != 1 {
		t.Fatalf("%d Adds won; want exactly 1", w)
	}
}

func TestCache_Increment(t *testing.T) {
	ctx := context.Background()
	c, err := cachet.New[string](newMem(t), codec.String(), &cachet.Options[string]{Namespace: "hits"})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Increment(ctx, "page", 2); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if v, err := c.Get(ctx, "page"); err != nil || v != "100" {
		t.Fatalf("counter = %q, %v; want \"100\"", v, err)
	}
	if n, err := c.Increment(ctx, "page", -101); err != nil || n != -1 {
		t.Fatalf("Increment -101 = %d, %v; want -1", n, err)
	}
	if err := c.Set(ctx, "word", "hello"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Increment(ctx, "word", 1); !errors.Is(err, cachet.ErrNotInteger) {
		t.Fatalf("Increment of text: err = %v; want ErrNotInteger", err)
	}
}

func TestCache_ClearNamespaceOnly(t *testing.T) {
	ctx := context.Background()
	s := newMem(t)
	foo := newUsers(t, s, &cachet.Options[string]{Namespace: "foo"})
	foobar := newUsers(t, s, &cachet.Options[string]{Namespace: "foobar"})
	fooV2 := newUsers(t, s, &cachet.Options[string]{Namespace: "foo", Version: 2})
	for _, c := range []*cachet.Cache[string, User]{foo, foobar, fooV2} {
		if err := c.Set(ctx, "k", User{ID: 7}); err != nil {
			t.Fatal(err)
		}
	}
	if err := foo.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := foo.Get(ctx, "k"); !errors.Is(err, cachet.ErrNotFound) {
		t.Fatalf("foo:k after Clear: err = %v; want ErrNotFound", err)
	}
	if _, err := fooV2.Get(ctx, "k"); !errors.Is(err, cachet.ErrNotFound) {
		t.Fatalf("foo:2:k after Clear of foo: err = %v; want ErrNotFound (Clear covers every version)", err)
	}
	if u, err := foobar.Get(ctx, "k"); err != nil || u.ID != 7 {
		t.Fatalf("foobar:k after Clear of foo = %+v, %v; want it kept", u, err)
	}
	// A cache without a namespace refuses Clear, and clears the whole
	// store only through ClearAll.
	all := newUsers(t, s, nil)
	if err := all.Clear(ctx); !errors.Is(err, cachet.ErrClearAll) {
		t.Fatalf("Clear without a namespace: err = %v; want ErrClearAll", err)
	}
	if u, err := foobar.Get(ctx, "k"); err != nil || u.ID != 7 {
		t.Fatalf("foobar:k after a refused Clear = %+v, %v; want it kept", u, err)
	}
	if err := all.ClearAll(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := foobar.Get(ctx, "k"); !errors.Is(err, cachet.ErrNotFound) {
		t.Fatalf("foobar:k after a store-wide Clear: err = %v; want ErrNotFound", err)
	}
}

func TestCache_VersionsDoNotShareKeys(t *testing.T) {
	ctx := context.Background()
	s := newMem(t)
	v1 := newUsers(t, s, &cachet.Options[string]{Namespace: "u", Version: 1})
	v2 := newUsers(t, s, &cachet.Options[string]{Namespace: "u", Version: "2"})
	if err := v1.Set(ctx, "k", User{ID: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := v2.Get(ctx, "k"); !errors.Is(err, cachet.ErrNotFound) {
		t.Fatalf("v2 sees v1's key: err = %v; want ErrNotFound", err)
	}
	if key, err := v2.Key("k"); err != nil || key != "u:2:k" {
		t.Fatalf("Key = %q; want u:2:k (err %v)", key, err)
	}
}

func TestCache_BadInput(t *testing.T) {
	ctx := context.Background()
	s := newMem(t)
	c := newUsers(t, s, &cachet.Options[string]{Namespace: "u"})
	if _, err := c.Get(ctx, ""); !errors.Is(err, cachet.ErrInvalidKey) {
		t.Fatalf("Get empty key: err = %v; want ErrInvalidKey", err)
	}
	if err := c.Set(ctx, "", User{}); !errors.Is(err, cachet.ErrInvalidKey) {
		t.Fatalf("Set empty key: err = %v; want ErrInvalidKey", err)
	}
	// A corrupt stored value is a decode error naming the key.
	if err := s.Set(ctx, "u:bad", []byte("{not json"), 0); err != nil {
		t.Fatal(err)
	}
	_, err := c.Get(ctx, "bad")
	if !errors.Is(err, cachet.ErrDecode) {
		t.Fatalf("Get corrupt: err = %v; want ErrDecode", err)
	}
	var ce *cachet.Error
	if !errors.As(err, &ce) || ce.Op != "get" || ce.Key != "u:bad" {
		t.Fatalf("Get corrupt: err = %#v; want an *Error naming get and u:bad", err)
	}
	if _, err := c.GetMany(ctx, []string{"bad"}); !errors.Is(err, cachet.ErrDecode) {
		t.Fatalf("GetMany corrupt: err = %v; want ErrDecode", err)
	}

	for _, o := range []*cachet.Options[string]{
		{Namespace: "a:b"},
		{Namespace: "a", Version: 1.5},
		{TTL: -3 * time.Second},
	} {
		if _, err := cachet.New[string](s, codec.JSON[User](), o); !errors.Is(err, cachet.ErrInvalidOption) {
			t.Errorf("New(%+v): err = %v; want ErrInvalidOption", o, err)
		}
	}
	if _, err := cachet.New[string, User](s, nil, nil); !errors.Is(err, cachet.ErrInvalidOption) {
		t.Errorf("New with nil codec: err = %v; want ErrInvalidOption", err)
	}
	type composite struct{ A, B int }
	if _, err := cachet.New[composite](s, codec.JSON[User](), nil); !errors.Is(err, cachet.ErrInvalidOption) {
		t.Errorf("New with a struct key and no Key func: err = %v; want ErrInvalidOption", err)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("New(nil store) did not panic")
			}
		}()
		cachet.New[string](nil, codec.JSON[User](), nil)
	}()
}

// An unencodable value fails loudly even on a store that keeps nothing.
func TestCache_NoopStillEncodes(t *testing.T) {
	ctx := context.Background()
	c, err := cachet.New[string](noopstore.New(), codec.JSON[map[string]any](), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Set(ctx, "k", map[string]any{"f": func() {}}); !errors.Is(err, cachet.ErrEncode) {
		t.Fatalf("Set unencodable on noop: err = %v; want ErrEncode", err)
	}
	if err := c.Set(ctx, "k", map[string]any{"ok": 1}); err != nil {
		t.Fatalf("Set on noop: %v", err)
	}
	if _, err := c.Get(ctx, "k"); !errors.Is(err, cachet.ErrNotFound) {
		t.Fatalf("Get on noop: err = %v; want ErrNotFound", err)
	}
}

// waitingStore stands for a networked store: its Get waits until the
// context ends. It wraps a real memstore but hides its InProcess marker.
type waitingStore struct{ store.Store }

func (w waitingStore) Get(ctx context.Context, key string) ([]byte, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func TestCache_Timeout(t *testing.T) {
	c := newUsers(t, waitingStore{newMem(t)}, &cachet.Options[string]{Timeout: 20 * time.Millisecond})
	_, err := c.Get(context.Background(), "k")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get with a 20ms timeout on a waiting store: err = %v; want DeadlineExceeded", err)
	}
	// An earlier deadline of the caller's wins.
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	slow := newUsers(t, waitingStore{newMem(t)}, &cachet.Options[string]{Timeout: time.Hour})
	if _, err := slow.Get(ctx, "k"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get with the caller's 1ms deadline: err = %v; want DeadlineExceeded", err)
	}
	// memstore never waits, so the timeout is not applied to it.
	mem := newUsers(t, newMem(t), &cachet.Options[string]{Timeout: time.Nanosecond})
	if err := mem.Set(context.Background(), "k", User{ID: 1}); err != nil {
		t.Fatalf("Set on memstore with a 1ns timeout: %v; want the timeout skipped", err)
	}
	off := newUsers(t, waitingStore{newMem(t)}, &cachet.Options[string]{Timeout: -1})
	if err := off.Set(context.Background(), "k", User{}); err != nil {
		t.Fatalf("Set with the timeout disabled: %v", err)
	}
}

func TestCache_ClosedAndCancelled(t *testing.T) {
	c := newUsers(t, newMem(t), nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Get(ctx, "k"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Get with cancelled ctx: err = %v; want context.Canceled", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Set(context.Background(), "k", User{}); !errors.Is(err, cachet.ErrClosed) {
		t.Fatalf("Set after Close: err = %v; want ErrClosed", err)
	}
}

func TestCache_Middleware(t *testing.T) {
	ctx := context.Background()
	var calls []string
	var mu sync.Mutex
	trace := func(name string) store.Middleware {
		return func(next store.Store) store.Store {
			return &tracing{Store: next, name: name, calls: &calls, mu: &mu}
		}
	}
	s := newMem(t)
	c := newUsers(t, s, &cachet.Options[string]{Middleware: []store.Middleware{trace("outer"), trace("inner")}})
	if _, err := c.Get(ctx, "k"); !errors.Is(err, cachet.ErrNotFound) {
		t.Fatal(err)
	}
	if fmt.Sprint(calls) != "[outer inner]" {
		t.Fatalf("calls = %v; want [outer inner]", calls)
	}
	if c.Store() != store.Store(s) {
		t.Fatal("Store() is not the backend given to New")
	}
}

type tracing struct {
	store.Store
	name  string
	calls *[]string
	mu    *sync.Mutex
}

func (t *tracing) Get(ctx context.Context, key string) ([]byte, error) {
	t.mu.Lock()
	*t.calls = append(*t.calls, t.name)
	t.mu.Unlock()
	return t.Store.Get(ctx, key)
}

func (t *tracing) Unwrap() store.Store { return t.Store }

func TestCache_GetOrLoad(t *testing.T) {
	ctx := context.Background()
	c := newUsers(t, newMem(t), &cachet.Options[string]{Namespace: "u"})
	var calls atomic.Int32
	release := make(chan struct{})
	load := func(context.Context) (User, error) {
		calls.Add(1)
		<-release
		return User{ID: 9}, nil
	}
	const n = 100
	var wg sync.WaitGroup
	var started sync.WaitGroup
	started.Add(n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			started.Done()
			u, err := c.GetOrLoad(ctx, "k", load)
			if err != nil || u.ID != 9 {
				t.Errorf("GetOrLoad = %+v, %v; want ID 9", u, err)
			}
		}()
	}
	started.Wait()
	close(release)
	wg.Wait()
	// Callers that arrive after the load finished read the cached value,
	// so whatever the interleaving, load runs once.
	if got := calls.Load(); got != 1 {
		t.Fatalf("load ran %d times; want 1", got)
	}
	if u, err := c.Get(ctx, "k"); err != nil || u.ID != 9 {
		t.Fatalf("cached value = %+v, %v; want ID 9", u, err)
	}

	boom := errors.New("boom")
	if _, err := c.GetOrLoad(ctx, "e", func(context.Context) (User, error) { return User{}, boom }); !errors.Is(err, boom) {
		t.Fatalf("GetOrLoad with failing loader: err = %v; want boom", err)
	}
	if ok, err := c.Exists(ctx, "e"); err != nil || ok {
		t.Fatalf("a failed load was cached (err %v)", err)
	}
}

// The cache is an optimisation: with the store closed, GetOrLoad still
// answers from the loader.
func TestCache_GetOrLoadStoreDown(t *testing.T) {
	s := newMem(t)
	c := newUsers(t, s, nil)
	s.Close()
	u, err := c.GetOrLoad(context.Background(), "k", func(context.Context) (User, error) { return User{ID: 3}, nil })
	if err != nil || u.ID != 3 {
		t.Fatalf("GetOrLoad on a closed store = %+v, %v; want ID 3 from the loader", u, err)
	}
}
