package cachet

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/memstore"
	"github.com/cachet-go/cachet/store/noopstore"
)

// A Scheme reads a store URL and returns a function that opens the store
// it describes. It is how a backend makes its URL scheme known to [Open];
// see [RegisterScheme].
//
// The URL it receives has already lost the cache options (ttl, namespace,
// key_prefix, prefix, version), so every query option left is the
// scheme's own: a Scheme must reject the options it does not know. It
// must check everything it can (hosts, numbers, durations, unknown
// options) without opening anything or doing I/O, and report a bad option
// as an [*OptionError]. The returned open function may be called any
// number of times, each call opening a new store (or a new handle on a
// shared one) that the caller closes.
type Scheme func(u *url.URL) (open func() (store.Store, error), err error)

var schemes = newNamed[Scheme](nil)

// knownSchemes names the packages that register the schemes this module
// ships outside the root package, for the error of an unregistered one.
var knownSchemes = map[string]string{
	"redis":           "github.com/cachet-go/cachet/store/redisstore/redisurl",
	"rediss":          "github.com/cachet-go/cachet/store/redisstore/redisurl",
	"redis+cluster":   "github.com/cachet-go/cachet/store/redisstore/redisurl",
	"rediss+cluster":  "github.com/cachet-go/cachet/store/redisstore/redisurl",
	"redis+sentinel":  "github.com/cachet-go/cachet/store/redisstore/redisurl",
	"rediss+sentinel": "github.com/cachet-go/cachet/store/redisstore/redisurl",
	"memcached":       "github.com/cachet-go/cachet/store/memcachestore/memcacheurl",
}

// RegisterScheme makes the URL scheme name (lower case, such as "redis")
// available to [Open], [ParseURL] and the [Registry]. Packages call it
// from an init function, as database/sql drivers do, so that a program
// gets a scheme by importing a package for its side effect:
//
//	import _ "github.com/cachet-go/cachet/store/redisstore/redisurl"     // redis://, rediss://, redis+cluster://, redis+sentinel://
//	import _ "github.com/cachet-go/cachet/store/memcachestore/memcacheurl" // memcached://
//
// The schemes memory, locmem, noop and dummy are registered by package
// cachet itself. RegisterScheme panics if name is empty, not lower case,
// already registered, or if s is nil. It is safe for concurrent use.
func RegisterScheme(name string, s Scheme) {
	if name == "" || name != strings.ToLower(name) {
		panic("cachet: RegisterScheme: scheme name " + strconv.Quote(name) + " must be non-empty and lower case")
	}
	if s == nil {
		panic("cachet: RegisterScheme: nil Scheme for " + name)
	}
	if !schemes.add(name, s) {
		panic("cachet: RegisterScheme called twice for scheme " + name)
	}
}

// Schemes returns the names of the registered URL schemes, sorted. It is
// safe for concurrent use.
func Schemes() []string { return schemes.names() }

func lookupScheme(name string) (Scheme, bool) { return schemes.get(name) }

// OptionError reports an unusable option of a store URL or of a
// configuration: an unknown scheme or option, a malformed number or
// duration, a missing host, an out of range value. errors.Is(err,
// ErrInvalidOption) holds for it.
type OptionError struct {
	// URL is the store URL, its passwords masked; empty when the option
	// does not come from a URL. Open and ParseURL fill it in.
	URL string
	// Option names the option, such as "ttl" or "max_entries"; the parts
	// of the URL itself are called "scheme", "host", "path" and "url".
	Option string
	// Value is the offending value, as written ("" when it is missing).
	Value string
	// Err says what is wrong with it.
	Err error
}

