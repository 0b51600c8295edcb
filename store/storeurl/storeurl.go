package storeurl

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cachet-go/cachet/internal/named"
	"github.com/cachet-go/cachet/store"
)

// A Scheme reads a store URL and returns a function that opens the store
// it describes. It is how a backend makes its URL scheme known; see
// [Register].
//
// The URL it receives has already lost the cache options (ttl, namespace,
// key_prefix, prefix, version, disabled, ping), so every query option left is the
// scheme's own: a Scheme must reject the options it does not know. It
// must check everything it can (hosts, numbers, durations, unknown
// options) without opening anything or doing I/O, and report a bad option
// as an [*OptionError]. The returned open function may be called any
// number of times, each call opening a new store (or a new handle on a
// shared one) that the caller closes.
type Scheme func(u *url.URL) (open func() (store.Store, error), err error)

var schemes = named.New[Scheme](nil)

// knownSchemes names the packages that register the schemes this module
// ships outside this package, for the error of an unregistered one.
var knownSchemes = map[string]string{
	"redis":           "github.com/cachet-go/cachet/store/redisstore/redisurl",
	"rediss":          "github.com/cachet-go/cachet/store/redisstore/redisurl",
	"redis+cluster":   "github.com/cachet-go/cachet/store/redisstore/redisurl",
	"rediss+cluster":  "github.com/cachet-go/cachet/store/redisstore/redisurl",
	"redis+sentinel":  "github.com/cachet-go/cachet/store/redisstore/redisurl",
	"rediss+sentinel": "github.com/cachet-go/cachet/store/redisstore/redisurl",
	"memcached":       "github.com/cachet-go/cachet/store/memcachestore/memcacheurl",
}

// Register makes the URL scheme name (lower case, such as "redis")
// available to [Parse], and so to cachet.Open and package caches.
// Packages call it from an init function, as database/sql drivers do, so
// that a program gets a scheme by importing a package for its side
// effect. The schemes memory, locmem, noop and dummy are registered by
// this package.
//
// Register panics if name is empty, not lower case, already registered,
// or if s is nil. It is safe for concurrent use.
func Register(name string, s Scheme) {
	if name == "" || name != strings.ToLower(name) {
		panic("storeurl: Register: scheme name " + strconv.Quote(name) + " must be non-empty and lower case")
	}
	if s == nil {
		panic("storeurl: Register: nil Scheme for " + name)
	}
	if !schemes.Add(name, s) {
		panic("storeurl: Register called twice for scheme " + name)
	}
}

// Schemes returns the names of the registered URL schemes, sorted. It is
// safe for concurrent use.
func Schemes() []string { return schemes.Names() }

// Options are the cache options a store URL may carry in its query, for
// the cache built on the store (see cachet.MergeOptions). Their zero
// values mean "not given".
type Options struct {
	// TTL is the default time to live, from ?ttl= (a whole number of
	// seconds or a Go duration such as "90s"); it is never negative.
	TTL time.Duration
	// Namespace is from ?namespace= or its aliases ?key_prefix= and
	// ?prefix=.
	Namespace string
	// Version is from ?version=.
	Version string
	// Disabled is from ?disabled= (true or false, as strconv.ParseBool
	// reads them): the cache starts with its kill switch off (see
	// cachet.Cache.Disable).
	Disabled bool
	// Ping is from ?ping=: how long [URL.Open] waits for the store to
	// answer a check ([store.Ping]) before it returns the store. ping=true
	// means [DefaultPingTimeout]; a duration (ping=2s, or ping=2, a whole
	// number of seconds) sets the bound; zero (ping=false, ping=0, or no
	// ping option) means no check, and Open makes no round trip.
	Ping time.Duration
}

// DefaultPingTimeout bounds the open-time check of a URL with ping=true.
const DefaultPingTimeout = 5 * time.Second

// URL is a parsed and checked store URL, ready to open. Make one with
// [Parse]. A URL is immutable and safe for concurrent use.
type URL struct {
	scheme  string
	display string // the URL with passwords masked
	opts    Options
	open    func() (store.Store, error)
}

