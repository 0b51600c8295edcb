package cachet_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachet-go/cachet"
	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/memstore"
	"github.com/cachet-go/cachet/store/noopstore"
	"github.com/cachet-go/cachet/store/storetest"
)

// uniq returns a memory store name private to the test.
func uniq(t *testing.T) string {
	return strings.NewReplacer("/", "-", "_", "-").Replace(strings.ToLower(t.Name()))
}

func TestOpen_URLs(t *testing.T) {
	memType := reflect.TypeFor[*memstore.Store]()
	noopType := reflect.TypeFor[*noopstore.Store]()
	tests := []struct {
		name string
		url  string
		typ  reflect.Type // of store.Unwrap(s)
		opts cachet.URLOptions
	}{
		{"memory named", "memory://t-open-a", memType, cachet.URLOptions{}},
		{"locmem alias", "locmem://t-open-b", memType, cachet.URLOptions{}},
		{"memory unnamed", "memory://", memType, cachet.URLOptions{}},
		{"memory bounds", "memory://t-open-c?max_entries=10&max_bytes=1048576", memType, cachet.URLOptions{}},
		{"memory unbounded bytes", "memory://?max_bytes=-1", memType, cachet.URLOptions{}},
		{"scheme case", "MEMORY://t-open-d", memType, cachet.URLOptions{}},
		{"noop", "noop://", noopType, cachet.URLOptions{}},
		{"dummy alias", "dummy://", noopType, cachet.URLOptions{}},
		{"ttl seconds", "memory://?ttl=600", memType, cachet.URLOptions{TTL: 600 * time.Second}},
		{"ttl duration", "noop://?ttl=90s", noopType, cachet.URLOptions{TTL: 90 * time.Second}},
		{"ttl sub-second", "noop://?ttl=250ms", noopType, cachet.URLOptions{TTL: 250 * time.Millisecond}},
		{"namespace", "noop://?namespace=app", noopType, cachet.URLOptions{Namespace: "app"}},
		{"key_prefix alias", "noop://?key_prefix=app", noopType, cachet.URLOptions{Namespace: "app"}},
		{"prefix alias", "noop://?prefix=app", noopType, cachet.URLOptions{Namespace: "app"}},
		{"version", "noop://?namespace=app&version=2", noopType, cachet.URLOptions{Namespace: "app", Version: "2"}},
		{"all cache options with store options", "memory://?max_entries=5&ttl=1m&namespace=n&version=v3", memType,
			cachet.URLOptions{TTL: time.Minute, Namespace: "n", Version: "v3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, opts, err := cachet.Open(tt.url)
			if err != nil {
				t.Fatalf("Open(%q): %v", tt.url, err)
			}
			defer s.Close()
			if got := reflect.TypeOf(store.Unwrap(s)); got != tt.typ {
				t.Errorf("Open(%q) store is %v; want %v", tt.url, got, tt.typ)
			}
			if opts != tt.opts {
				t.Errorf("Open(%q) options = %+v; want %+v", tt.url, opts, tt.opts)
			}
			// The store works.
			ctx := context.Background()
			if err := s.Set(ctx, "k", []byte("v"), 0); err != nil {
				t.Errorf("Set: %v", err)
			}
		})
	}
}

