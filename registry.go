package cachet

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/store"
)

// Built-in codec names, resolved by [Alias] and [CreateAlias].
var builtinCodecs = []string{"json", "msgpack", "gob", "string", "bytes"}

type codecKey struct {
	name string
	typ  reflect.Type
}

var codecs = struct {
	sync.RWMutex
	m     map[codecKey]any // codec.Codec[V] for V = key.typ
	names map[string]bool
}{m: map[codecKey]any{}, names: map[string]bool{}}

// RegisterCodec makes c available under name to the aliases of a
// [Registry] whose value type is V: an alias configured with that codec
// name and opened with [Alias] or [CreateAlias] for a V uses c. One name
// may be registered for several value types. The built-in names json,
// msgpack, gob (any V), string (V string) and bytes (V []byte) need no
// registration and cannot be taken.
//
// RegisterCodec panics if name is empty or built in, if c is nil, or if
// name is already registered for V. It is safe for concurrent use; it is
// meant to be called from init functions or before a Registry is used.
func RegisterCodec[V any](name string, c codec.Codec[V]) {
	if name == "" || slices.Contains(builtinCodecs, name) {
		panic("cachet: RegisterCodec: codec name " + strconv.Quote(name) + " is empty or built in")
	}
	if c == nil {
		panic("cachet: RegisterCodec: nil codec for " + name)
	}
	k := codecKey{name, reflect.TypeFor[V]()}
	codecs.Lock()
	defer codecs.Unlock()
	if _, dup := codecs.m[k]; dup {
		panic(fmt.Sprintf("cachet: RegisterCodec called twice for codec %s and type %v", name, k.typ))
	}
	codecs.m[k] = c
	codecs.names[name] = true
}

func codecKnown(name string) bool {
	if slices.Contains(builtinCodecs, name) {
		return true
	}
	codecs.RLock()
	defer codecs.RUnlock()
	return codecs.names[name]
}

// codecFor returns the codec called name for values of type V.
func codecFor[V any](name string) (codec.Codec[V], error) {
	typ := reflect.TypeFor[V]()
	codecs.RLock()
	c, ok := codecs.m[codecKey{name, typ}]
	codecs.RUnlock()
	if ok {
		return c.(codec.Codec[V]), nil
	}
	var fit any
	switch name {
	case "", "json":
		return codec.JSON[V](), nil
	case "msgpack":
		return codec.Msgpack[V](), nil
	case "gob":
		return codec.Gob[V](), nil
	case "string":
		fit = codec.String()
	case "bytes":
		fit = codec.Bytes()
	default:
		if codecKnown(name) {
			return nil, optErr("codec", name, "registered for other value types than %v (see RegisterCodec)", typ)
		}
		return nil, optErr("codec", name, "unknown codec (built in: %s; more with RegisterCodec)", strings.Join(builtinCodecs, ", "))
	}
	if c, ok := fit.(codec.Codec[V]); ok {
		return c, nil
	}
	want := "string"
	if name == "bytes" {
		want = "[]byte"
	}
	return nil, optErr("codec", name, "encodes %s values, not %v", want, typ)
}

var plugins = newNamed(map[string]func() Plugin{
	"hit_miss_ratio": func() Plugin { return new(HitMissRatio) },
	"timing":         func() Plugin { return new(Timing) },
})

// named is a process-wide table of registered names, such as URL schemes
// and plugins. It is safe for concurrent use.
type named[T any] struct {
	mu sync.RWMutex
	m  map[string]T
}

func newNamed[T any](initial map[string]T) *named[T] {
	if initial == nil {
		initial = map[string]T{}
	}
	return &named[T]{m: initial}
}

// add registers v under name and reports false if name was taken.
func (n *named[T]) add(name string, v T) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, dup := n.m[name]; dup {
		return false
	}
	n.m[name] = v
	return true
}

func (n *named[T]) get(name string) (T, bool) {
	n.mu.RLock()
	defer n.mu.RUnlock()
	v, ok := n.m[name]
	return v, ok
}

