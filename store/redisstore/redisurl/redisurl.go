// Package redisurl registers the store URL schemes of Redis with
// [storeurl.Register], so that cachet.Open, cachet.OpenCache and the
// caches.Registry can open [redisstore] stores. Import it for its side
// effect:
//
//	import _ "github.com/cachet-go/cachet/store/redisstore/redisurl"
//
//	s, opts, err := cachet.Open("redis://:secret@localhost:6379/1?maxsize=20&ttl=600")
//
// It registers redis, rediss (TLS), redis+cluster, rediss+cluster,
// redis+sentinel and rediss+sentinel:
//
//	redis://[user:password@]host[:port][/db]?options             one server
//	redis+cluster://[user:password@]host:port,host:port?options   seed nodes of a Redis Cluster
//	redis+sentinel://master[:password]@host:port,host:port[/db]?options
//
// The default port is 6379 and a host is required. The database number
// (the path, or ?db=, which wins) is written as Redis prints it: "/-1",
// "/+1", "/01" and "/1x" are errors naming the path or db option, never a
// silent database 0 or 1. The sentinel form names
// the master in the user part and lists the sentinels; its password is the
// data nodes', ?username= gives their ACL user, and ?sentinel_username=
// and ?sentinel_password= authenticate to the sentinels. A password in the
// user part wins over ?password=.
//
// # Options
//
// The options are go-redis' own: its ParseURL, ParseClusterURL and
// ParseFailoverURL read them (pool_size, min_idle_conns, max_idle_conns,
// max_active_conns, dial_timeout, read_timeout, write_timeout,
// pool_timeout, max_retries, client_name, protocol, skip_verify,
// read_only, route_by_latency, ...; durations in seconds or as Go
// durations). The async-caches names are accepted too: minsize
// (min_idle_conns), maxsize (pool_size) and timeout (dial_timeout,
// read_timeout and write_timeout at once, each unless given itself).
// Unknown options are an error naming the option and its value, as are
// the ones go-redis rejects. cachet's cache options (ttl, namespace,
// version) are read by cachet itself.
//
// # Stores
//
// The go-redis client is built with ContextTimeoutEnabled, as
// [redisstore.Open] does, and without connecting: connections are made on
// first use. As with Open, a URL that sets no read or write timeout gets
// no socket timeout of its own (each operation runs until its context's
// deadline, never shorter than a cache's Timeout), and a command whose
// context has no deadline gets [redisstore.DefaultContextTimeout]. The store returned wraps a [*redisstore.Store] (reach it with
// store.As) and closes the client when it is closed.
//
// This is a separate package so that package redisstore does not depend
// on package storeurl, and so that programs that open no URL do not link
// the URL code.
package redisurl

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/redisstore"
	"github.com/cachet-go/cachet/store/storeurl"
)

func init() {
	for _, scheme := range []string{"redis", "rediss"} {
		storeurl.Register(scheme, singleScheme)
		storeurl.Register(scheme+"+cluster", clusterScheme)
		storeurl.Register(scheme+"+sentinel", sentinelScheme)
	}
}

// baseScheme returns "redis" or "rediss" for a scheme such as
// "rediss+cluster".
func baseScheme(u *url.URL) string {
	base, _, _ := strings.Cut(u.Scheme, "+")
	return base
}

// aliases rewrites the async-caches option names of q into go-redis'.
func aliases(q url.Values) error {
	for _, a := range []struct{ alias, name string }{
		{"minsize", "min_idle_conns"},
		{"maxsize", "pool_size"},
	} {
		v, ok := q[a.alias]
		if !ok {
			continue
		}
		if _, dup := q[a.name]; dup {
			return &storeurl.OptionError{Option: a.alias, Value: v[0], Err: fmt.Errorf("given with %s, which it is an alias of", a.name)}
		}
		q[a.name] = v
		delete(q, a.alias)
	}
	if v, ok := q["timeout"]; ok {
		delete(q, "timeout")
		if len(v) != 1 {
			return &storeurl.OptionError{Option: "timeout", Value: strings.Join(v, ","), Err: fmt.Errorf("given %d times", len(v))}
		}
		if _, err := storeurl.ParseDuration("timeout", v[0]); err != nil {
			return err
		}
		for _, name := range []string{"dial_timeout", "read_timeout", "write_timeout"} {
			if _, set := q[name]; !set {
				q[name] = v
			}
		}
	}
	return nil
}

// errDB says what a database number must look like.
var errDB = errors.New("want one database number: 0 or a positive decimal, without sign or leading zeros")