// Error returns a message naming the option, its value and the URL.
func (e *OptionError) Error() string {
	var b strings.Builder
	b.WriteString("cachet: invalid option ")
	b.WriteString(e.Option)
	b.WriteString("=")
	b.WriteString(strconv.Quote(e.Value))
	if e.URL != "" && e.URL != e.Value {
		b.WriteString(" in ")
		b.WriteString(e.URL)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Is reports whether target is ErrInvalidOption.
func (e *OptionError) Is(target error) bool { return target == ErrInvalidOption }

// Unwrap returns the reason, Err.
func (e *OptionError) Unwrap() error { return e.Err }

func optErr(option, value, format string, args ...any) *OptionError {
	return &OptionError{Option: option, Value: value, Err: fmt.Errorf(format, args...)}
}

// URLOptions are the cache options a store URL may carry in its query, for
// the Cache built on the store (see [MergeOptions]). Their zero values mean
// "not given".
type URLOptions struct {
	// TTL is the default time to live, from ?ttl= (a whole number of
	// seconds or a Go duration such as "90s"); it is never negative.
	TTL time.Duration
	// Namespace is from ?namespace= or its aliases ?key_prefix= and
	// ?prefix=.
	Namespace string
	// Version is from ?version=.
	Version string
}

// StoreURL is a parsed and checked store URL, ready to open. Make one
// with [ParseURL]. A StoreURL is immutable and safe for concurrent use.
type StoreURL struct {
	scheme  string
	display string // the URL with passwords masked
	opts    URLOptions
	open    func() (store.Store, error)
}

// Scheme returns the URL's scheme, such as "redis".
func (u *StoreURL) Scheme() string { return u.scheme }

// Options returns the cache options the URL carries.
func (u *StoreURL) Options() URLOptions { return u.opts }

// String returns the URL with any password masked.
func (u *StoreURL) String() string { return u.display }

// Open opens a new store as the URL describes (or a new handle on the
// named in-process store of a memory URL). The caller closes it. Stores
// connect lazily: Open itself makes no network round trip, so an
// unreachable server shows up as errors of the first operations.
func (u *StoreURL) Open() (store.Store, error) {
	s, err := u.open()
	if err != nil {
		var oe *OptionError
		if errors.As(err, &oe) {
			if oe.URL == "" {
				oe.URL = u.display
			}
			return nil, err
		}
		return nil, withContext("open "+u.display, err)
	}
	return s, nil
}

// Cache option names in a store URL query, each with its aliases.
var cacheOptionNames = map[string]string{
	"ttl":        "ttl",
	"namespace":  "namespace",
	"key_prefix": "namespace",
	"prefix":     "namespace",
	"version":    "version",
}

// ParseURL parses and checks a store URL without opening anything:
//
//	memory://NAME?max_entries=N&max_bytes=N    (alias locmem://)
//	noop://                                    (alias dummy://)
//	redis://[user:password@]host[:port][/db]?options     (rediss:// for TLS)
//	redis+cluster://[user:password@]host:port,host:port?options
//	redis+sentinel://master[:password]@host:port,host:port[/db]?options
//	memcached://host:port,host:port?timeout=D&max_idle=N
//
// memory://NAME opens the process' in-memory store called NAME, so that
// memory://users and memory://carts never share keys while two opens of
// memory://users share one store, as in async-caches. Each open returns
// its own handle: closing a handle makes it unusable but leaves the other
// handles working, and the last Close frees the store and its data (a
// later open of the name starts empty). An open that gives max_entries or
// max_bytes must give the values the store was created with; one that
// gives neither accepts them. memory:// without a name opens a private
// store. max_entries and max_bytes are those of [memstore.Options]
// (max_bytes=-1: no byte bound).
//
// The redis and memcached schemes are registered by the packages
// store/redisstore/redisurl and store/memcachestore/memcacheurl, which a
// program imports for the side effect (see [RegisterScheme]).
// The redis schemes take go-redis' own URL options (pool_size,
// min_idle_conns, dial_timeout, read_timeout, write_timeout, max_retries,
// client_name, skip_verify, ...), the async-caches aliases minsize
// (min_idle_conns), maxsize (pool_size) and timeout (the three timeouts),
// and ?password=, which a password in the user part overrides; the
// sentinel form names the master in the user part and takes
// ?sentinel_username= and ?sentinel_password=. The default port is 6379,
// and a host is required. memcached takes timeout, max_idle (aliases
// max_idle_conns and maxsize), generations (true or false) and
// generation_cache_ttl, with 11211 as the default port. Any URL may carry the
// cache options ttl (a whole number of seconds, or a Go duration such as
// "90s"; it must be positive), namespace (aliases key_prefix and prefix)
// and version, returned by [StoreURL.Options].
//
// A bad URL gives an error wrapping ErrInvalidOption, an [*OptionError]
// naming the option and its value: an unknown scheme or option, a
// malformed number or duration, a missing host, a ttl of zero or less, an
// option given twice.
func ParseURL(rawURL string) (*StoreURL, error) {
	u, err := parseHostList(rawURL)
	if err != nil {
		// url.Error repeats the URL, password included: keep only the cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, &OptionError{Option: "url", Value: redactString(rawURL), Err: err}
	}
	if u.Scheme == "" || u.Opaque != "" || !strings.Contains(rawURL, "://") {
		return nil, optErr("url", redactString(rawURL), "want scheme://..., such as memory://name or redis://host:6379")
	}
	display := redact(u)
	fail := func(err *OptionError) (*StoreURL, error) {
		err.URL = display
		return nil, err
	}
	if u.Fragment != "" {
		return fail(optErr("url", display, "a store URL has no #fragment"))
	}
	scheme, ok := lookupScheme(u.Scheme)
	if !ok {
		if pkg, known := knownSchemes[u.Scheme]; known {
			return fail(optErr("scheme", u.Scheme, "not registered: import _ %q to register it", pkg))
		}
		return fail(optErr("scheme", u.Scheme, "unknown scheme (registered: %s)", strings.Join(Schemes(), ", ")))
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		v := u.RawQuery
		if strings.Contains(v, "password") {
			v = "(hidden: it holds a password)"
		}
		return fail(optErr("query", v, "%v", err))
	}
	opts, err := takeURLOptions(q)
	if err != nil {
		var oe *OptionError
		errors.As(err, &oe)
		return fail(oe)
	}
	rest := *u
	rest.RawQuery = q.Encode()
	rest.ForceQuery = false
	if u.User != nil {
		user := *u.User
		rest.User = &user
	}
	open, err := scheme(&rest)
	if err != nil {
		var oe *OptionError
		if errors.As(err, &oe) {
			if oe.URL == "" {
				oe.URL = display
			}
			return nil, err
		}
		return nil, &OptionError{URL: display, Option: "url", Value: display, Err: err}
	}
	if open == nil {
		return nil, &OptionError{URL: display, Option: "scheme", Value: u.Scheme, Err: errors.New("the scheme returned no open function")}
	}
	return &StoreURL{scheme: u.Scheme, display: display, opts: opts, open: open}, nil
}

// hostsPlaceholder stands for a host list while net/url parses the rest.
const hostsPlaceholder = "cachet-host-list.invalid"

// parseHostList is url.Parse, except that the host part may be a
// comma-separated list of hosts with optional ports (including IPv6
// literals), which url.Parse does not always accept; u.Host is the list
// as written.
func parseHostList(rawURL string) (*url.URL, error) {
	_, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return url.Parse(rawURL)
	}
	authority := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority = rest[:i]
	}
	hosts := authority[strings.LastIndex(authority, "@")+1:]
	if !strings.Contains(hosts, ",") {
		return url.Parse(rawURL)
	}
	start := len(rawURL) - len(rest) + len(authority) - len(hosts)
	u, err := url.Parse(rawURL[:start] + hostsPlaceholder + rawURL[start+len(hosts):])
	if err != nil {
		return nil, err
	}
	u.Host = hosts
	return u, nil
}

