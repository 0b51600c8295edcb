// Package storeurl defines the URL schemes through which stores are
// opened from a URL, and what a scheme author needs to add one, as
// database/sql/driver does for database/sql.
//
// Applications never import this package: they open stores with
// cachet.Open and cachet.OpenCache, and name caches with package caches,
// and get the schemes they need by importing a backend's URL package for
// its side effect:
//
//	import _ "github.com/cachet-go/cachet/store/redisstore/redisurl"     // redis://, rediss://, redis+cluster://, redis+sentinel://
//	import _ "github.com/cachet-go/cachet/store/memcachestore/memcacheurl" // memcached://
//
// The only reason for an application to name this package is to inspect
// an [*OptionError] with errors.As.
//
// # Writing a scheme
//
// A backend package calls [Register] from an init function with a
// [Scheme]: a function that checks a URL (without opening anything) and
// returns the function that opens the store it describes. [Parse] removes
// the cache options (ttl, namespace and its aliases key_prefix and prefix,
// version, disabled, ping) before the scheme sees the URL, so every query option left is
// the scheme's own. [ParseDuration], [ParseInt] and [Hosts] read option
// values and host lists alike in every scheme, and report a bad value as
// an [*OptionError], which wraps [ErrInvalidOption].
//
// # Built-in schemes
//
// This package registers two schemes itself:
//
//	memory://NAME?max_entries=N&max_bytes=N    (alias locmem://)
//	noop://                                    (alias dummy://)
//
// memory://NAME opens a handle on the process' in-memory store called
// NAME (see memstore.Shared): memory://users and memory://carts never
// share keys while two opens of memory://users share one store. An open
// that gives max_entries or max_bytes must give the values the store was
// created with; one that gives neither accepts them. memory:// without a
// name opens a private store. max_entries and max_bytes are those of
// memstore.Options (max_bytes=-1: no byte bound). noop:// opens a
// noopstore, which stores nothing.
package storeurl
