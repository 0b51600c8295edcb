package caches

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/cachet-go/cachet"
	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/internal/named"
	"github.com/cachet-go/cachet/store/storeurl"
)

// Built-in codec names, resolved by [Alias] and [Create].
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
// name and opened with [Alias] or [Create] for a V uses c. One name
// may be registered for several value types. The built-in names json,
// msgpack, gob (any V), string (V string) and bytes (V []byte) need no
// registration and cannot be taken.
//
// RegisterCodec panics if name is empty or built in, if c is nil, or if
// name is already registered for V. It is safe for concurrent use; it is
// meant to be called from init functions or before a Registry is used.
func RegisterCodec[V any](name string, c codec.Codec[V]) {
	if name == "" || slices.Contains(builtinCodecs, name) {
		panic("caches: RegisterCodec: codec name " + strconv.Quote(name) + " is empty or built in")
	}
	if c == nil {
		panic("caches: RegisterCodec: nil codec for " + name)
	}
	k := codecKey{name, reflect.TypeFor[V]()}
	codecs.Lock()
	defer codecs.Unlock()
	if _, dup := codecs.m[k]; dup {
		panic(fmt.Sprintf("caches: RegisterCodec called twice for codec %s and type %v", name, k.typ))
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
			return nil, storeurl.Errorf("codec", name, "registered for other value types than %v (see RegisterCodec)", typ)
		}
		return nil, storeurl.Errorf("codec", name, "unknown codec (built in: %s; more with RegisterCodec)", strings.Join(builtinCodecs, ", "))
	}
	if c, ok := fit.(codec.Codec[V]); ok {
		return c, nil
	}
	want := "string"
	if name == "bytes" {
		want = "[]byte"
	}
	return nil, storeurl.Errorf("codec", name, "encodes %s values, not %v", want, typ)
}

var plugins = named.New(map[string]func() cachet.Plugin{
	"hit_miss_ratio": func() cachet.Plugin { return new(cachet.HitMissRatio) },
	"timing":         func() cachet.Plugin { return new(cachet.Timing) },
})

// RegisterPlugin makes a [cachet.Plugin] available under name to the plugins
// list of an alias (see [Config]). newPlugin is called once for each
// store a [Registry] opens, so that every alias has its own instance (its
// own statistics, for instance); [Registry.Plugins] returns them. The
// names hit_miss_ratio ([cachet.HitMissRatio]) and timing ([cachet.Timing]) are built
// in.
//
// RegisterPlugin panics if name is empty or already registered or if
// newPlugin is nil. It is safe for concurrent use.
func RegisterPlugin(name string, newPlugin func() cachet.Plugin) {
	if name == "" {
		panic("caches: RegisterPlugin: empty plugin name")
	}
	if newPlugin == nil {
		panic("caches: RegisterPlugin: nil function for " + name)
	}
	if !plugins.Add(name, newPlugin) {
		panic("caches: RegisterPlugin called twice for plugin " + name)
	}
}

func lookupPlugin(name string) (func() cachet.Plugin, bool) { return plugins.Get(name) }

func pluginNames() []string { return plugins.Names() }