// takeURLOptions removes the cache options from q and returns them.
func takeURLOptions(q url.Values) (URLOptions, error) {
	var o URLOptions
	seen := map[string]string{} // canonical name -> name used
	names := make([]string, 0, len(q))
	for name := range q {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		vals := q[name]
		canon, ok := cacheOptionNames[name]
		if !ok {
			continue
		}
		delete(q, name)
		if prev, dup := seen[canon]; dup {
			return o, optErr(name, vals[0], "given twice (as %s and %s)", prev, name)
		}
		seen[canon] = name
		if len(vals) > 1 {
			return o, optErr(name, strings.Join(vals, ","), "given %d times", len(vals))
		}
		v := vals[0]
		switch canon {
		case "ttl":
			d, err := OptionDuration(name, v)
			if err != nil {
				return o, err
			}
			if d <= 0 {
				return o, optErr(name, v, "must be positive (leave ttl out for no expiry)")
			}
			o.TTL = d
		case "namespace":
			if v == "" || strings.Contains(v, keySep) {
				return o, optErr(name, v, "a namespace must be non-empty and may not contain %q", keySep)
			}
			o.Namespace = v
		case "version":
			if v == "" || strings.Contains(v, keySep) {
				return o, optErr(name, v, "a version must be non-empty and may not contain %q", keySep)
			}
			o.Version = v
		}
	}
	return o, nil
}