// canonicalDB reports whether v is a database number written the one way
// Redis prints it: "0", or digits without a leading zero, fitting an int.
// go-redis alone reads "/-1" as database 0 and "/+1" or "/01" as 1.
func canonicalDB(v string) bool {
	if v == "" || len(v) > 1 && v[0] == '0' {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return false
		}
	}
	_, err := strconv.Atoi(v)
	return err == nil
}

// takePassword removes ?password= from q and returns it, or "" and false.
func takePassword(q url.Values) (string, bool, error) {
	v, ok := q["password"]
	if !ok {
		return "", false, nil
	}
	delete(q, "password")
	if len(v) != 1 {
		return "", false, &storeurl.OptionError{Option: "password", Value: "xxxxx", Err: fmt.Errorf("given %d times", len(v))}
	}
	return v[0], true, nil
}

// goRedisURL is the URL go-redis' parsers read for our URL.
type goRedisURL struct {
	scheme string // redis or rediss
	user   *url.Userinfo
	hosts  []string // first in the authority, others as ?addr=
	path   string
	query  url.Values
}

func (g *goRedisURL) String() string {
	q := url.Values{}
	for k, v := range g.query {
		q[k] = v
	}
	if len(g.hosts) > 1 {
		q["addr"] = slices.Clone(g.hosts[1:])
	}
	u := url.URL{Scheme: g.scheme, User: g.user, Host: g.hosts[0], Path: g.path, RawQuery: q.Encode()}
	return u.String()
}

// parseWith runs parse on g, and on failure names what is at fault: the
// path, or the first option that fails on its own.
func parseWith[T any](g *goRedisURL, parse func(string) (T, error)) (T, error) {
	opts, err := parse(g.String())
	if err == nil {
		return opts, nil
	}
	bare := *g
	bare.query = nil
	if _, err1 := parse(bare.String()); err1 != nil {
		return opts, &storeurl.OptionError{Option: "path", Value: g.path, Err: err1}
	}
	names := make([]string, 0, len(g.query))
	for name := range g.query {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		one := *g
		one.query = url.Values{name: g.query[name]}
		if _, err1 := parse(one.String()); err1 != nil {
			v := strings.Join(g.query[name], ",")
			if strings.Contains(name, "password") {
				v = "xxxxx"
			}
			return opts, &storeurl.OptionError{Option: name, Value: v, Err: err1}
		}
	}
	return opts, &storeurl.OptionError{Option: "url", Value: redactUserinfo(g), Err: err}
}

func redactUserinfo(g *goRedisURL) string {
	c := *g
	c.query = nil
	if c.user != nil {
		if _, has := c.user.Password(); has {
			c.user = url.UserPassword(c.user.Username(), "xxxxx")
		}
	}
	return c.String()
}

// prepare does what all three forms share: hosts, aliases, the password.
func prepare(u *url.URL) (*goRedisURL, string, bool, error) {
	hosts, err := storeurl.Hosts(u, 6379)
	if err != nil {
		return nil, "", false, err
	}
	q := u.Query()
	if err := aliases(q); err != nil {
		return nil, "", false, err
	}
	if _, ok := q["addr"]; ok {
		return nil, "", false, &storeurl.OptionError{Option: "addr", Value: q.Get("addr"), Err: errors.New("list the hosts in the URL instead: host1:port1,host2:port2")}
	}
	if u.Path != "" && u.Path != "/" && !canonicalDB(u.Path[1:]) {
		return nil, "", false, &storeurl.OptionError{Option: "path", Value: u.Path, Err: errDB}
	}
	if v, ok := q["db"]; ok && (len(v) != 1 || !canonicalDB(v[0])) {
		return nil, "", false, &storeurl.OptionError{Option: "db", Value: strings.Join(v, ","), Err: errDB}
	}
	pw, hasPW, err := takePassword(q)
	if err != nil {
		return nil, "", false, err
	}
	return &goRedisURL{scheme: baseScheme(u), hosts: hosts, path: u.Path, query: q}, pw, hasPW, nil
}

// withPassword returns the userinfo of u with the query password added
// when u has none (a password in the userinfo wins).
func withPassword(user *url.Userinfo, pw string, hasPW bool) *url.Userinfo {
	if !hasPW {
		return user
	}
	if user != nil {
		if _, has := user.Password(); has {
			return user
		}
		return url.UserPassword(user.Username(), pw)
	}
	return url.UserPassword("", pw)
}

// followDeadlines applies redisstore.Open's rule to the socket timeouts
// of a URL that sets none (no read_timeout, write_timeout or timeout):
// no socket timeout of their own, so that each read and write runs until
// the operation's deadline, never shorter than a cache's Timeout.
func followDeadlines(read, write *time.Duration) {
	if *read == 0 && *write == 0 {
		*read, *write = -1, -1
	}
}

