package storeurl_test

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

	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/memstore"
	"github.com/cachet-go/cachet/store/noopstore"
	"github.com/cachet-go/cachet/store/storeurl"
)

// uniq returns a memory store name private to the test.
func uniq(t *testing.T) string {
	return strings.NewReplacer("/", "-", "_", "-").Replace(strings.ToLower(t.Name()))
}

// open parses rawURL and opens its store, as cachet.Open does.
func open(rawURL string) (store.Store, storeurl.Options, error) {
	u, err := storeurl.Parse(rawURL)
	if err != nil {
		return nil, storeurl.Options{}, err
	}
	s, err := u.Open()
	if err != nil {
		return nil, storeurl.Options{}, err
	}
	return s, u.Options(), nil
}

func TestParse_URLs(t *testing.T) {
	memType := reflect.TypeFor[*memstore.Store]()
	noopType := reflect.TypeFor[*noopstore.Store]()
	tests := []struct {
		name string
		url  string
		typ  reflect.Type // of store.Unwrap(s)
		opts storeurl.Options
	}{
		{"memory named", "memory://t-parse-a", memType, storeurl.Options{}},
		{"locmem alias", "locmem://t-parse-b", memType, storeurl.Options{}},
		{"memory unnamed", "memory://", memType, storeurl.Options{}},
		{"memory bounds", "memory://t-parse-c?max_entries=10&max_bytes=1048576", memType, storeurl.Options{}},
		{"scheme case", "MEMORY://t-parse-d", memType, storeurl.Options{}},
		{"noop", "noop://", noopType, storeurl.Options{}},
		{"dummy alias", "dummy://", noopType, storeurl.Options{}},
		{"ttl seconds", "memory://?ttl=600", memType, storeurl.Options{TTL: 600 * time.Second}},
		{"ttl sub-second", "noop://?ttl=250ms", noopType, storeurl.Options{TTL: 250 * time.Millisecond}},
		{"key_prefix alias", "noop://?key_prefix=app", noopType, storeurl.Options{Namespace: "app"}},
		{"prefix alias", "noop://?prefix=app", noopType, storeurl.Options{Namespace: "app"}},
		{"version", "noop://?namespace=app&version=2", noopType, storeurl.Options{Namespace: "app", Version: "2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := storeurl.Parse(tt.url)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.url, err)
			}
			if u.Options() != tt.opts {
				t.Errorf("Parse(%q).Options() = %+v; want %+v", tt.url, u.Options(), tt.opts)
			}
			if u.Scheme() != strings.ToLower(tt.url[:strings.Index(tt.url, ":")]) {
				t.Errorf("Parse(%q).Scheme() = %q", tt.url, u.Scheme())
			}
			s, err := u.Open()
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer s.Close()
			if got := reflect.TypeOf(store.Unwrap(s)); got != tt.typ {
				t.Errorf("Parse(%q).Open() store is %v; want %v", tt.url, got, tt.typ)
			}
			if err := s.Set(context.Background(), "k", []byte("v"), 0); err != nil {
				t.Errorf("Set: %v", err)
			}
		})
	}
}

// TestParse_MemoryBounds checks that a memory URL's max_entries and
// max_bytes reach the store it opens, named or not.
func TestParse_MemoryBounds(t *testing.T) {
	name := uniq(t)
	tests := []struct {
		url  string
		want memstore.Options
	}{
		{"memory://", memstore.Options{}},
		{"memory://?max_entries=10", memstore.Options{MaxEntries: 10}},
		{"memory://?max_bytes=1048576", memstore.Options{MaxBytes: 1 << 20}},
		{"memory://?max_bytes=-1", memstore.Options{MaxBytes: -1}},
		{"memory://?max_entries=10&max_bytes=1048576", memstore.Options{MaxEntries: 10, MaxBytes: 1 << 20}},
		{"locmem://?max_entries=7", memstore.Options{MaxEntries: 7}},
		{"memory://" + name + "?max_entries=10&max_bytes=1048576", memstore.Options{MaxEntries: 10, MaxBytes: 1 << 20}},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			s, _, err := open(tt.url)
			if err != nil {
				t.Fatalf("open(%q): %v", tt.url, err)
			}
			defer s.Close()
			ms, ok := store.As[*memstore.Store](s)
			if !ok {
				t.Fatalf("open(%q): got %T; want a *memstore.Store inside", tt.url, s)
			}
			got := ms.Options()
			if got.MaxEntries != tt.want.MaxEntries || got.MaxBytes != tt.want.MaxBytes {
				t.Errorf("open(%q): store bounds max_entries=%d max_bytes=%d; want %d and %d",
					tt.url, got.MaxEntries, got.MaxBytes, tt.want.MaxEntries, tt.want.MaxBytes)
			}
		})
	}
}

func TestURL_StringHidesPassword(t *testing.T) {
	registerHostsScheme()
	u, err := storeurl.Parse("cachet-test-hosts://user:s3cret@h1?password=s3cret")
	if err != nil {
		t.Fatal(err)
	}
	if got := u.String(); strings.Contains(got, "s3cret") || !strings.Contains(got, "user:xxxxx@h1") {
		t.Errorf("String() = %q; want the passwords masked", got)
	}
}