func TestOpen_Errors(t *testing.T) {
	tests := []struct {
		name   string
		url    string
		option string // OptionError.Option
		value  string // OptionError.Value
	}{
		{"unknown scheme", "ftp://host", "scheme", "ftp"},
		{"no scheme", "localhost:6379", "url", "localhost:6379"},
		{"opaque", "memory:users", "url", "memory:users"},
		{"relative", "users", "url", "users"},
		{"fragment", "memory://x#frag", "url", "memory://x#frag"},
		{"unknown option", "memory://?foo=1", "foo", "1"},
		{"unknown noop option", "noop://?max_entries=1", "max_entries", "1"},
		{"ttl zero", "memory://?ttl=0", "ttl", "0"},
		{"ttl negative", "memory://?ttl=-5", "ttl", "-5"},
		{"ttl negative duration", "memory://?ttl=-1s", "ttl", "-1s"},
		{"ttl malformed", "memory://?ttl=soon", "ttl", "soon"},
		{"ttl fraction", "memory://?ttl=1.5", "ttl", "1.5"},
		{"ttl empty", "memory://?ttl=", "ttl", ""},
		{"ttl overflow", "memory://?ttl=99999999999999", "ttl", "99999999999999"},
		{"ttl twice", "memory://?ttl=1&ttl=2", "ttl", "1,2"},
		{"namespace with colon", "memory://?namespace=a:b", "namespace", "a:b"},
		{"namespace and alias", "memory://?namespace=a&key_prefix=b", "namespace", ""},
		{"version with colon", "memory://?version=1:2", "version", "1:2"},
		{"max_entries malformed", "memory://?max_entries=ten", "max_entries", "ten"},
		{"max_entries negative", "memory://?max_entries=-1", "max_entries", "-1"},
		{"max_bytes malformed", "memory://?max_bytes=1MB", "max_bytes", "1MB"},
		{"max_bytes twice", "memory://?max_bytes=1&max_bytes=2", "max_bytes", "1,2"},
		{"memory path", "memory://a/b", "path", "/b"},
		{"memory userinfo", "memory://u:p@a", "userinfo", "u"},
		{"noop path", "noop://x/y", "path", "/y"},
		{"bad escape", "memory://?ttl=%zz", "query", "ttl=%zz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, err := cachet.Open(tt.url)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q) succeeded; want an error", tt.url)
			}
			if !errors.Is(err, cachet.ErrInvalidOption) {
				t.Errorf("Open(%q) error %v does not wrap ErrInvalidOption", tt.url, err)
			}
			var oe *cachet.OptionError
			if !errors.As(err, &oe) {
				t.Fatalf("Open(%q) error %v is not an *OptionError", tt.url, err)
			}
			if oe.Option != tt.option && !(tt.name == "namespace and alias" && (oe.Option == "namespace" || oe.Option == "key_prefix")) {
				t.Errorf("Open(%q): Option = %q; want %q (error: %v)", tt.url, oe.Option, tt.option, err)
			}
			if tt.value != "" && oe.Value != tt.value {
				t.Errorf("Open(%q): Value = %q; want %q (error: %v)", tt.url, oe.Value, tt.value, err)
			}
			msg := err.Error()
			if !strings.Contains(msg, oe.Option) || !strings.Contains(msg, fmt.Sprintf("%q", oe.Value)) {
				t.Errorf("Open(%q): message %q does not name the option and value", tt.url, msg)
			}
		})
	}
}

func TestOpen_ErrorHidesPassword(t *testing.T) {
	for _, raw := range []string{
		"memory://user:s3cret@x?foo=1",
		"noop://?password=s3cret&foo=1",
		"ftp://user:s3cret@host",
		"memory://user:s3cret@x?ttl=%zz",
		"memory://user:s3cret@[::1",
		"memory://?password=s3cret&ttl=%zz",
	} {
		_, _, err := cachet.Open(raw)
		if err == nil {
			t.Fatalf("Open(%q) succeeded; want an error", raw)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("Open(%q) error shows the password: %v", raw, err)
		}
	}
}

