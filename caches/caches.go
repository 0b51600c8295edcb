package caches

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/cachet-go/cachet"
	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/storeurl"
)

// Registry holds named cache configurations (aliases) and the caches
// built from them, as aiocache's caches does: [Alias] returns the same
// cache for an alias every time, building it on first use; [Create]
// returns a new one.
//
// The zero Registry is empty and ready to use; [DefaultRegistry] is one
// for programs that want a single, package-level registry. A Registry
// must not be copied after first use. It is safe for concurrent use by
// multiple goroutines.
type Registry struct {
	mu      sync.Mutex
	aliases map[string]*aliasEntry
}

// DefaultRegistry is a Registry for programs that want one shared by all
// their packages. Nothing in cachet uses it unless asked.
var DefaultRegistry = new(Registry)

// aliasEntry is one configured alias and what has been built from it.
type aliasEntry struct {
	name string
	cfg  Config
	url  *storeurl.URL

	mu      sync.Mutex // guards the fields below, and building
	closed  bool
	s       store.Store
	plugins []cachet.Plugin
	caches  []builtCache
}

// builtCache is a *cachet.Cache[K, V] that Alias built, with its K and V. An
// alias rarely has more than one, so a slice scanned with cheap interface
// comparisons beats a map hashing two reflect.Types.
type builtCache struct {
	k, v  reflect.Type
	cache any
}

// NewRegistry returns a Registry configured with aliases, or an error as
// for [Registry.Configure].
func NewRegistry(aliases map[string]Config) (*Registry, error) {
	r := new(Registry)
	if err := r.Configure(aliases); err != nil {
		return nil, err
	}
	return r, nil
}

// Configure replaces the registry's aliases with aliases. Every alias is
// checked first (its store URL parsed, its codec and plugins resolved),
// without opening anything; on any error the registry is left unchanged
// and the error names the alias and wraps [cachet.ErrInvalidOption].
//
// Then the caches and stores built from the previous configuration are
// closed and dropped, so that later calls build from the new one. Their
// Close errors are returned, joined; the new configuration is in effect
// regardless.
func (r *Registry) Configure(aliases map[string]Config) error {
	entries := make(map[string]*aliasEntry, len(aliases))
	names := make([]string, 0, len(aliases))
	for name := range aliases {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if name == "" {
			return withContext("configure", storeurl.Errorf("alias", "", "empty alias name"))
		}
		cfg := aliases[name]
		cfg.Plugins = slices.Clone(cfg.Plugins)
		cfg.Middleware = slices.Clone(cfg.Middleware)
		u, err := cfg.check()
		if err != nil {
			return withContext(fmt.Sprintf("configure alias %q", name), err)
		}
		entries[name] = &aliasEntry{name: name, cfg: cfg, url: u}
	}
	r.mu.Lock()
	old := r.aliases
	r.aliases = entries
	r.mu.Unlock()
	return closeEntries(old)
}

// ConfigureJSON is Configure with the aliases read from a JSON object
// that maps each alias to its settings, as aiocache's set_config does:
//
//	{
//	  "default":  {"store": "memory://default", "ttl": "5m"},
//	  "sessions": {"store": "redis://localhost:6379/0?maxsize=20", "codec": "msgpack",
//	               "namespace": "sess", "ttl": 1800, "plugins": ["hit_miss_ratio"]}
//	}
//
// The fields are those of [Config] (store, codec, ttl, namespace,
// version, timeout, plugins, disabled); ttl and timeout are numbers of seconds or
// Go duration strings. Unknown fields are an error.
func (r *Registry) ConfigureJSON(data []byte) error {
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&raw); err != nil {
		return withContext("configure", fmt.Errorf("%w: %w", cachet.ErrInvalidOption, err))
	}
	if dec.More() {
		return withContext("configure", fmt.Errorf("%w: data after the JSON object", cachet.ErrInvalidOption))
	}
	if raw == nil {
		return withContext("configure", fmt.Errorf("%w: want a JSON object of aliases", cachet.ErrInvalidOption))
	}
	aliases := make(map[string]Config, len(raw))
	names := make([]string, 0, len(raw))
	for name := range raw {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		var cfg Config
		if err := json.Unmarshal(raw[name], &cfg); err != nil {
			var oe *storeurl.OptionError
			if !errors.As(err, &oe) {
				err = fmt.Errorf("%w: %w", cachet.ErrInvalidOption, err)
			}
			return withContext(fmt.Sprintf("configure alias %q", name), err)
		}
		aliases[name] = cfg
	}
	return r.Configure(aliases)
}