// OptionDuration parses the value v of the URL option named name: a whole
// number of seconds ("90") or a Go duration ("90s", "1m30s", "250ms").
// A malformed value gives an [*OptionError]. It is meant for [Scheme]
// implementations, so that every scheme reads durations alike.
func OptionDuration(name, v string) (time.Duration, error) {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n > int64(time.Duration(1<<63-1)/time.Second) || n < int64(-time.Duration(1<<63-1)/time.Second) {
			return 0, optErr(name, v, "out of range")
		}
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, optErr(name, v, "want a whole number of seconds or a Go duration such as 90s or 250ms")
	}
	return d, nil
}

// OptionInt parses the value v of the URL option named name as a decimal
// integer of at least atLeast. A malformed or too small value gives an
// [*OptionError]. It is meant for [Scheme] implementations.
func OptionInt(name, v string, atLeast int64) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, optErr(name, v, "want a decimal integer")
	}
	if n < atLeast {
		return 0, optErr(name, v, "must be at least %d", atLeast)
	}
	return n, nil
}

// URLHosts returns the comma-separated hosts of u's authority (u.Host,
// such as "h1:6379,h2:6380"), each as "host:port" with defaultPort added
// where it has none. An empty host list or an empty or malformed element
// gives an [*OptionError] for the option "host". It is meant for [Scheme]
// implementations. (IPv6 literals such as "[::1]:6379" are accepted as a
// single host only, a limit of net/url.)
func URLHosts(u *url.URL, defaultPort int) ([]string, error) {
	if u.Host == "" {
		return nil, optErr("host", "", "missing host: want %s://host:port", u.Scheme)
	}
	parts := strings.Split(u.Host, ",")
	hosts := make([]string, 0, len(parts))
	for _, h := range parts {
		if h == "" {
			return nil, optErr("host", u.Host, "empty host in the list")
		}
		host, port, err := net.SplitHostPort(h)
		if err != nil {
			// No port (or a bracketed IPv6 literal without one).
			host, port = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"), strconv.Itoa(defaultPort)
		}
		if host == "" {
			return nil, optErr("host", h, "missing host name before the port")
		}
		if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
			return nil, optErr("host", h, "bad port %q", port)
		}
		hosts = append(hosts, net.JoinHostPort(host, port))
	}
	return hosts, nil
}

