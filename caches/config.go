package caches

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/cachet-go/cachet"
	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/storeurl"
)

// Config configures one named cache of a [Registry]. Only Store is
// required. Options set here win over the same options in the store URL;
// options given in code to [Create] win over both.
type Config struct {
	// Store is the store URL, as for [cachet.Open]; it may carry cache options
	// (ttl, namespace, version) that the fields below override.
	Store string `json:"store"`

	// Codec names the codec: json (the default), msgpack, gob, string,
	// bytes, or a name given to RegisterCodec.
	Codec string `json:"codec,omitempty"`

	// TTL is the default time to live. Default: 0, the URL's ttl, or no
	// expiry. In JSON: a number of seconds or a Go duration string such
	// as "10m". cachet.NoExpiry is accepted; other negative values are not.
	TTL time.Duration `json:"ttl,omitempty"`

	// Namespace prefixes the keys, as cachet.Options.Namespace. Default: the
	// URL's, or none.
	Namespace string `json:"namespace,omitempty"`

	// Version follows the namespace in keys, as cachet.Options.Version: a
	// string or an integer (in JSON, a string or a number). Default: the
	// URL's, or none.
	Version any `json:"version,omitempty"`

	// Timeout bounds each operation, as cachet.Options.Timeout. In JSON, as TTL.
	Timeout time.Duration `json:"timeout,omitempty"`

	// Plugins names the plugins wrapping the alias' store, outermost
	// first: the built-in hit_miss_ratio and timing, or names given to
	// RegisterPlugin.
	Plugins []string `json:"plugins,omitempty"`

	// Middleware names the middleware wrapping the alias' store (outside
	// its plugins), outermost first: the built-in logging, expvar and
	// fail_open, or names given to RegisterMiddleware. In JSON, for
	// example "middleware": ["logging", "expvar", "fail_open"].
	Middleware []string `json:"middleware,omitempty"`

	// Disabled starts the alias' caches with their kill switch off, as
	// cachet.Options.Disabled: they behave as over a noop store until
	// Enable. Default: false, or the URL's ?disabled=.
	Disabled bool `json:"disabled,omitempty"`
}

// aliasJSON is the JSON form of an alias (it names the type in errors).
type aliasJSON struct {
	Store      string          `json:"store"`
	Codec      string          `json:"codec"`
	TTL        json.RawMessage `json:"ttl"`
	Namespace  string          `json:"namespace"`
	Version    json.RawMessage `json:"version"`
	Timeout    json.RawMessage `json:"timeout"`
	Plugins    []string        `json:"plugins"`
	Middleware []string        `json:"middleware"`
	Disabled   bool            `json:"disabled"`
}

// UnmarshalJSON reads an alias from JSON (see [Registry.ConfigureJSON]),
// refusing unknown fields.
func (c *Config) UnmarshalJSON(data []byte) error {
	var raw aliasJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return err
	}
	out := Config{Store: raw.Store, Codec: raw.Codec, Namespace: raw.Namespace, Plugins: raw.Plugins, Middleware: raw.Middleware, Disabled: raw.Disabled}
	var err error
	if out.TTL, err = jsonDuration("ttl", raw.TTL); err != nil {
		return err
	}
	if out.TTL < 0 || out.TTL == 0 && len(raw.TTL) > 0 && string(raw.TTL) != "null" {
		return storeurl.Errorf("ttl", string(raw.TTL), "must be positive (leave ttl out for no expiry)")
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
				return storeurl.Errorf("version", v.String(), "want a string or an integer")
			}
			out.Version = n
		default:
			return storeurl.Errorf("version", string(raw.Version), "want a string or an integer")
		}
	}
	*c = out
	return nil
}

// MarshalJSON writes the alias in the form UnmarshalJSON reads, with ttl
// and timeout as Go duration strings.
func (c Config) MarshalJSON() ([]byte, error) {
	type out struct {
		Store      string   `json:"store"`
		Codec      string   `json:"codec,omitempty"`
		TTL        string   `json:"ttl,omitempty"`
		Namespace  string   `json:"namespace,omitempty"`
		Version    any      `json:"version,omitempty"`
		Timeout    string   `json:"timeout,omitempty"`
		Plugins    []string `json:"plugins,omitempty"`
		Middleware []string `json:"middleware,omitempty"`
		Disabled   bool     `json:"disabled,omitempty"`
	}
	o := out{Store: c.Store, Codec: c.Codec, Namespace: c.Namespace, Version: c.Version, Plugins: c.Plugins, Middleware: c.Middleware, Disabled: c.Disabled}
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
		return storeurl.ParseDuration(name, s)
	}
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil {
		return 0, storeurl.Errorf(name, string(raw), "want a number of seconds or a Go duration string such as \"90s\"")
	}
	if math.IsNaN(f) || math.Abs(f) > float64(math.MaxInt64)/float64(time.Second) {
		return 0, storeurl.Errorf(name, string(raw), "out of range")
	}
	return time.Duration(f * float64(time.Second)), nil
}

