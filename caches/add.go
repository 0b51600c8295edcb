package caches

import (
	"fmt"
	"slices"

	"github.com/cachet-go/cachet"
	"github.com/cachet-go/cachet/store/storeurl"
)

// DefaultAlias is the name of the default alias, as in aiocache's
// caches.get("default"). A registry that has no alias of that name
// configured uses [DefaultConfig] for it on first use (and lists it in
// [Registry.Aliases] from then on); configure "default" to change it.
const DefaultAlias = "default"

// DefaultConfig is the configuration of [DefaultAlias] in a registry
// that does not configure it: the process' in-memory store named
// "default" (shared by every registry and every open of
// memory://default), the JSON codec, no namespace and no expiry.
var DefaultConfig = Config{Store: "memory://default"}

// Default returns the cache of the registry's default alias, as
// Alias(r, DefaultAlias) does.
func Default[K comparable, V any](r *Registry) (*cachet.Cache[K, V], error) {
	return Alias[K, V](r, DefaultAlias)
}

// Add configures one more alias, name, leaving the others as they are.
// It returns an error wrapping [cachet.ErrInvalidOption] if name is
// empty, if cfg does not check (as for [Registry.Configure]), or if name
// is already configured: use [Registry.Set] to replace an alias.
func (r *Registry) Add(name string, cfg Config) error {
	e, err := newEntry("add", name, cfg)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.aliases[name]; dup {
		return withContext(fmt.Sprintf("add alias %q", name), storeurl.Errorf("alias", name, "already configured (use Set to replace it)"))
	}
	if r.aliases == nil {
		r.aliases = map[string]*aliasEntry{}
	}
	r.aliases[name] = e
	return nil
}

// Set configures the alias name as cfg, adding it or replacing its
// configuration, and leaves the other aliases as they are. The caches
// and store built from a replaced configuration are closed and dropped,
// as [Registry.Configure] does, and their Close errors returned; the new
// configuration is in effect regardless. A cfg that does not check
// changes nothing and gives an error wrapping [cachet.ErrInvalidOption].
func (r *Registry) Set(name string, cfg Config) error {
	e, err := newEntry("set", name, cfg)
	if err != nil {
		return err
	}
	r.mu.Lock()
	old, had := r.aliases[name]
	if r.aliases == nil {
		r.aliases = map[string]*aliasEntry{}
	}
	r.aliases[name] = e
	r.mu.Unlock()
	if !had {
		return nil
	}
	return closeEntries(map[string]*aliasEntry{name: old})
}

// newEntry checks cfg and returns the entry of alias name (op names the
// caller in errors).
func newEntry(op, name string, cfg Config) (*aliasEntry, error) {
	if name == "" {
		return nil, withContext(op, storeurl.Errorf("alias", "", "empty alias name"))
	}
	cfg.Plugins = slices.Clone(cfg.Plugins)
	cfg.Middleware = slices.Clone(cfg.Middleware)
	u, err := cfg.check()
	if err != nil {
		return nil, withContext(fmt.Sprintf("%s alias %q", op, name), err)
	}
	return &aliasEntry{name: name, cfg: cfg, url: u}, nil
}