// names returns the registered names, sorted.
func (n *named[T]) names() []string {
	n.mu.RLock()
	defer n.mu.RUnlock()
	names := make([]string, 0, len(n.m))
	for name := range n.m {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// RegisterPlugin makes a [Plugin] available under name to the plugins
// list of an alias (see [AliasConfig]). newPlugin is called once for each
// store a [Registry] opens, so that every alias has its own instance (its
// own statistics, for instance); [Registry.Plugins] returns them. The
// names hit_miss_ratio ([HitMissRatio]) and timing ([Timing]) are built
// in.
//
// RegisterPlugin panics if name is empty or already registered or if
// newPlugin is nil. It is safe for concurrent use.
func RegisterPlugin(name string, newPlugin func() Plugin) {
	if name == "" {
		panic("cachet: RegisterPlugin: empty plugin name")
	}
	if newPlugin == nil {
		panic("cachet: RegisterPlugin: nil function for " + name)
	}
	if !plugins.add(name, newPlugin) {
		panic("cachet: RegisterPlugin called twice for plugin " + name)
	}
}

func lookupPlugin(name string) (func() Plugin, bool) { return plugins.get(name) }

func pluginNames() []string { return plugins.names() }

// AliasConfig configures one named cache of a [Registry]. Only Store is
// required. Options set here win over the same options in the store URL;
// options given in code to [CreateAlias] win over both.
type AliasConfig struct {
	// Store is the store URL, as for [Open]; it may carry cache options
	// (ttl, namespace, version) that the fields below override.
	Store string `json:"store"`

	// Codec names the codec: json (the default), msgpack, gob, string,
	// bytes, or a name given to RegisterCodec.
	Codec string `json:"codec,omitempty"`

	// TTL is the default time to live. Default: 0, the URL's ttl, or no
	// expiry. In JSON: a number of seconds or a Go duration string such
	// as "10m". NoExpiry is accepted; other negative values are not.
	TTL time.Duration `json:"ttl,omitempty"`

	// Namespace prefixes the keys, as Options.Namespace. Default: the
	// URL's, or none.
	Namespace string `json:"namespace,omitempty"`

	// Version follows the namespace in keys, as Options.Version: a
	// string or an integer (in JSON, a string or a number). Default: the
	// URL's, or none.
	Version any `json:"version,omitempty"`

	// Timeout bounds each operation, as Options.Timeout. In JSON, as TTL.
	Timeout time.Duration `json:"timeout,omitempty"`

	// Plugins names the plugins wrapping the alias' store, outermost
	// first: the built-in hit_miss_ratio and timing, or names given to
	// RegisterPlugin.
	Plugins []string `json:"plugins,omitempty"`
}

// aliasJSON is the JSON form of an alias (it names the type in errors).
type aliasJSON struct {
	Store     string          `json:"store"`
	Codec     string          `json:"codec"`
	TTL       json.RawMessage `json:"ttl"`
	Namespace string          `json:"namespace"`
	Version   json.RawMessage `json:"version"`
	Timeout   json.RawMessage `json:"timeout"`
	Plugins   []string        `json:"plugins"`
}

// UnmarshalJSON reads an alias from JSON (see [Registry.ConfigureJSON]),
// refusing unknown fields.
func (c *AliasConfig) UnmarshalJSON(data []byte) error {
	var raw aliasJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return err
	}
	out := AliasConfig{Store: raw.Store, Codec: raw.Codec, Namespace: raw.Namespace, Plugins: raw.Plugins}
	var err error
	if out.TTL, err = jsonDuration("ttl", raw.TTL); err != nil {
		return err
	}
	if out.TTL < 0 || out.TTL == 0 && len(raw.TTL) > 0 && string(raw.TTL) != "null" {
		return optErr("ttl", string(raw.TTL), "must be positive (leave ttl out for no expiry)")
	}
	if out.Timeout, err = jsonDuration("timeout", raw.Timeout); err != nil {
		return err
	}
	if len(raw.Version) > 0 && string(raw.Version) != "null" {
		var v any
		d := json.NewDecoder(bytes.NewReader(raw.Version))
		d.UseNumber()
		if err := d.Decode(&v); err != nil {
			return err
		}
		switch v := v.(type) {
		case string:
			out.Version = v
		case json.Number:
			n, err := v.Int64()
			if err != nil {
				return optErr("version", v.String(), "want a string or an integer")
			}
			out.Version = n
		default:
			return optErr("version", string(raw.Version), "want a string or an integer")
		}
	}
	*c = out
	return nil
}

// MarshalJSON writes the alias in the form UnmarshalJSON reads, with ttl
// and timeout as Go duration strings.
func (c AliasConfig) MarshalJSON() ([]byte, error) {
	type out struct {
		Store     string   `json:"store"`
		Codec     string   `json:"codec,omitempty"`
		TTL       string   `json:"ttl,omitempty"`
		Namespace string   `json:"namespace,omitempty"`
		Version   any      `json:"version,omitempty"`
		Timeout   string   `json:"timeout,omitempty"`
		Plugins   []string `json:"plugins,omitempty"`
	}
	o := out{Store: c.Store, Codec: c.Codec, Namespace: c.Namespace, Version: c.Version, Plugins: c.Plugins}
	if c.TTL != 0 {
		o.TTL = c.TTL.String()
	}
	if c.Timeout != 0 {
		o.Timeout = c.Timeout.String()
	}
	return json.Marshal(o)
}

// jsonDuration reads a JSON number of seconds or a duration string.
func jsonDuration(name string, raw json.RawMessage) (time.Duration, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return OptionDuration(name, s)
	}
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil {
		return 0, optErr(name, string(raw), "want a number of seconds or a Go duration string such as \"90s\"")
	}
	if math.IsNaN(f) || math.Abs(f) > float64(math.MaxInt64)/float64(time.Second) {
		return 0, optErr(name, string(raw), "out of range")
	}
	return time.Duration(f * float64(time.Second)), nil
}