// check validates c (alias name is for messages) and parses its store URL.
func (c *Config) check() (*storeurl.URL, error) {
	if c.Store == "" {
		return nil, storeurl.Errorf("store", "", "missing store URL")
	}
	u, err := storeurl.Parse(c.Store)
	if err != nil {
		return nil, err
	}
	if !codecKnown(c.Codec) && c.Codec != "" {
		return nil, storeurl.Errorf("codec", c.Codec, "unknown codec (built in: %s; more with RegisterCodec)", strings.Join(builtinCodecs, ", "))
	}
	if c.TTL < 0 && c.TTL != cachet.NoExpiry {
		return nil, storeurl.Errorf("ttl", c.TTL.String(), "must be positive, or NoExpiry")
	}
	if c.Namespace != "" && strings.Contains(c.Namespace, keySep) {
		return nil, storeurl.Errorf("namespace", c.Namespace, "may not contain %q", keySep)
	}
	switch v := c.Version.(type) {
	case nil:
	case string:
		if v == "" || strings.Contains(v, keySep) {
			return nil, storeurl.Errorf("version", v, "must be non-empty and may not contain %q", keySep)
		}
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
	default:
		return nil, storeurl.Errorf("version", fmt.Sprint(v), "want a string or an integer, not %T", v)
	}
	for _, p := range c.Plugins {
		if _, ok := lookupPlugin(p); !ok {
			return nil, storeurl.Errorf("plugins", p, "unknown plugin (registered: %s; more with RegisterPlugin)", strings.Join(pluginNames(), ", "))
		}
	}
	for _, m := range c.Middleware {
		if _, ok := middlewares.Get(m); !ok {
			return nil, storeurl.Errorf("middleware", m, "unknown middleware (registered: %s; more with RegisterMiddleware)", strings.Join(middlewares.Names(), ", "))
		}
	}
	return u, nil
}

// openStore opens a new store for the alias, wrapped in fresh instances
// of its plugins, which it returns too, and in its middleware.
func (c *Config) openStore(alias string, u *storeurl.URL) (store.Store, []cachet.Plugin, error) {
	mws, err := c.middleware(alias) // middleware.go
	if err != nil {
		return nil, nil, err
	}
	s, err := u.Open()
	if err != nil {
		return nil, nil, err
	}
	var ps []cachet.Plugin
	if len(c.Plugins) > 0 {
		ps = make([]cachet.Plugin, len(c.Plugins))
		for i, name := range c.Plugins {
			newPlugin, _ := lookupPlugin(name) // checked by check
			ps[i] = newPlugin()
		}
		s = cachet.WithPlugins(ps...)(s)
	}
	if len(mws) > 0 {
		s = cachet.Chain(mws...)(s)
	}
	return s, ps, nil
}

// aliasOptions returns the cache options of an alias: code (o) over the
// alias config (c) over the URL (u).
func aliasOptions[K comparable](o *cachet.Options[K], c *Config, u cachet.URLOptions) *cachet.Options[K] {
	cfg := cachet.Options[K]{TTL: c.TTL, Namespace: c.Namespace, Version: c.Version, Timeout: c.Timeout}
	merged := cachet.MergeOptions(o, cachet.URLOptions{}) // a copy of o
	if merged.TTL == cachet.DefaultTTL {
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
	if c.Disabled {
		merged.Disabled = true
	}
	return cachet.MergeOptions(merged, u)
}

// keySep separates the namespace, the version and the key in cachet's
// store keys, so a namespace or version may not contain it.
const keySep = ":"

// contextError adds context to an error without repeating its "cachet: "
// prefix.
type contextError struct {
	context string
	err     error
}

func withContext(context string, err error) error { return &contextError{context, err} }

func (e *contextError) Error() string {
	return "cachet: " + e.context + ": " + strings.TrimPrefix(e.err.Error(), "cachet: ")
}

func (e *contextError) Unwrap() error { return e.err }