// Aliases returns the configured alias names, sorted.
func (r *Registry) Aliases() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	names := make([]string, 0, len(r.aliases))
	for name := range r.aliases {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// Config returns the configuration of alias, and whether it exists.
func (r *Registry) Config(alias string) (Config, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.aliases[alias]
	if !ok {
		return Config{}, false
	}
	cfg := e.cfg
	cfg.Plugins = slices.Clone(cfg.Plugins)
	cfg.Middleware = slices.Clone(cfg.Middleware)
	return cfg, true
}

// Close closes and drops every cache and store built by the registry. The
// aliases stay configured: a later call builds them again.
func (r *Registry) Close() error {
	r.mu.Lock()
	old := r.aliases
	fresh := make(map[string]*aliasEntry, len(old))
	for name, e := range old {
		fresh[name] = &aliasEntry{name: name, cfg: e.cfg, url: e.url}
	}
	r.aliases = fresh
	r.mu.Unlock()
	return closeEntries(old)
}

func closeEntries(entries map[string]*aliasEntry) error {
	var errs []error
	for _, e := range entries {
		e.mu.Lock()
		e.closed = true
		if e.s != nil {
			if err := e.s.Close(); err != nil && !errors.Is(err, cachet.ErrClosed) {
				errs = append(errs, withContext(fmt.Sprintf("close alias %q", e.name), err))
			}
			e.s = nil
		}
		e.caches, e.plugins = nil, nil
		e.mu.Unlock()
	}
	return errors.Join(errs...)
}

// entry returns the alias' current entry, locked and not closed.
func (r *Registry) entry(alias string) (*aliasEntry, error) {
	for {
		r.mu.Lock()
		e, ok := r.aliases[alias]
		if !ok && alias == DefaultAlias {
			if d, err := newEntry("default", alias, DefaultConfig); err == nil {
				if r.aliases == nil {
					r.aliases = map[string]*aliasEntry{}
				}
				r.aliases[alias], e, ok = d, d, true
			}
		}
		var names []string
		if !ok {
			for name := range r.aliases {
				names = append(names, name)
			}
		}
		r.mu.Unlock()
		if !ok {
			slices.Sort(names)
			list := strings.Join(names, ", ")
			if list == "" {
				list = "none"
			}
			return nil, fmt.Errorf("%w: unknown cache alias %q (configured: %s)", cachet.ErrInvalidOption, alias, list)
		}
		e.mu.Lock()
		if !e.closed {
			return e, nil
		}
		// Reconfigured or closed meanwhile: look again.
		e.mu.Unlock()
	}
}

// sharedStore returns the alias' store, opening it on first use. e.mu is
// held.
func (e *aliasEntry) sharedStore() (store.Store, error) {
	if e.s == nil {
		s, ps, err := e.cfg.openStore(e.name, e.url)
		if err != nil {
			return nil, withContext(fmt.Sprintf("alias %q", e.name), err)
		}
		e.s, e.plugins = s, ps
	}
	return e.s, nil
}

// Store returns the store of alias, wrapped in its plugins: the one every
// cache that [Alias] returns for it shares, opened on first use. The
// registry owns it: do not close it (use [Registry.Close]).
func (r *Registry) Store(alias string) (store.Store, error) {
	e, err := r.entry(alias)
	if err != nil {
		return nil, err
	}
	defer e.mu.Unlock()
	return e.sharedStore()
}

// Plugins returns the plugin instances wrapping the store of alias (the
// one [Registry.Store] returns), in the order of its configuration,
// opening the store on first use. Type-assert them to read their
// statistics:
//
//	ps, _ := r.Plugins("users")
//	hits := ps[0].(*cachet.HitMissRatio).Stats()
func (r *Registry) Plugins(alias string) ([]cachet.Plugin, error) {
	e, err := r.entry(alias)
	if err != nil {
		return nil, err
	}
	defer e.mu.Unlock()
	if _, err := e.sharedStore(); err != nil {
		return nil, err
	}
	return slices.Clone(e.plugins), nil
}

// Alias returns the cache of K keys and V values for alias, building it
// (and the alias' store) on first use and returning the same *Cache on
// every later call with the same K and V; concurrent first calls build it
// once. Caches of one alias share its store. The first Alias call fixes
// the alias' value type: asking for another V (whose values the alias'
// keys do not hold) is an error wrapping cachet.ErrInvalidOption that
// names both types. Another K with the same V is allowed.
//
// The alias' codec must fit V: string needs V string and bytes needs V
// []byte; a codec given to RegisterCodec must have been registered for V.
// K needs the default key function (strings, integers, fmt.Stringer): for
// other keys use [Create] with cachet.Options.Key.
//
// The registry owns the cache: do not Close it; [Registry.Close] and
// [Registry.Configure] close it, after which it returns cachet.ErrClosed. An
// unknown alias or an unfit codec gives an error wrapping
// cachet.ErrInvalidOption.
func Alias[K comparable, V any](r *Registry, alias string) (*cachet.Cache[K, V], error) {
	e, err := r.entry(alias)
	if err != nil {
		return nil, err
	}
	defer e.mu.Unlock()
	kt, vt := reflect.TypeFor[K](), reflect.TypeFor[V]()
	for _, b := range e.caches {
		if b.k == kt && b.v == vt {
			return b.cache.(*cachet.Cache[K, V]), nil
		}
	}
	cd, err := codecFor[V](e.cfg.Codec)
	if err != nil {
		return nil, withContext(fmt.Sprintf("alias %q", alias), err)
	}
	if err := e.checkValueType(kt, vt); err != nil { // types.go
		return nil, err
	}
	s, err := e.sharedStore()
	if err != nil {
		return nil, err
	}
	c, err := cachet.New(s, cd, aliasOptions[K](nil, &e.cfg, e.url.Options()))
	if err != nil {
		return nil, withContext(fmt.Sprintf("alias %q", alias), err)
	}
	e.caches = append(e.caches, builtCache{kt, vt, c})
	return c, nil
}

// Create returns a new cache configured as alias, over a new store
// (with new plugin instances) opened from the alias' URL, which the caller
// owns and closes with the cache. Its plugins are new instances too, out
// of reach of [Registry.Plugins]: to read their statistics, give your own
// plugins in o.Middleware instead. Options in o win over the alias'
// configuration, which wins over its URL; o may be nil. (A memory://NAME
// URL still gives a handle on the process' one store of that name.)
func Create[K comparable, V any](r *Registry, alias string, o *cachet.Options[K]) (*cachet.Cache[K, V], error) {
	e, err := r.entry(alias)
	if err != nil {
		return nil, err
	}
	cfg, u := e.cfg, e.url
	e.mu.Unlock()
	cd, err := codecFor[V](cfg.Codec)
	if err != nil {
		return nil, withContext(fmt.Sprintf("alias %q", alias), err)
	}
	s, _, err := cfg.openStore(alias, u)
	if err != nil {
		return nil, withContext(fmt.Sprintf("alias %q", alias), err)
	}
	co := aliasOptions(o, &cfg, u.Options())
	co.OwnsStore = true // the caller owns the cache, and the cache its store
	c, err := cachet.New(s, cd, co)
	if err != nil {
		s.Close()
		return nil, withContext(fmt.Sprintf("alias %q", alias), err)
	}
	return c, nil
}