// redact returns u as a string with the userinfo password and any
// password query option masked.
func redact(u *url.URL) string {
	var b strings.Builder
	b.WriteString(u.Scheme)
	b.WriteString("://")
	if u.User != nil {
		b.WriteString(u.User.Username())
		if _, has := u.User.Password(); has {
			b.WriteString(":xxxxx")
		}
		b.WriteString("@")
	}
	b.WriteString(u.Host)
	b.WriteString(u.EscapedPath())
	if u.RawQuery != "" {
		b.WriteString("?")
		q, err := url.ParseQuery(u.RawQuery)
		switch {
		case err != nil:
			b.WriteString("(unparsable query)")
		case strings.Contains(u.RawQuery, "password"):
			for name := range q {
				if strings.Contains(name, "password") {
					q[name] = []string{"xxxxx"}
				}
			}
			b.WriteString(q.Encode())
		default:
			b.WriteString(u.RawQuery)
		}
	}
	if u.Fragment != "" {
		b.WriteString("#")
		b.WriteString(u.EscapedFragment())
	}
	return b.String()
}

// redactString masks what looks like a password in a URL that does not
// parse.
func redactString(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return raw
	}
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return raw
	}
	if colon := strings.Index(rest[:at], ":"); colon >= 0 {
		rest = rest[:colon] + ":xxxxx" + rest[at:]
	}
	return scheme + "://" + rest
}

// Open opens the store that rawURL describes and returns it with the cache
// options the URL carries. The URL forms, the options and the errors are
// those of [ParseURL]; nothing is left open when Open fails. Open makes no
// network round trip: stores connect lazily.
//
// The URL's cache options are meant for the Cache built on the store;
// combine them with the options given in code with [MergeOptions], or let
// [OpenCache] do it. Open is safe for concurrent use.
func Open(rawURL string) (store.Store, URLOptions, error) {
	u, err := ParseURL(rawURL)
	if err != nil {
		return nil, URLOptions{}, err
	}
	s, err := u.Open()
	if err != nil {
		return nil, URLOptions{}, err
	}
	return s, u.opts, nil
}

// MergeOptions returns a copy of o (nil meaning all defaults) in which
// each cache option that o leaves at its zero value is taken from u: an
// option given in code wins over the same option in the URL, as in
// async-caches. The TTL is taken from u only when o.TTL is DefaultTTL (so
// NoExpiry in code wins too), the namespace when o.Namespace is empty and
// the version when o.Version is nil.
func MergeOptions[K comparable](o *Options[K], u URLOptions) *Options[K] {
	var m Options[K]
	if o != nil {
		m = *o
		m.Middleware = slices.Clone(o.Middleware)
	}
	if m.TTL == DefaultTTL {
		m.TTL = u.TTL
	}
	if m.Namespace == "" {
		m.Namespace = u.Namespace
	}
	if m.Version == nil && u.Version != "" {
		m.Version = u.Version
	}
	return &m
}

// OpenCache opens the store that rawURL describes (as [Open] does) and
// returns a Cache over it, encoding values with c. The cache options of
// the URL and of o are combined by [MergeOptions]: o wins. The cache owns
// the store: closing the cache closes it. When New fails the store is
// closed again.
func OpenCache[K comparable, V any](rawURL string, c codec.Codec[V], o *Options[K]) (*Cache[K, V], error) {
	s, uo, err := Open(rawURL)
	if err != nil {
		return nil, err
	}
	cache, err := New(s, c, MergeOptions(o, uo))
	if err != nil {
		s.Close()
		return nil, err
	}
	return cache, nil
}

func init() {
	RegisterScheme("memory", memoryScheme)
	RegisterScheme("locmem", memoryScheme)
	RegisterScheme("noop", noopScheme)
	RegisterScheme("dummy", noopScheme)
}