// check validates c (alias name is for messages) and parses its store URL.
func (c *AliasConfig) check() (*StoreURL, error) {
	if c.Store == "" {
		return nil, optErr("store", "", "missing store URL")
	}
	u, err := ParseURL(c.Store)
	if err != nil {
		return nil, err
	}
	if !codecKnown(c.Codec) && c.Codec != "" {
		return nil, optErr("codec", c.Codec, "unknown codec (built in: %s; more with RegisterCodec)", strings.Join(builtinCodecs, ", "))
	}
	if c.TTL < 0 && c.TTL != NoExpiry {
		return nil, optErr("ttl", c.TTL.String(), "must be positive, or NoExpiry")
	}
	if c.Namespace != "" && strings.Contains(c.Namespace, keySep) {
		return nil, optErr("namespace", c.Namespace, "may not contain %q", keySep)
	}
	switch v := c.Version.(type) {
	case nil:
	case string:
		if v == "" || strings.Contains(v, keySep) {
			return nil, optErr("version", v, "must be non-empty and may not contain %q", keySep)
		}
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
	default:
		return nil, optErr("version", fmt.Sprint(v), "want a string or an integer, not %T", v)
	}
	for _, p := range c.Plugins {
		if _, ok := lookupPlugin(p); !ok {
			return nil, optErr("plugins", p, "unknown plugin (registered: %s; more with RegisterPlugin)", strings.Join(pluginNames(), ", "))
		}
	}
	return u, nil
}

// openStore opens a new store for the alias, wrapped in fresh instances
// of its plugins, which it returns too.
func (c *AliasConfig) openStore(u *StoreURL) (store.Store, []Plugin, error) {
	s, err := u.Open()
	if err != nil {
		return nil, nil, err
	}
	if len(c.Plugins) == 0 {
		return s, nil, nil
	}
	ps := make([]Plugin, len(c.Plugins))
	for i, name := range c.Plugins {
		newPlugin, _ := lookupPlugin(name) // checked by check
		ps[i] = newPlugin()
	}
	return WithPlugins(ps...)(s), ps, nil
}

// aliasOptions returns the cache options of an alias: code (o) over the
// alias config (c) over the URL (u).
func aliasOptions[K comparable](o *Options[K], c *AliasConfig, u URLOptions) *Options[K] {
	cfg := Options[K]{TTL: c.TTL, Namespace: c.Namespace, Version: c.Version, Timeout: c.Timeout}
	merged := MergeOptions(o, URLOptions{}) // a copy of o
	if merged.TTL == DefaultTTL {
		merged.TTL = cfg.TTL
	}
	if merged.Namespace == "" {
		merged.Namespace = cfg.Namespace
	}
	if merged.Version == nil {
		merged.Version = cfg.Version
	}
	if merged.Timeout == 0 {
		merged.Timeout = cfg.Timeout
	}
	return MergeOptions(merged, u)
}

// Registry holds named cache configurations (aliases) and the caches
// built from them, as aiocache's caches does: [Alias] returns the same
// cache for an alias every time, building it on first use; [CreateAlias]
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
	cfg  AliasConfig
	url  *StoreURL

	mu      sync.Mutex // guards the fields below, and building
	closed  bool
	s       store.Store
	plugins []Plugin
	caches  []builtCache
}

// builtCache is a *Cache[K, V] that Alias built, with its K and V. An
// alias rarely has more than one, so a slice scanned with cheap interface
// comparisons beats a map hashing two reflect.Types.
type builtCache struct {
	k, v  reflect.Type
	cache any
}

// NewRegistry returns a Registry configured with aliases, or an error as
// for [Registry.Configure].
func NewRegistry(aliases map[string]AliasConfig) (*Registry, error) {
	r := new(Registry)
	if err := r.Configure(aliases); err != nil {
		return nil, err
	}
	return r, nil
}