// ownedStore returns a store on client that closes client when it is
// closed.
func ownedStore(client redis.UniversalClient) (store.Store, error) {
	client.AddHook(redisstore.DeadlineHook(redisstore.DefaultContextTimeout))
	s, err := redisstore.New(client, nil)
	if err != nil {
		client.Close()
		return nil, err
	}
	return &owned{Store: s, client: client}, nil
}

// owned is a redisstore.Store that owns its client.
type owned struct {
	*redisstore.Store
	client redis.UniversalClient
}

// Unwrap returns the redisstore.Store, for store.As.
func (s *owned) Unwrap() store.Store { return s.Store }

// Close closes the store, then its client.
func (s *owned) Close() error {
	if err := s.Store.Close(); err != nil {
		return err
	}
	return s.client.Close()
}

// singleScheme reads redis:// and rediss:// URLs.
func singleScheme(u *url.URL) (func() (store.Store, error), error) {
	g, pw, hasPW, err := prepare(u)
	if err != nil {
		return nil, err
	}
	if len(g.hosts) > 1 {
		return nil, &storeurl.OptionError{Option: "host", Value: u.Host,
			Err: fmt.Errorf("%s:// takes one host; use %s+cluster:// or %s+sentinel:// for several", u.Scheme, u.Scheme, u.Scheme)}
	}
	g.user = withPassword(u.User, pw, hasPW)
	if _, err := parseWith(g, redis.ParseURL); err != nil {
		return nil, err
	}
	return func() (store.Store, error) {
		o, err := redis.ParseURL(g.String())
		if err != nil {
			return nil, err
		}
		o.ContextTimeoutEnabled = true
		followDeadlines(&o.ReadTimeout, &o.WriteTimeout)
		return ownedStore(redis.NewClient(o))
	}, nil
}

// clusterScheme reads redis+cluster:// and rediss+cluster:// URLs.
func clusterScheme(u *url.URL) (func() (store.Store, error), error) {
	g, pw, hasPW, err := prepare(u)
	if err != nil {
		return nil, err
	}
	if u.Path != "" && u.Path != "/" {
		return nil, &storeurl.OptionError{Option: "path", Value: u.Path, Err: errors.New("a Redis Cluster has only database 0: leave the path out")}
	}
	if _, ok := g.query["db"]; ok {
		return nil, &storeurl.OptionError{Option: "db", Value: g.query.Get("db"), Err: errors.New("a Redis Cluster has only database 0")}
	}
	g.path = ""
	g.user = withPassword(u.User, pw, hasPW)
	if _, err := parseWith(g, redis.ParseClusterURL); err != nil {
		return nil, err
	}
	return func() (store.Store, error) {
		o, err := redis.ParseClusterURL(g.String())
		if err != nil {
			return nil, err
		}
		o.ContextTimeoutEnabled = true
		followDeadlines(&o.ReadTimeout, &o.WriteTimeout)
		return ownedStore(redis.NewClusterClient(o))
	}, nil
}

// sentinelScheme reads redis+sentinel:// and rediss+sentinel:// URLs.
func sentinelScheme(u *url.URL) (func() (store.Store, error), error) {
	g, pw, hasPW, err := prepare(u)
	if err != nil {
		return nil, err
	}
	master := ""
	if u.User != nil {
		master = u.User.Username()
		if p, has := u.User.Password(); has {
			pw, hasPW = p, true // the userinfo wins over ?password=
		}
	}
	if v, ok := g.query["master_name"]; ok {
		if master != "" {
			return nil, &storeurl.OptionError{Option: "master_name", Value: v[0], Err: errors.New("the master is already named in the URL's user part")}
		}
		master = v[0]
	}
	if master == "" {
		return nil, &storeurl.OptionError{Option: "master", Value: "", Err: fmt.Errorf("missing master name: want %s://master@host:port,host:port", u.Scheme)}
	}
	g.query.Set("master_name", master)
	if hasPW {
		g.query.Set("password", pw)
	}
	// go-redis reads the sentinels' credentials from the userinfo.
	su, sp := g.query.Get("sentinel_username"), g.query.Get("sentinel_password")
	_, hasSP := g.query["sentinel_password"]
	delete(g.query, "sentinel_username")
	delete(g.query, "sentinel_password")
	switch {
	case hasSP:
		g.user = url.UserPassword(su, sp)
	case su != "":
		g.user = url.User(su)
	}
	if _, err := parseWith(g, redis.ParseFailoverURL); err != nil {
		return nil, err
	}
	return func() (store.Store, error) {
		o, err := redis.ParseFailoverURL(g.String())
		if err != nil {
			return nil, err
		}
		o.ContextTimeoutEnabled = true
		followDeadlines(&o.ReadTimeout, &o.WriteTimeout)
		return ownedStore(redis.NewFailoverClient(o))
	}, nil
}