var customSchemeRuns atomic.Int32

func TestParse_Errors(t *testing.T) {
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
			s, _, err := open(tt.url)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q) succeeded; want an error", tt.url)
			}
			if !errors.Is(err, storeurl.ErrInvalidOption) {
				t.Errorf("Open(%q) error %v does not wrap ErrInvalidOption", tt.url, err)
			}
			var oe *storeurl.OptionError
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

func TestParse_ErrorHidesPassword(t *testing.T) {
	for _, raw := range []string{
		"memory://user:s3cret@x?foo=1",
		"noop://?password=s3cret&foo=1",
		"ftp://user:s3cret@host",
		"memory://user:s3cret@x?ttl=%zz",
		"memory://user:s3cret@[::1",
		"memory://?password=s3cret&ttl=%zz",
	} {
		_, _, err := open(raw)
		if err == nil {
			t.Fatalf("Open(%q) succeeded; want an error", raw)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("Open(%q) error shows the password: %v", raw, err)
		}
	}
}

func TestParse_UnregisteredKnownScheme(t *testing.T) {
	for _, scheme := range []string{"redis", "rediss", "redis+cluster", "redis+sentinel", "memcached"} {
		if slicesContains(storeurl.Schemes(), scheme) {
			continue // registered by a package this test binary imports
		}
		_, _, err := open(scheme + "://localhost")
		if !errors.Is(err, storeurl.ErrInvalidOption) || !strings.Contains(err.Error(), "import _") {
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

func TestParse_MemoryNamesAreIsolated(t *testing.T) {
	ctx := context.Background()
	base := uniq(t)
	users, _, err := open("memory://" + base + "-users")
	if err != nil {
		t.Fatal(err)
	}
	defer users.Close()
	carts, _, err := open("locmem://" + base + "-carts")
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
	a, _, err := open("memory://")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, _, err := open("memory://")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := a.Set(ctx, "k", []byte("a"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Get(ctx, "k"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unnamed stores share keys: Get = %v; want ErrNotFound", err)
	}
}

func TestParse_MemorySameNameShares(t *testing.T) {
	ctx := context.Background()
	name := "memory://" + uniq(t)
	first, _, err := open(name + "?max_entries=100")
	if err != nil {
		t.Fatal(err)
	}
	second, _, err := open(strings.Replace(name, "memory", "locmem", 1)) // no options: accepts the open store's
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
	_, _, err = open(name + "?max_entries=5")
	var oe *storeurl.OptionError
	if !errors.As(err, &oe) || oe.Option != "max_entries" || oe.Value != "5" {
		t.Errorf("reopening with other max_entries: error %v; want an OptionError for max_entries=5", err)
	}
	_, _, err = open(name + "?max_entries=100&max_bytes=77777")
	if !errors.As(err, &oe) || oe.Option != "max_bytes" {
		t.Errorf("reopening with other max_bytes: error %v; want an OptionError for max_bytes", err)
	}
	// The same options are fine.
	third, _, err := open(name + "?max_entries=100")
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
	fresh, _, err := open(name + "?max_entries=5")
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	if _, err := fresh.Get(ctx, "k"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get after every handle closed and a reopen = %v; want ErrNotFound", err)
	}
}

func TestRegister_CustomScheme(t *testing.T) {
	// Schemes are registered for the process: a fresh name per run keeps
	// the test repeatable with -count.
	scheme := fmt.Sprintf("cachet-test-custom%d", customSchemeRuns.Add(1))
	var opened int
	var mu sync.Mutex
	storeurl.Register(scheme, func(u *url.URL) (func() (store.Store, error), error) {
		if u.Query().Has("ttl") {
			return nil, errors.New("the cache options reached the scheme")
		}
		if v := u.Query().Get("fail"); v != "" {
			return nil, &storeurl.OptionError{Option: "fail", Value: v, Err: errors.New("asked to")}
		}
		return func() (store.Store, error) {
			mu.Lock()
			opened++
			mu.Unlock()
			return noopstore.New(), nil
		}, nil
	})
	u, err := storeurl.Parse(scheme + "://host?ttl=5&size=1")
	if err != nil {
		t.Fatal(err)
	}
	if opened != 0 {
		t.Errorf("Parse opened the store")
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
	_, err = storeurl.Parse(scheme + "://host?fail=yes")
	var oe *storeurl.OptionError
	if !errors.As(err, &oe) || oe.Option != "fail" || oe.URL == "" {
		t.Errorf("error from a scheme = %v; want an OptionError with the URL filled in", err)
	}
	if !slicesContains(storeurl.Schemes(), scheme) {
		t.Errorf("Schemes() = %v; want it to list cachet-test-custom", storeurl.Schemes())
	}
	for _, bad := range []func(){
		func() {
			storeurl.Register(scheme, func(*url.URL) (func() (store.Store, error), error) { return nil, nil })
		},
		func() {
			storeurl.Register("Upper", func(*url.URL) (func() (store.Store, error), error) { return nil, nil })
		},
		func() { storeurl.Register("nilscheme", nil) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Register did not panic on a programming error")
				}
			}()
			bad()
		}()
	}
}

func TestHosts(t *testing.T) {
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
		got, err := storeurl.Hosts(&url.URL{Scheme: "memcached", Host: tt.host}, 11211)
		if (err != nil) != tt.err || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Hosts(%q) = %q, %v; want %q, error %v", tt.host, got, err, tt.want, tt.err)
		}
		if err != nil && !errors.Is(err, storeurl.ErrInvalidOption) {
			t.Errorf("Hosts(%q) error %v does not wrap ErrInvalidOption", tt.host, err)
		}
	}
}

func TestParse_HostLists(t *testing.T) {
	registerHostsScheme()
	tests := []struct{ url, want string }{
		{"cachet-test-hosts://h1:5,h2", "h1:5 h2:1 user= path= query="},
		{"cachet-test-hosts://u:p@h1,h2:6/x?a=1&ttl=5", "h1:1 h2:6 user=u:p path=/x query=a=1"},
		{"cachet-test-hosts://[::1]:5,[::1]", "[::1]:5 [::1]:1 user= path= query="},
		{"cachet-test-hosts://h1,h2?a=b@c", "h1:1 h2:1 user= path= query=a=b%40c"},
	}
	for _, tt := range tests {
		hostsSeen = ""
		if _, err := storeurl.Parse(tt.url); err != nil {
			t.Errorf("Parse(%q): %v", tt.url, err)
			continue
		}
		if hostsSeen != tt.want {
			t.Errorf("Parse(%q): scheme saw %q; want %q", tt.url, hostsSeen, tt.want)
		}
	}
	for _, bad := range []string{"cachet-test-hosts://h1,,h2", "cachet-test-hosts://h1,h2:x", "cachet-test-hosts://h1,:5"} {
		var oe *storeurl.OptionError
		if _, err := storeurl.Parse(bad); !errors.As(err, &oe) || oe.Option != "host" {
			t.Errorf("Parse(%q) = %v; want an OptionError for host", bad, err)
		}
	}
}

// hostsSeen is what the cachet-test-hosts scheme, registered once for the
// process, last saw.
var (
	hostsSeen       string
	hostsSchemeOnce sync.Once
)

// registerHostsScheme registers the cachet-test-hosts scheme once for the
// process; it records what it saw in hostsSeen.
func registerHostsScheme() {
	hostsSchemeOnce.Do(func() {
		storeurl.Register("cachet-test-hosts", func(u *url.URL) (func() (store.Store, error), error) {
			hosts, err := storeurl.Hosts(u, 1)
			if err != nil {
				return nil, err
			}
			hostsSeen = strings.Join(hosts, " ") + " user=" + u.User.String() + " path=" + u.Path + " query=" + u.RawQuery
			return func() (store.Store, error) { return noopstore.New(), nil }, nil
		})
	})
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		v    string
		want time.Duration
		err  bool
	}{
		{"90", 90 * time.Second, false},
		{"-5", -5 * time.Second, false},
		{"90s", 90 * time.Second, false},
		{"1m30s", 90 * time.Second, false},
		{"250ms", 250 * time.Millisecond, false},
		{"1.5", 0, true},
		{"", 0, true},
		{"soon", 0, true},
		{"99999999999999", 0, true},
	}
	for _, tt := range tests {
		got, err := storeurl.ParseDuration("d", tt.v)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseDuration(d, %q) = %v, %v; want %v, error %v", tt.v, got, err, tt.want, tt.err)
		}
		var oe *storeurl.OptionError
		if err != nil && (!errors.As(err, &oe) || oe.Option != "d" || oe.Value != tt.v) {
			t.Errorf("ParseDuration(d, %q) error %v; want an OptionError for d=%q", tt.v, err, tt.v)
		}
	}
}

func TestParseInt(t *testing.T) {
	tests := []struct {
		v       string
		atLeast int64
		want    int64
		err     bool
	}{
		{"10", 0, 10, false},
		{"-1", -1, -1, false},
		{"-1", 0, 0, true},
		{"ten", 0, 0, true},
		{"1e3", 0, 0, true},
	}
	for _, tt := range tests {
		got, err := storeurl.ParseInt("n", tt.v, tt.atLeast)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseInt(n, %q, %d) = %v, %v; want %v, error %v", tt.v, tt.atLeast, got, err, tt.want, tt.err)
		}
		if err != nil && !errors.Is(err, storeurl.ErrInvalidOption) {
			t.Errorf("ParseInt(n, %q) error %v does not wrap ErrInvalidOption", tt.v, err)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	const raw = "memory://users?max_entries=10000&ttl=600&namespace=users"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := storeurl.Parse(raw); err != nil {
			b.Fatal(err)
		}
	}
}
