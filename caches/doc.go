// Package caches holds named cache configurations (aliases) and the caches
// built from them, as aiocache's caches does.
//
// A [Registry] is configured from a Go map of [Config] or from a JSON
// document ([Registry.ConfigureJSON]), each alias naming a store URL (as
// for cachet.Open), a codec, cache options and plugins:
//
//	{
//	  "default":  {"store": "memory://default", "ttl": "5m"},
//	  "sessions": {"store": "redis://localhost:6379/0?maxsize=20", "codec": "msgpack",
//	               "namespace": "sess", "ttl": 1800, "plugins": ["hit_miss_ratio"]}
//	}
//
// [Alias] returns the same *cachet.Cache for an alias every time, building
// it (and the alias' store) on first use; [Create] returns a new one that
// the caller owns. Options given in code win over the alias' own, which
// win over the options in its store URL.
//
// [Registry.Add] configures one more alias and [Registry.Set] adds or
// replaces one, leaving the others (and the caches built from them) as
// they are. The alias [DefaultAlias] ("default") exists in every
// registry: unless configured, it is [DefaultConfig], the in-memory store
// memory://default; [Default] returns its cache.
//
// Codecs are named json (the default), msgpack, gob, string and bytes;
// [RegisterCodec] adds more. Plugins are named hit_miss_ratio and timing;
// [RegisterPlugin] adds more. Middleware are named logging, expvar and
// fail_open ("middleware": ["fail_open", "logging", "expvar"] in JSON,
// outermost first); [RegisterMiddleware] adds more. The first [Alias]
// call fixes an alias' value type: asking for another is an error naming
// both types. The redis and memcached URL schemes need a
// blank import of store/redisstore/redisurl and
// store/memcachestore/memcacheurl, as for cachet.Open.
//
// Building an alias' cache opens its store; a store URL with ping=true
// (or ping=2s) checks the store then, and the Alias or Create call that
// builds it returns the error, naming the URL, when the store does not
// answer (see cachet.Open).
//
// Errors in a configuration wrap cachet.ErrInvalidOption and name the
// alias; errors.As finds a *storeurl.OptionError naming the option.
package caches