// noopScheme reads noop:// and dummy:// URLs: a noopstore, no options.
func noopScheme(u *url.URL) (func() (store.Store, error), error) {
	if err := onlyOptions(u, nil); err != nil {
		return nil, err
	}
	if u.Path != "" && u.Path != "/" {
		return nil, optErr("path", u.Path, "a noop URL has no path")
	}
	return func() (store.Store, error) { return noopstore.New(), nil }, nil
}

// onlyOptions returns an error for the first query option of u that is not
// in known, and for any known option given more than once.
func onlyOptions(u *url.URL, known []string) error {
	q := u.Query()
	names := make([]string, 0, len(q))
	for name := range q {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if !slices.Contains(known, name) {
			v := q.Get(name)
			if strings.Contains(name, "password") {
				v = "xxxxx"
			}
			if len(known) == 0 {
				return optErr(name, v, "unknown option: a %s URL takes only the cache options ttl, namespace and version", u.Scheme)
			}
			return optErr(name, v, "unknown option for %s (known: %s, and the cache options ttl, namespace, version)", u.Scheme, strings.Join(known, ", "))
		}
		if len(q[name]) > 1 {
			return optErr(name, strings.Join(q[name], ","), "given %d times", len(q[name]))
		}
	}
	return nil
}

// memoryScheme reads memory://NAME and locmem://NAME URLs.
func memoryScheme(u *url.URL) (func() (store.Store, error), error) {
	if err := onlyOptions(u, []string{"max_entries", "max_bytes"}); err != nil {
		return nil, err
	}
	if u.User != nil {
		return nil, optErr("userinfo", u.User.Username(), "a memory URL has no user or password")
	}
	if u.Path != "" && u.Path != "/" {
		return nil, optErr("path", u.Path, "a memory URL names its store in the host part only: %s://NAME", u.Scheme)
	}
	q := u.Query()
	var o memstore.Options
	given := false
	if v, ok := q["max_entries"]; ok {
		n, err := OptionInt("max_entries", v[0], 0)
		if err != nil {
			return nil, err
		}
		if n > math.MaxInt32 {
			return nil, optErr("max_entries", v[0], "too large")
		}
		o.MaxEntries, given = int(n), true
	}
	if v, ok := q["max_bytes"]; ok {
		n, err := OptionInt("max_bytes", v[0], -1)
		if err != nil {
			return nil, err
		}
		o.MaxBytes, given = n, true
	}
	if u.Host == "" {
		// An unnamed store is private to this open.
		return func() (store.Store, error) { return memstore.New(&o) }, nil
	}
	name := u.Host
	return func() (store.Store, error) { return openNamedMemory(name, o, given) }, nil
}

// namedMemory is one per-process named memory store and the number of
// open handles on it.
type namedMemory struct {
	s    *memstore.Store
	opts memstore.Options
	refs int
}

var namedMemories = struct {
	sync.Mutex
	m map[string]*namedMemory
}{m: map[string]*namedMemory{}}

// openNamedMemory returns a new handle on the named memory store, creating
// the store with o when it is not open. A later open that gives store
// options must give the same ones.
func openNamedMemory(name string, o memstore.Options, given bool) (store.Store, error) {
	namedMemories.Lock()
	defer namedMemories.Unlock()
	nm := namedMemories.m[name]
	if nm == nil {
		s, err := memstore.New(&o)
		if err != nil {
			return nil, err
		}
		nm = &namedMemory{s: s, opts: o}
		namedMemories.m[name] = nm
	} else if given && o != nm.opts {
		opt, val := "max_entries", strconv.Itoa(o.MaxEntries)
		if o.MaxEntries == nm.opts.MaxEntries {
			opt, val = "max_bytes", strconv.FormatInt(o.MaxBytes, 10)
		}
		return nil, optErr(opt, val,
			"memory store %q is already open with max_entries=%d&max_bytes=%d; open it with the same options or none",
			name, nm.opts.MaxEntries, nm.opts.MaxBytes)
	}
	nm.refs++
	return &memoryHandle{s: nm.s, name: name, nm: nm}, nil
}