// Scheme returns the URL's scheme, such as "redis".
func (u *URL) Scheme() string { return u.scheme }

// Options returns the cache options the URL carries.
func (u *URL) Options() Options { return u.opts }

// String returns the URL with any password masked.
func (u *URL) String() string { return u.display }

// Open opens a new store as the URL describes (or a new handle on the
// named in-process store of a memory URL). The caller closes it. Stores
// connect lazily: without ?ping=, Open makes no network round trip, so an
// unreachable server shows up as errors of the first operations.
//
// With ?ping= (see [Options.Ping]), Open checks that the store answers
// before returning it, with [store.Ping]: the Ping of a [store.Pinger]
// (found with [store.As]; redisstore and memcachestore have one), else an
// Exists of a probe key. If the check fails within the bound, Open closes
// the store and returns an error naming the URL (passwords masked) that
// wraps the cause, such as the dial error or
// context.DeadlineExceeded.
func (u *URL) Open() (store.Store, error) {
	s, err := u.open()
	if err != nil {
		var oe *OptionError
		if errors.As(err, &oe) {
			if oe.URL == "" {
				oe.URL = u.display
			}
			return nil, err
		}
		return nil, &contextError{"open " + u.display, err}
	}
	if u.opts.Ping > 0 {
		if err := u.ping(s); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

// ping checks that s answers within u's ping bound.
func (u *URL) ping(s store.Store) error {
	ctx, cancel := context.WithTimeout(context.Background(), u.opts.Ping)
	defer cancel()
	err := store.Ping(ctx, s)
	if err == nil {
		return nil
	}
	if errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("no answer within ping=%v: %w", u.opts.Ping, err)
	}
	return &contextError{"open " + u.display, err} // err names the ping (or exists) that failed
}

// Parse parses and checks a store URL without opening anything. It finds
// the registered [Scheme] of the URL, takes the cache options (ttl,
// namespace and its aliases key_prefix and prefix, version, disabled,
// ping) out of its query and hands the rest to the scheme.
//
// The cache options are returned by [URL.Options]: ttl is a whole number
// of seconds or a Go duration such as "90s", and must be positive;
// namespace and version must be non-empty and may not contain ':';
// disabled is true or false; ping is true, false or a duration (see
// [Options.Ping]).
//
// A bad URL gives an [*OptionError] naming the option and its value: an
// unknown scheme or option, a malformed number or duration, a missing
// host, a ttl of zero or less, an option given twice. Passwords are
// masked in every error.
func Parse(rawURL string) (*URL, error) {
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
		return nil, Errorf("url", redactString(rawURL), "want scheme://..., such as memory://name or redis://host:6379")
	}
	display := redact(u)
	fail := func(err *OptionError) (*URL, error) {
		err.URL = display
		return nil, err
	}
	if u.Fragment != "" {
		return fail(Errorf("url", display, "a store URL has no #fragment"))
	}
	scheme, ok := schemes.Get(u.Scheme)
	if !ok {
		if pkg, known := knownSchemes[u.Scheme]; known {
			return fail(Errorf("scheme", u.Scheme, "not registered: import _ %q to register it", pkg))
		}
		return fail(Errorf("scheme", u.Scheme, "unknown scheme (registered: %s)", strings.Join(Schemes(), ", ")))
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		v := u.RawQuery
		if strings.Contains(v, "password") {
			v = "(hidden: it holds a password)"
		}
		return fail(Errorf("query", v, "%v", err))
	}
	opts, oe := takeOptions(q)
	if oe != nil {
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
	return &URL{scheme: u.Scheme, display: display, opts: opts, open: open}, nil
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

// contextError adds context to an error without repeating its "cachet: "
// prefix.
type contextError struct {
	context string
	err     error
}

func (e *contextError) Error() string {
	return "cachet: " + e.context + ": " + strings.TrimPrefix(e.err.Error(), "cachet: ")
}

func (e *contextError) Unwrap() error { return e.err }
