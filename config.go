package cachet

import (
	"slices"

	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/storeurl"
)

// URLOptions are the cache options a store URL may carry in its query, for
// the Cache built on the store (see [MergeOptions]): TTL from ?ttl=,
// Namespace from ?namespace= (or its aliases ?key_prefix= and ?prefix=),
// Version from ?version=. Their zero values mean "not given".
type URLOptions = storeurl.Options

// Open opens the store that rawURL describes and returns it with the cache
// options the URL carries. It checks the whole URL before opening
// anything, and makes no network round trip (stores connect lazily)
// unless the URL asks for a check with ping (below).
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
// store. max_entries and max_bytes are those of memstore.Options
// (max_bytes=-1: no byte bound).
//
// The redis and memcached schemes are registered by the packages
// store/redisstore/redisurl and store/memcachestore/memcacheurl, which a
// program imports for the side effect:
//
//	import _ "github.com/cachet-go/cachet/store/redisstore/redisurl"
//	import _ "github.com/cachet-go/cachet/store/memcachestore/memcacheurl"
//
// The redis schemes take go-redis' own URL options (pool_size,
// min_idle_conns, dial_timeout, read_timeout, write_timeout, max_retries,
// client_name, skip_verify, ...), the async-caches aliases minsize
// (min_idle_conns), maxsize (pool_size) and timeout (the three timeouts),
// and ?password=, which a password in the user part overrides; the
// sentinel form names the master in the user part and takes
// ?sentinel_username= and ?sentinel_password=. The default port is 6379,
// and a host is required. memcached takes timeout, max_idle (aliases
// max_idle_conns and maxsize), generations (true or false) and
// generation_cache_ttl, with 11211 as the default port.
//
// Any URL may carry the cache options ttl (a whole number of seconds, or
// a Go duration such as "90s"; it must be positive), namespace (aliases
// key_prefix and prefix), version and disabled (true starts the cache
// with its kill switch off, see [Cache.Disable]), which Open returns. They are meant
// for the Cache built on the store: combine them with the options given
// in code with [MergeOptions], or let [OpenCache] do it.
//
// Any URL may also carry ping: ping=true, or a duration such as ping=2s,
// makes Open check that the store answers before returning it (see
// [Ping]: the store's store.Pinger, found with store.As, else an Exists
// of a probe key), within that duration or 5s for true
// (storeurl.DefaultPingTimeout). If the check fails, Open closes the
// store and returns an error that names the URL, its password masked, and
// wraps the cause (the dial error, or context.DeadlineExceeded for a
// server that does not answer). Without ping (or with ping=false), Open
// does not dial.
//
// A bad URL gives an error wrapping [ErrInvalidOption] that names the
// option and its value (errors.As finds a *storeurl.OptionError): an
// unknown scheme or option, a malformed number or duration, a missing
// host, a ttl of zero or less, an option given twice. Nothing is left
// open when Open fails. Open is safe for concurrent use.
func Open(rawURL string) (store.Store, URLOptions, error) {
	u, err := storeurl.Parse(rawURL)
	if err != nil {
		return nil, URLOptions{}, err
	}
	s, err := u.Open()
	if err != nil {
		return nil, URLOptions{}, err
	}
	return s, u.Options(), nil
}

// MergeOptions returns a copy of o (nil meaning all defaults) in which
// each cache option that o leaves at its zero value is taken from u: an
// option given in code wins over the same option in the URL, as in
// async-caches. The TTL is taken from u only when o.TTL is DefaultTTL (so
// NoExpiry in code wins too), the namespace when o.Namespace is empty and
// the version when o.Version is nil. Disabled is true if either says so.
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
	if u.Disabled {
		m.Disabled = true
	}
	return &m
}

// OpenCache opens the store that rawURL describes (as [Open] does) and
// returns a Cache over it, encoding values with c. The cache options of
// the URL and of o are combined by [MergeOptions]: o wins. The cache owns
// the store (Options.OwnsStore is set): closing the cache closes it. When
// New fails the store is closed again. Like Open, it makes no round trip
// unless the URL carries ping (ping=true or ping=2s): then a store that
// does not answer is an error naming the URL, and nothing is left open.
// [Cache.Ping] checks the store of a cache at any later time.
func OpenCache[K comparable, V any](rawURL string, c codec.Codec[V], o *Options[K]) (*Cache[K, V], error) {
	s, uo, err := Open(rawURL)
	if err != nil {
		return nil, err
	}
	mo := MergeOptions(o, uo)
	mo.OwnsStore = true
	cache, err := New(s, c, mo)
	if err != nil {
		s.Close()
		return nil, err
	}
	return cache, nil
}