// Configure replaces the registry's aliases with aliases. Every alias is
// checked first (its store URL parsed, its codec and plugins resolved),
// without opening anything; on any error the registry is left unchanged
// and the error names the alias and wraps ErrInvalidOption.
//
// Then the caches and stores built from the previous configuration are
// closed and dropped, so that later calls build from the new one. Their
// Close errors are returned, joined; the new configuration is in effect
// regardless.
func (r *Registry) Configure(aliases map[string]AliasConfig) error {
	entries := make(map[string]*aliasEntry, len(aliases))
	names := make([]string, 0, len(aliases))
	for name := range aliases {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if name == "" {
			return withContext("configure", optErr("alias", "", "empty alias name"))
		}
		cfg := aliases[name]
		cfg.Plugins = slices.Clone(cfg.Plugins)
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
// The fields are those of [AliasConfig] (store, codec, ttl, namespace,
// version, timeout, plugins); ttl and timeout are numbers of seconds or
// Go duration strings. Unknown fields are an error.
func (r *Registry) ConfigureJSON(data []byte) error {
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&raw); err != nil {
		return withContext("configure", fmt.Errorf("%w: %w", ErrInvalidOption, err))
	}
	if dec.More() {
		return withContext("configure", fmt.Errorf("%w: data after the JSON object", ErrInvalidOption))
	}
	if raw == nil {
		return withContext("configure", fmt.Errorf("%w: want a JSON object of aliases", ErrInvalidOption))
	}
	aliases := make(map[string]AliasConfig, len(raw))
	names := make([]string, 0, len(raw))
	for name := range raw {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		var cfg AliasConfig
		if err := json.Unmarshal(raw[name], &cfg); err != nil {
			var oe *OptionError
			if !errors.As(err, &oe) {
				err = fmt.Errorf("%w: %w", ErrInvalidOption, err)
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
func (r *Registry) Config(alias string) (AliasConfig, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.aliases[alias]
	if !ok {
		return AliasConfig{}, false
	}
	cfg := e.cfg
	cfg.Plugins = slices.Clone(cfg.Plugins)
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
			if err := e.s.Close(); err != nil && !errors.Is(err, ErrClosed) {
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
			return nil, fmt.Errorf("%w: unknown cache alias %q (configured: %s)", ErrInvalidOption, alias, list)
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
		s, ps, err := e.cfg.openStore(e.url)
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
func (r *Registry) Plugins(alias string) ([]Plugin, error) {
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
// once. Caches of one alias share its store, whatever their K and V.
//
// The alias' codec must fit V: string needs V string and bytes needs V
// []byte; a codec given to RegisterCodec must have been registered for V.
// K needs the default key function (strings, integers, fmt.Stringer): for
// other keys use [CreateAlias] with Options.Key.
//
// The registry owns the cache: do not Close it; [Registry.Close] and
// [Registry.Configure] close it, after which it returns ErrClosed. An
// unknown alias or an unfit codec gives an error wrapping
// ErrInvalidOption.
func Alias[K comparable, V any](r *Registry, alias string) (*Cache[K, V], error) {
	e, err := r.entry(alias)
	if err != nil {
		return nil, err
	}
	defer e.mu.Unlock()
	kt, vt := reflect.TypeFor[K](), reflect.TypeFor[V]()
	for _, b := range e.caches {
		if b.k == kt && b.v == vt {
			return b.cache.(*Cache[K, V]), nil
		}
	}
	cd, err := codecFor[V](e.cfg.Codec)
	if err != nil {
		return nil, withContext(fmt.Sprintf("alias %q", alias), err)
	}
	s, err := e.sharedStore()
	if err != nil {
		return nil, err
	}
	c, err := New(s, cd, aliasOptions[K](nil, &e.cfg, e.url.Options()))
	if err != nil {
		return nil, withContext(fmt.Sprintf("alias %q", alias), err)
	}
	e.caches = append(e.caches, builtCache{kt, vt, c})
	return c, nil
}

// CreateAlias returns a new cache configured as alias, over a new store
// (with new plugin instances) opened from the alias' URL, which the caller
// owns and closes with the cache. Its plugins are new instances too, out
// of reach of [Registry.Plugins]: to read their statistics, give your own
// plugins in o.Middleware instead. Options in o win over the alias'
// configuration, which wins over its URL; o may be nil. (A memory://NAME
// URL still gives a handle on the process' one store of that name.)
func CreateAlias[K comparable, V any](r *Registry, alias string, o *Options[K]) (*Cache[K, V], error) {
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
	s, _, err := cfg.openStore(u)
	if err != nil {
		return nil, withContext(fmt.Sprintf("alias %q", alias), err)
	}
	c, err := New(s, cd, aliasOptions(o, &cfg, u.Options()))
	if err != nil {
		s.Close()
		return nil, withContext(fmt.Sprintf("alias %q", alias), err)
	}
	return c, nil
}

// contextError adds context to an error of the package without repeating
// its "cachet: " prefix.
type contextError struct {
	context string
	err     error
}

func withContext(context string, err error) error { return &contextError{context, err} }

func (e *contextError) Error() string {
	return "cachet: " + e.context + ": " + strings.TrimPrefix(e.err.Error(), "cachet: ")
}

func (e *contextError) Unwrap() error { return e.err }