func TestOpen_UnregisteredKnownScheme(t *testing.T) {
	for _, scheme := range []string{"redis", "rediss", "redis+cluster", "redis+sentinel", "memcached"} {
		if slicesContains(cachet.Schemes(), scheme) {
			continue // registered by a package this test binary imports
		}
		_, _, err := cachet.Open(scheme + "://localhost")
		if !errors.Is(err, cachet.ErrInvalidOption) || !strings.Contains(err.Error(), "import _") {
			t.Errorf("Open(%s://localhost) = %v; want an error telling which package to import", scheme, err)
		}
	}
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func TestOpen_MemoryNamesAreIsolated(t *testing.T) {
	ctx := context.Background()
	base := uniq(t)
	users, _, err := cachet.Open("memory://" + base + "-users")
	if err != nil {
		t.Fatal(err)
	}
	defer users.Close()
	carts, _, err := cachet.Open("locmem://" + base + "-carts")
	if err != nil {
		t.Fatal(err)
	}
	defer carts.Close()
	if err := users.Set(ctx, "k", []byte("u"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := carts.Get(ctx, "k"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("carts.Get(k) error = %v; want ErrNotFound (names must not share keys)", err)
	}
	// Unnamed memory stores are private to each open.
	a, _, _ := cachet.Open("memory://")
	b, _, _ := cachet.Open("memory://")
	defer a.Close()
	defer b.Close()
	a.Set(ctx, "k", []byte("a"), 0)
	if _, err := b.Get(ctx, "k"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unnamed stores share keys: Get = %v; want ErrNotFound", err)
	}
}

func TestOpen_MemorySameNameShares(t *testing.T) {
	ctx := context.Background()
	name := "memory://" + uniq(t)
	first, _, err := cachet.Open(name + "?max_entries=100")
	if err != nil {
		t.Fatal(err)
	}
	second, _, err := cachet.Open(strings.Replace(name, "memory", "locmem", 1)) // no options: accepts the open store's
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Set(ctx, "k", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	if got, err := second.Get(ctx, "k"); err != nil || string(got) != "v" {
		t.Fatalf("second.Get(k) = %q, %v; want \"v\" (same name, same store)", got, err)
	}
	if store.Unwrap(first) != store.Unwrap(second) {
		t.Errorf("two opens of %s unwrap to different stores", name)
	}

	// Different options for an open name are refused.
	_, _, err = cachet.Open(name + "?max_entries=5")
	var oe *cachet.OptionError
	if !errors.As(err, &oe) || oe.Option != "max_entries" || oe.Value != "5" {
		t.Errorf("reopening with other max_entries: error %v; want an OptionError for max_entries=5", err)
	}
	_, _, err = cachet.Open(name + "?max_entries=100&max_bytes=77777")
	if !errors.As(err, &oe) || oe.Option != "max_bytes" {
		t.Errorf("reopening with other max_bytes: error %v; want an OptionError for max_bytes", err)
	}
	// The same options are fine.
	third, _, err := cachet.Open(name + "?max_entries=100")
	if err != nil {
		t.Fatalf("reopening with the same options: %v", err)
	}

	// Closing one handle leaves the others working.
	if err := first.Close(); err != nil {
		t.Fatalf("first.Close: %v", err)
	}
	if err := first.Close(); !errors.Is(err, store.ErrClosed) {
		t.Errorf("second Close of a handle = %v; want ErrClosed", err)
	}
	if _, err := first.Get(ctx, "k"); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Get on a closed handle = %v; want ErrClosed", err)
	}
	// Optional capabilities are the handle's too, and closed with it.
	cad, ok := store.As[store.CompareAndDeleter](first)
	if !ok {
		t.Fatal("a memory handle does not offer CompareAndDelete")
	}
	if _, err := cad.CompareAndDelete(ctx, "k", []byte("v")); !errors.Is(err, store.ErrClosed) {
		t.Errorf("CompareAndDelete on a closed handle = %v; want ErrClosed", err)
	}
	if got, err := second.Get(ctx, "k"); err != nil || string(got) != "v" {
		t.Errorf("after closing another handle, Get = %q, %v; want \"v\"", got, err)
	}
	second.Close()
	third.Close()

	// The last Close freed the name: a new open gets a new, empty store,
	// with new options allowed.
	fresh, _, err := cachet.Open(name + "?max_entries=5")
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	if _, err := fresh.Get(ctx, "k"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get after every handle closed and a reopen = %v; want ErrNotFound", err)
	}
}

func TestOpen_MemoryConcurrentFirstOpen(t *testing.T) {
	ctx := context.Background()
	name := "memory://" + uniq(t)
	const n = 32
	stores := make([]store.Store, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			s, _, err := cachet.Open(name)
			if err != nil {
				t.Error(err)
				return
			}
			stores[i] = s
			s.Set(ctx, fmt.Sprint("k", i), []byte("v"), 0)
		}()
	}
	close(start)
	wg.Wait()
	if t.Failed() {
		return
	}
	for i, s := range stores {
		if store.Unwrap(s) != store.Unwrap(stores[0]) {
			t.Fatalf("open %d got another store than open 0", i)
		}
	}
	vals, err := stores[0].GetMany(ctx, []string{"k0", fmt.Sprint("k", n-1)})
	if err != nil || vals[0] == nil || vals[1] == nil {
		t.Errorf("GetMany = %q, %v; want every goroutine's write", vals, err)
	}
	for _, s := range stores {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}
}

// The handles on a named memory store pass the store conformance suite.
func TestStore_MemoryNamed(t *testing.T) {
	n := 0
	storetest.Run(t, func(t *testing.T) store.Store {
		n++
		s, _, err := cachet.Open(fmt.Sprintf("memory://%s-%d?max_bytes=8388608", uniq(t), n))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}, nil)
}

func TestMergeOptions(t *testing.T) {
	u := cachet.URLOptions{TTL: time.Minute, Namespace: "url", Version: "u1"}
	tests := []struct {
		name string
		code *cachet.Options[string]
		want cachet.Options[string]
	}{
		{"nil code: URL", nil, cachet.Options[string]{TTL: time.Minute, Namespace: "url", Version: "u1"}},
		{"code ttl wins", &cachet.Options[string]{TTL: time.Second}, cachet.Options[string]{TTL: time.Second, Namespace: "url", Version: "u1"}},
		{"code NoExpiry wins", &cachet.Options[string]{TTL: cachet.NoExpiry}, cachet.Options[string]{TTL: cachet.NoExpiry, Namespace: "url", Version: "u1"}},
		{"code namespace wins", &cachet.Options[string]{Namespace: "code"}, cachet.Options[string]{TTL: time.Minute, Namespace: "code", Version: "u1"}},
		{"code version wins", &cachet.Options[string]{Version: 7}, cachet.Options[string]{TTL: time.Minute, Namespace: "url", Version: 7}},
		{"other fields kept", &cachet.Options[string]{Timeout: time.Second}, cachet.Options[string]{TTL: time.Minute, Namespace: "url", Version: "u1", Timeout: time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := cachet.MergeOptions(tt.code, u)
			if got.TTL != tt.want.TTL || got.Namespace != tt.want.Namespace || got.Version != tt.want.Version || got.Timeout != tt.want.Timeout {
				t.Errorf("MergeOptions = %+v; want %+v", *got, tt.want)
			}
		})
	}
	// An empty URLOptions changes nothing, and the input is not modified.
	code := &cachet.Options[string]{Namespace: "c"}
	if got := cachet.MergeOptions(code, cachet.URLOptions{}); got == code || got.Namespace != "c" || got.TTL != 0 || got.Version != nil {
		t.Errorf("MergeOptions with no URL options = %+v (same pointer: %v)", *got, got == code)
	}
	cachet.MergeOptions(code, u)
	if code.TTL != 0 || code.Version != nil {
		t.Errorf("MergeOptions modified its input: %+v", *code)
	}
}

func TestOpenCache_CodeWinsOverURL(t *testing.T) {
	ctx := context.Background()
	raw := "memory://" + uniq(t) + "?namespace=url&version=1&ttl=1h"
	c, err := cachet.OpenCache(raw, codec.String(), &cachet.Options[string]{Namespace: "code"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	key, err := c.Key("k")
	if err != nil || key != "code:1:k" {
		t.Errorf("Key(k) = %q, %v; want \"code:1:k\" (namespace from code, version from URL)", key, err)
	}
	if err := c.Set(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	ttl, err := c.TTL(ctx, "k")
	if err != nil || ttl <= 59*time.Minute || ttl > time.Hour {
		t.Errorf("TTL = %v, %v; want about 1h, the URL's ttl", ttl, err)
	}

	// A ttl in code wins over the URL's.
	c2, err := cachet.OpenCache(raw, codec.String(), &cachet.Options[string]{TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	c2.Set(ctx, "k", "v")
	if ttl, err := c2.TTL(ctx, "k"); err != nil || ttl > time.Minute {
		t.Errorf("TTL = %v, %v; want at most 1m, the code's ttl", ttl, err)
	}
	if key, _ := c2.Key("k"); key != "url:1:k" {
		t.Errorf("Key(k) = %q; want \"url:1:k\"", key)
	}
}

func TestOpenCache_ClosesStoreWhenNewFails(t *testing.T) {
	ctx := context.Background()
	name := "memory://" + uniq(t)
	keep, _, err := cachet.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer keep.Close()
	// A version without a namespace is refused by New: the handle OpenCache
	// opened must be closed again, which we observe through the name being
	// freed once keep is closed too.
	if _, err := cachet.OpenCache[string](name+"?version=2", codec.String(), nil); !errors.Is(err, cachet.ErrInvalidOption) {
		t.Fatalf("OpenCache with a version and no namespace: %v; want ErrInvalidOption", err)
	}
	keep.Set(ctx, "k", []byte("v"), 0)
	keep.Close()
	again, _, err := cachet.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if _, err := again.Get(ctx, "k"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get = %v; want ErrNotFound: a handle leaked by the failed OpenCache kept the store alive", err)
	}
}

var customSchemeRuns atomic.Int32

func TestRegisterScheme_CustomScheme(t *testing.T) {
	// Schemes are registered for the process: a fresh name per run keeps
	// the test repeatable with -count.
	scheme := fmt.Sprintf("cachet-test-custom%d", customSchemeRuns.Add(1))
	var opened int
	var mu sync.Mutex
	cachet.RegisterScheme(scheme, func(u *url.URL) (func() (store.Store, error), error) {
		if u.Query().Has("ttl") {
			return nil, errors.New("the cache options reached the scheme")
		}
		if v := u.Query().Get("fail"); v != "" {
			return nil, &cachet.OptionError{Option: "fail", Value: v, Err: errors.New("asked to")}
		}
		return func() (store.Store, error) {
			mu.Lock()
			opened++
			mu.Unlock()
			return noopstore.New(), nil
		}, nil
	})
	u, err := cachet.ParseURL(scheme + "://host?ttl=5&size=1")
	if err != nil {
		t.Fatal(err)
	}
	if opened != 0 {
		t.Errorf("ParseURL opened the store")
	}
	if u.Scheme() != scheme || u.Options().TTL != 5*time.Second {
		t.Errorf("Scheme() = %q, Options() = %+v", u.Scheme(), u.Options())
	}
	s, err := u.Open()
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if opened != 1 {
		t.Errorf("opened %d times; want 1", opened)
	}
	_, err = cachet.ParseURL(scheme + "://host?fail=yes")
	var oe *cachet.OptionError
	if !errors.As(err, &oe) || oe.Option != "fail" || oe.URL == "" {
		t.Errorf("error from a scheme = %v; want an OptionError with the URL filled in", err)
	}
	if !slicesContains(cachet.Schemes(), scheme) {
		t.Errorf("Schemes() = %v; want it to list cachet-test-custom", cachet.Schemes())
	}
	for _, bad := range []func(){
		func() {
			cachet.RegisterScheme(scheme, func(*url.URL) (func() (store.Store, error), error) { return nil, nil })
		},
		func() {
			cachet.RegisterScheme("Upper", func(*url.URL) (func() (store.Store, error), error) { return nil, nil })
		},
		func() { cachet.RegisterScheme("nilscheme", nil) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("RegisterScheme did not panic on a programming error")
				}
			}()
			bad()
		}()
	}
}

func TestURLHosts(t *testing.T) {
	tests := []struct {
		host string
		want []string
		err  bool
	}{
		{"h1", []string{"h1:11211"}, false},
		{"h1:1,h2:2", []string{"h1:1", "h2:2"}, false},
		{"h1,h2:2", []string{"h1:11211", "h2:2"}, false},
		{"[::1]:7", []string{"[::1]:7"}, false},
		{"[::1]", []string{"[::1]:11211"}, false},
		{"", nil, true},
		{"h1,,h2", nil, true},
		{":5", nil, true},
		{"h1:0", nil, true},
		{"h1:99999", nil, true},
		{"h1:x", nil, true},
	}
	for _, tt := range tests {
		got, err := cachet.URLHosts(&url.URL{Scheme: "memcached", Host: tt.host}, 11211)
		if (err != nil) != tt.err || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("URLHosts(%q) = %q, %v; want %q, error %v", tt.host, got, err, tt.want, tt.err)
		}
		if err != nil && !errors.Is(err, cachet.ErrInvalidOption) {
			t.Errorf("URLHosts(%q) error %v does not wrap ErrInvalidOption", tt.host, err)
		}
	}
}

// hostsSeen is what the cachet-test-hosts scheme, registered once for the
// process, last saw.
var (
	hostsSeen       string
	hostsSchemeOnce sync.Once
)

func TestParseURL_HostLists(t *testing.T) {
	hostsSchemeOnce.Do(func() {
		cachet.RegisterScheme("cachet-test-hosts", func(u *url.URL) (func() (store.Store, error), error) {
			hosts, err := cachet.URLHosts(u, 1)
			if err != nil {
				return nil, err
			}
			hostsSeen = strings.Join(hosts, " ") + " user=" + u.User.String() + " path=" + u.Path + " query=" + u.RawQuery
			return func() (store.Store, error) { return noopstore.New(), nil }, nil
		})
	})
	tests := []struct{ url, want string }{
		{"cachet-test-hosts://h1:5,h2", "h1:5 h2:1 user= path= query="},
		{"cachet-test-hosts://u:p@h1,h2:6/x?a=1&ttl=5", "h1:1 h2:6 user=u:p path=/x query=a=1"},
		{"cachet-test-hosts://[::1]:5,[::1]", "[::1]:5 [::1]:1 user= path= query="},
		{"cachet-test-hosts://h1,h2?a=b@c", "h1:1 h2:1 user= path= query=a=b%40c"},
	}
	for _, tt := range tests {
		hostsSeen = ""
		if _, err := cachet.ParseURL(tt.url); err != nil {
			t.Errorf("ParseURL(%q): %v", tt.url, err)
			continue
		}
		if hostsSeen != tt.want {
			t.Errorf("ParseURL(%q): scheme saw %q; want %q", tt.url, hostsSeen, tt.want)
		}
	}
	for _, bad := range []string{"cachet-test-hosts://h1,,h2", "cachet-test-hosts://h1,h2:x", "cachet-test-hosts://h1,:5"} {
		var oe *cachet.OptionError
		if _, err := cachet.ParseURL(bad); !errors.As(err, &oe) || oe.Option != "host" {
			t.Errorf("ParseURL(%q) = %v; want an OptionError for host", bad, err)
		}
	}
}