// memoryHandle is one open handle on a named memory store. Closing it
// makes the handle unusable; the store itself is closed, and its name
// freed, when its last handle closes.
type memoryHandle struct {
	s      *memstore.Store
	name   string
	nm     *namedMemory
	closed atomic.Bool
}

var (
	_ store.Store             = (*memoryHandle)(nil)
	_ store.CompareAndDeleter = (*memoryHandle)(nil)
)

// Unwrap returns the shared memstore, for store.As.
func (h *memoryHandle) Unwrap() store.Store { return h.s }

func (h *memoryHandle) check(op, key string) error {
	if h.closed.Load() {
		return &store.Error{Op: op, Key: key, Err: store.ErrClosed}
	}
	return nil
}

func (h *memoryHandle) Get(ctx context.Context, key string) ([]byte, error) {
	if err := h.check("get", key); err != nil {
		return nil, err
	}
	return h.s.Get(ctx, key)
}

func (h *memoryHandle) GetMany(ctx context.Context, keys []string) ([][]byte, error) {
	if err := h.check("get_many", firstOf(keys)); err != nil {
		return nil, err
	}
	return h.s.GetMany(ctx, keys)
}

func (h *memoryHandle) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := h.check("set", key); err != nil {
		return err
	}
	return h.s.Set(ctx, key, value, ttl)
}

func (h *memoryHandle) SetMany(ctx context.Context, entries []store.Entry, ttl time.Duration) error {
	if err := h.check("set_many", ""); err != nil {
		return err
	}
	return h.s.SetMany(ctx, entries, ttl)
}

func (h *memoryHandle) Add(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := h.check("add", key); err != nil {
		return err
	}
	return h.s.Add(ctx, key, value, ttl)
}

func (h *memoryHandle) Delete(ctx context.Context, keys ...string) (int, error) {
	if err := h.check("delete", firstOf(keys)); err != nil {
		return 0, err
	}
	return h.s.Delete(ctx, keys...)
}

func (h *memoryHandle) Exists(ctx context.Context, key string) (bool, error) {
	if err := h.check("exists", key); err != nil {
		return false, err
	}
	return h.s.Exists(ctx, key)
}

func (h *memoryHandle) Increment(ctx context.Context, key string, delta int64) (int64, error) {
	if err := h.check("increment", key); err != nil {
		return 0, err
	}
	return h.s.Increment(ctx, key, delta)
}

func (h *memoryHandle) Expire(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if err := h.check("expire", key); err != nil {
		return false, err
	}
	return h.s.Expire(ctx, key, ttl)
}

func (h *memoryHandle) TTL(ctx context.Context, key string) (time.Duration, error) {
	if err := h.check("ttl", key); err != nil {
		return 0, err
	}
	return h.s.TTL(ctx, key)
}

func (h *memoryHandle) Clear(ctx context.Context, prefix string) error {
	if err := h.check("clear", prefix); err != nil {
		return err
	}
	return h.s.Clear(ctx, prefix)
}

func (h *memoryHandle) CompareAndDelete(ctx context.Context, key string, value []byte) (bool, error) {
	if err := h.check("compare_and_delete", key); err != nil {
		return false, err
	}
	return h.s.CompareAndDelete(ctx, key, value)
}

// Close closes the handle, and the named store with its last handle.
func (h *memoryHandle) Close() error {
	if !h.closed.CompareAndSwap(false, true) {
		return &store.Error{Op: "close", Err: store.ErrClosed}
	}
	namedMemories.Lock()
	defer namedMemories.Unlock()
	h.nm.refs--
	if h.nm.refs > 0 {
		return nil
	}
	if namedMemories.m[h.name] == h.nm {
		delete(namedMemories.m, h.name)
	}
	return h.nm.s.Close()
}

func firstOf(keys []string) string {
	if len(keys) == 0 {
		return ""
	}
	return keys[0]
}
