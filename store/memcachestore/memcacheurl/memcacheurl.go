// Package memcacheurl registers the store URL scheme memcached with
// [storeurl.Register], so that cachet.Open, cachet.OpenCache and the
// caches.Registry can open [memcachestore] stores. Import it for its
// side effect:
//
//	import _ "github.com/cachet-go/cachet/store/memcachestore/memcacheurl"
//
//	s, opts, err := cachet.Open("memcached://10.0.0.1:11211,10.0.0.2:11211?timeout=200ms&max_idle=32")
//
// The URL lists one or more servers (the default port is 11211; a host is
// required) and takes the options
//
//	timeout               memcachestore.Options.Timeout: seconds or a Go duration, > 0
//	max_idle              Options.MaxIdleConns, >= 0 (aliases max_idle_conns, maxsize)
//	generations           true (the default) or false: false sets Options.DisableGenerations
//	generation_cache_ttl  Options.GenerationCacheTTL: seconds or a Go duration, >= 0;
//	                      0 reads the generation on every operation (Options value -1)
//
// besides cachet's cache options (ttl, namespace, version). Unknown
// options, a user or password (memcached has no authentication here) and
// a path are errors naming the option and its value. The store is made by
// [memcachestore.NewFromServers], which connects on first use.
//
// This is a separate package so that package memcachestore does not
// depend on package storeurl, and so that programs that open no URL do not
// link the URL code.
package memcacheurl

import (
	"errors"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/memcachestore"
	"github.com/cachet-go/cachet/store/storeurl"
)

func init() {
	storeurl.Register("memcached", memcachedScheme)
}

var urlOptions = map[string]string{
	"timeout":              "timeout",
	"max_idle":             "max_idle",
	"max_idle_conns":       "max_idle",
	"maxsize":              "max_idle",
	"generations":          "generations",
	"generation_cache_ttl": "generation_cache_ttl",
}

func memcachedScheme(u *url.URL) (func() (store.Store, error), error) {
	if u.User != nil {
		return nil, &storeurl.OptionError{Option: "userinfo", Value: u.User.Username(), Err: errors.New("memcached URLs take no user or password")}
	}
	if u.Path != "" && u.Path != "/" {
		return nil, &storeurl.OptionError{Option: "path", Value: u.Path, Err: errors.New("memcached URLs have no path")}
	}
	servers, err := storeurl.Hosts(u, 11211)
	if err != nil {
		return nil, err
	}
	q := u.Query()
	names := make([]string, 0, len(q))
	for name := range q {
		names = append(names, name)
	}
	slices.Sort(names)
	var o memcachestore.Options
	seen := map[string]string{}
	for _, name := range names {
		vals := q[name]
		canon, ok := urlOptions[name]
		if !ok {
			return nil, &storeurl.OptionError{Option: name, Value: strings.Join(vals, ","),
				Err: errors.New("unknown option for memcached (known: timeout, max_idle, generations, generation_cache_ttl)")}
		}
		if prev, dup := seen[canon]; dup {
			return nil, &storeurl.OptionError{Option: name, Value: vals[0], Err: errors.New("given twice (as " + prev + " and " + name + ")")}
		}
		seen[canon] = name
		if len(vals) != 1 {
			return nil, &storeurl.OptionError{Option: name, Value: strings.Join(vals, ","), Err: errors.New("given " + strconv.Itoa(len(vals)) + " times")}
		}
		v := vals[0]
		switch canon {
		case "timeout":
			d, err := storeurl.ParseDuration(name, v)
			if err != nil {
				return nil, err
			}
			if d <= 0 {
				return nil, &storeurl.OptionError{Option: name, Value: v, Err: errors.New("must be positive")}
			}
			o.Timeout = d
		case "max_idle":
			n, err := storeurl.ParseInt(name, v, 0)
			if err != nil {
				return nil, err
			}
			if n > 1<<20 {
				return nil, &storeurl.OptionError{Option: name, Value: v, Err: errors.New("too large")}
			}
			o.MaxIdleConns = int(n)
		case "generations":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return nil, &storeurl.OptionError{Option: name, Value: v, Err: errors.New("want true or false")}
			}
			o.DisableGenerations = !b
		case "generation_cache_ttl":
			d, err := storeurl.ParseDuration(name, v)
			if err != nil {
				return nil, err
			}
			if d < 0 {
				return nil, &storeurl.OptionError{Option: name, Value: v, Err: errors.New("must not be negative")}
			}
			o.GenerationCacheTTL = d
			if d == 0 {
				o.GenerationCacheTTL = -1 // explicitly none: read it every time
			}
		}
	}
	return func() (store.Store, error) { return memcachestore.NewFromServers(servers, &o) }, nil
}
