package caches_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/cachet-go/cachet"
	"github.com/cachet-go/cachet/caches"
	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/internal/entry"
	"github.com/cachet-go/cachet/internal/testserver"
	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/memcachestore"
	_ "github.com/cachet-go/cachet/store/memcachestore/memcacheurl"
	"github.com/cachet-go/cachet/store/memstore"
	"github.com/cachet-go/cachet/store/redisstore"
	_ "github.com/cachet-go/cachet/store/redisstore/redisurl"
	"github.com/cachet-go/cachet/store/storeurl"
)

type user struct {
	Name string
	Age  int
}

// countingOpens counts the stores opened through the cachet-test-count://
// scheme, which opens memory stores.
var countingOpens atomic.Int64

func init() {
	storeurl.Register("cachet-test-count", func(u *url.URL) (func() (store.Store, error), error) {
		return func() (store.Store, error) {
			countingOpens.Add(1)
			return memstore.New(nil)
		}, nil
	})
	// Names are registered for the process, so once, not per test run
	// (which would panic under -count > 1).
	caches.RegisterCodec[point]("cachet-test-point", pointCodec{})
	caches.RegisterPlugin("cachet-test-count", func() cachet.Plugin { return new(countPlugin) })
}

// uniq returns a memory store name private to the test.
func uniq(t *testing.T) string {
	return strings.NewReplacer("/", "-", "_", "-").Replace(strings.ToLower(t.Name()))
}

func newRegistry(t *testing.T, aliases map[string]caches.Config) *caches.Registry {
	t.Helper()
	r, err := caches.NewRegistry(aliases)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// userID is a key type of its own (a string underneath).
type userID string

func TestRegistry_AliasIsSharedAndLazy(t *testing.T) {
	ctx := context.Background()
	before := countingOpens.Load()
	r := newRegistry(t, map[string]caches.Config{
		"users": {Store: "cachet-test-count://x", Namespace: "users"},
	})
	if n := countingOpens.Load() - before; n != 0 {
		t.Fatalf("Configure opened %d stores; want 0 (stores are built on first use)", n)
	}
	a, err := caches.Alias[string, user](r, "users")
	if err != nil {
		t.Fatal(err)
	}
	b, err := caches.Alias[string, user](r, "users")
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Errorf("Alias returned two different caches for the same alias and types")
	}
	// Another key type, same value type: another cache, on the same store.
	byID, err := caches.Alias[userID, user](r, "users")
	if err != nil {
		t.Fatal(err)
	}
	if byID.Store() != a.Store() {
		t.Errorf("caches of one alias do not share its store")
	}
	// Another value type: an error naming both.
	if _, err := caches.Alias[string, int](r, "users"); !errors.Is(err, cachet.ErrInvalidOption) ||
		!strings.Contains(err.Error(), "caches_test.user") || !strings.Contains(err.Error(), "int values") {
		t.Errorf("Alias[string, int] on an alias of user values = %v; want ErrInvalidOption naming caches_test.user and int", err)
	}
	if n := countingOpens.Load() - before; n != 1 {
		t.Errorf("opened %d stores; want 1", n)
	}
	if err := a.Set(ctx, "ada", user{"Ada", 36}); err != nil {
		t.Fatal(err)
	}
	if got, err := b.Get(ctx, "ada"); err != nil || got.Name != "Ada" {
		t.Errorf("Get = %+v, %v; want Ada", got, err)
	}
	if key, err := a.Key("ada"); err != nil || key != "users:ada" {
		t.Errorf("Key = %q; want users:ada (err %v)", key, err)
	}
}

func TestRegistry_ConcurrentFirstAlias(t *testing.T) {
	before := countingOpens.Load()
	r := newRegistry(t, map[string]caches.Config{"a": {Store: "cachet-test-count://"}})
	const n = 64
	got := make([]*cachet.Cache[string, user], n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			c, err := caches.Alias[string, user](r, "a")
			if err != nil {
				t.Error(err)
			}
			got[i] = c
		}()
	}
	close(start)
	wg.Wait()
	for i, c := range got {
		if c == nil || c != got[0] {
			t.Fatalf("goroutine %d got cache %p; want the same as goroutine 0 (%p)", i, c, got[0])
		}
	}
	if opened := countingOpens.Load() - before; opened != 1 {
		t.Errorf("%d concurrent first Alias calls opened %d stores; want 1", n, opened)
	}
}

func TestRegistry_CreateIsNew(t *testing.T) {
	ctx := context.Background()
	before := countingOpens.Load()
	r := newRegistry(t, map[string]caches.Config{
		"users": {Store: "cachet-test-count://?namespace=url&ttl=60", Namespace: "cfg"},
	})
	shared, err := caches.Alias[string, string](r, "users")
	if err != nil {
		t.Fatal(err)
	}
	c1, err := caches.Create[string, string](r, "users", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	c2, err := caches.Create[string, string](r, "users", &cachet.Options[string]{Namespace: "code", TTL: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if c1 == shared || c1 == c2 || c1.Store() == shared.Store() || c1.Store() == c2.Store() {
		t.Errorf("CreateAlias returned a shared cache or store")
	}
	if n := countingOpens.Load() - before; n != 3 {
		t.Errorf("opened %d stores; want 3 (one shared, two created)", n)
	}
	// Precedence: code over alias config over URL.
	for _, tc := range []struct {
		c       *cachet.Cache[string, string]
		wantKey string
		wantTTL time.Duration
	}{
		{shared, "cfg:k", time.Minute},
		{c1, "cfg:k", time.Minute},
		{c2, "code:k", time.Second},
	} {
		if key, err := tc.c.Key("k"); err != nil || key != tc.wantKey {
			t.Errorf("Key(k) = %q; want %q (err %v)", key, tc.wantKey, err)
		}
		if err := tc.c.Set(ctx, "k", "v"); err != nil {
			t.Fatal(err)
		}
		ttl, err := tc.c.TTL(ctx, "k")
		if err != nil || ttl > tc.wantTTL || ttl < tc.wantTTL-time.Second/2 {
			t.Errorf("TTL = %v, %v; want about %v", ttl, err, tc.wantTTL)
		}
	}
	// Closing a created cache leaves the shared one working.
	c1.Close()
	if err := shared.Set(ctx, "k", "v"); err != nil {
		t.Errorf("shared cache after closing a created one: %v", err)
	}
}

func TestRegistry_AliasConfigOverURL(t *testing.T) {
	r := newRegistry(t, map[string]caches.Config{
		"a": {Store: "memory://?namespace=url&version=1&ttl=60", TTL: cachet.NoExpiry, Version: 9},
		"b": {Store: "memory://?namespace=url&version=1&ttl=60"},
	})
	ctx := context.Background()
	a := cachet.Must(caches.Alias[string, string](r, "a"))
	b := cachet.Must(caches.Alias[string, string](r, "b"))
	if key, err := a.Key("k"); err != nil || key != "url:9:k" {
		t.Errorf("a.Key = %q; want url:9:k (alias version over URL's) (err %v)", key, err)
	}
	if key, err := b.Key("k"); err != nil || key != "url:1:k" {
		t.Errorf("b.Key = %q; want url:1:k (err %v)", key, err)
	}
	if err := a.Set(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	if ttl, err := a.TTL(ctx, "k"); err != nil || ttl != 0 {
		t.Errorf("a.TTL = %v, %v; want 0 (NoExpiry in the alias config wins over ttl=60)", ttl, err)
	}
}

func TestRegistry_UnknownAlias(t *testing.T) {
	var zero caches.Registry
	_, err := caches.Alias[string, string](&zero, "nope")
	if !errors.Is(err, cachet.ErrInvalidOption) || !strings.Contains(err.Error(), `"nope"`) || !strings.Contains(err.Error(), "none") {
		t.Errorf("Alias on a zero Registry = %v; want an ErrInvalidOption error naming the alias", err)
	}
	r := newRegistry(t, map[string]caches.Config{"b": {Store: "noop://"}, "a": {Store: "noop://"}})
	for _, f := range []func() error{
		func() error { _, err := caches.Alias[string, string](r, "c"); return err },
		func() error { _, err := caches.Create[string, string](r, "c", nil); return err },
		func() error { _, err := r.Store("c"); return err },
		func() error { _, err := r.Plugins("c"); return err },
	} {
		err := f()
		if !errors.Is(err, cachet.ErrInvalidOption) || !strings.Contains(err.Error(), `"c"`) || !strings.Contains(err.Error(), "a, b") {
			t.Errorf("unknown alias: %v; want an ErrInvalidOption error naming it and listing a, b", err)
		}
	}
	if got := r.Aliases(); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("Aliases() = %v; want [a b]", got)
	}
	if cfg, ok := r.Config("a"); !ok || cfg.Store != "noop://" {
		t.Errorf("Config(a) = %+v, %v", cfg, ok)
	}
	if _, ok := r.Config("c"); ok {
		t.Errorf("Config(c) found an unknown alias")
	}
}

func TestRegistry_ConfigureRejects(t *testing.T) {
	tests := []struct {
		name   string
		cfg    caches.Config
		option string
	}{
		{"no store", caches.Config{}, "store"},
		{"bad URL", caches.Config{Store: "memory://?ttl=0"}, "ttl"},
		{"unknown scheme", caches.Config{Store: "nope://x"}, "scheme"},
		{"unknown codec", caches.Config{Store: "noop://", Codec: "yaml"}, "codec"},
		{"unknown plugin", caches.Config{Store: "noop://", Plugins: []string{"timing", "nope"}}, "plugins"},
		{"negative ttl", caches.Config{Store: "noop://", TTL: -time.Second}, "ttl"},
		{"namespace with colon", caches.Config{Store: "noop://", Namespace: "a:b"}, "namespace"},
		{"bad version type", caches.Config{Store: "noop://", Version: 1.5}, "version"},
		{"version with colon", caches.Config{Store: "noop://", Version: "a:b"}, "version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRegistry(t, map[string]caches.Config{"old": {Store: "noop://"}})
			err := r.Configure(map[string]caches.Config{"fine": {Store: "noop://"}, "broken": tt.cfg})
			var oe *storeurl.OptionError
			if !errors.Is(err, cachet.ErrInvalidOption) || !errors.As(err, &oe) || oe.Option != tt.option {
				t.Fatalf("Configure = %v; want an OptionError for %q", err, tt.option)
			}
			if !strings.Contains(err.Error(), `alias "broken"`) {
				t.Errorf("error %q does not name the alias", err)
			}
			if got := r.Aliases(); !reflect.DeepEqual(got, []string{"old"}) {
				t.Errorf("after a failed Configure, Aliases() = %v; want [old] (unchanged)", got)
			}
		})
	}
	var r caches.Registry
	if err := r.Configure(map[string]caches.Config{"": {Store: "noop://"}}); !errors.Is(err, cachet.ErrInvalidOption) {
		t.Errorf("Configure with an empty alias name = %v; want ErrInvalidOption", err)
	}
}

func TestRegistry_ReconfigureClosesBuilt(t *testing.T) {
	ctx := context.Background()
	name := "memory://" + uniq(t)
	r := newRegistry(t, map[string]caches.Config{"a": {Store: name}})
	old := cachet.Must(caches.Alias[string, string](r, "a"))
	if err := old.Set(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	if err := r.Configure(map[string]caches.Config{"a": {Store: name, Namespace: "new"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := old.Get(ctx, "k"); !errors.Is(err, cachet.ErrClosed) {
		t.Errorf("old cache after Configure: Get = %v; want ErrClosed", err)
	}
	fresh := cachet.Must(caches.Alias[string, string](r, "a"))
	if fresh == old {
		t.Fatal("Alias after Configure returned the old cache")
	}
	if key, err := fresh.Key("k"); err != nil || key != "new:k" {
		t.Errorf("Key = %q; want new:k, from the new configuration (err %v)", key, err)
	}
	// The old store was closed: its name was freed and the data is gone.
	if _, err := fresh.Store().Get(ctx, "k"); !errors.Is(err, cachet.ErrNotFound) {
		t.Errorf("Get(k) on the new store = %v; want ErrNotFound", err)
	}

	// Close drops what was built but keeps the aliases.
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := fresh.Set(ctx, "k", "v"); !errors.Is(err, cachet.ErrClosed) {
		t.Errorf("Set after Registry.Close = %v; want ErrClosed", err)
	}
	again := cachet.Must(caches.Alias[string, string](r, "a"))
	if err := again.Set(ctx, "k", "v"); err != nil {
		t.Errorf("Set on the cache rebuilt after Close: %v", err)
	}
	// A cache the user closed by mistake does not make Close fail.
	again.Close()
	if err := r.Close(); err != nil {
		t.Errorf("Close after the user closed a cache = %v; want nil", err)
	}
}

func TestRegistry_ConcurrentAliasAndConfigure(t *testing.T) {
	ctx := context.Background()
	r := newRegistry(t, map[string]caches.Config{"a": {Store: "memory://"}})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				c, err := caches.Alias[string, string](r, "a")
				if err != nil {
					t.Error(err)
					return
				}
				// The cache may be closed by a concurrent Configure at any
				// moment; any other error is a bug.
				if err := c.Set(ctx, "k", "v"); err != nil && !errors.Is(err, cachet.ErrClosed) {
					t.Error(err)
					return
				}
			}
		}()
	}
	for i := range 20 {
		if err := r.Configure(map[string]caches.Config{"a": {Store: "memory://", Namespace: fmt.Sprint("n", i)}}); err != nil {
			t.Error(err)
		}
	}
	close(stop)
	wg.Wait()
}

type point struct{ X, Y int }

type pointCodec struct{}

func (pointCodec) Marshal(p point) ([]byte, error) { return fmt.Appendf(nil, "%d,%d", p.X, p.Y), nil }
func (pointCodec) Unmarshal(b []byte, p *point) error {
	if _, err := fmt.Sscanf(string(b), "%d,%d", &p.X, &p.Y); err != nil {
		return fmt.Errorf("%w: %v", codec.ErrDecode, err)
	}
	return nil
}

func TestRegistry_Codecs(t *testing.T) {
	ctx := context.Background()
	r := newRegistry(t, map[string]caches.Config{
		"json":    {Store: "memory://"},
		"msgpack": {Store: "memory://", Codec: "msgpack"},
		"gob":     {Store: "memory://", Codec: "gob"},
		"string":  {Store: "memory://", Codec: "string"},
		"bytes":   {Store: "memory://", Codec: "bytes"},
		"point":   {Store: "memory://", Codec: "cachet-test-point"},
	})
	// Each built-in codec name stores that codec's bytes, not just bytes
	// that round-trip: a msgpack alias that wrote JSON would read back.
	ada := user{"Ada", 36}
	encodings := map[string][]byte{}
	for alias, cd := range map[string]codec.Codec[user]{
		"json":    codec.JSON[user](),
		"msgpack": codec.Msgpack[user](),
		"gob":     codec.Gob[user](),
	} {
		want, err := cd.Marshal(ada)
		if err != nil {
			t.Fatalf("%s: Marshal: %v", alias, err)
		}
		for other, b := range encodings {
			if bytes.Equal(b, want) {
				t.Fatalf("%s and %s encode %+v alike; the check below could not tell them apart", alias, other, ada)
			}
		}
		encodings[alias] = want
		c, err := caches.Alias[string, user](r, alias)
		if err != nil {
			t.Fatalf("%s: %v", alias, err)
		}
		if err := c.Set(ctx, "k", ada); err != nil {
			t.Fatal(err)
		}
		raw := payload(t, c.Store(), "k")
		if !bytes.Equal(raw, want) {
			t.Errorf("%s codec stored %q; want %q", alias, raw, want)
		}
		if got, err := c.Get(ctx, "k"); err != nil || got != ada {
			t.Errorf("%s: Get = %+v, %v; want %+v, nil", alias, got, err, ada)
		}
	}
	var decoded user
	if err := msgpack.Unmarshal(encodings["msgpack"], &decoded); err != nil || decoded != ada || json.Valid(encodings["msgpack"]) {
		t.Errorf("msgpack codec encodes %+v as %q; want msgpack, not JSON (decoded %+v, %v)", ada, encodings["msgpack"], decoded, err)
	}
	s := cachet.Must(caches.Alias[string, string](r, "string"))
	if err := s.Set(ctx, "k", "hello"); err != nil {
		t.Fatal(err)
	}
	if raw := payload(t, s.Store(), "k"); string(raw) != "hello" {
		t.Errorf("string codec stored %q; want hello", raw)
	}
	b := cachet.Must(caches.Alias[string, []byte](r, "bytes"))
	if err := b.Set(ctx, "k", []byte{1, 2}); err != nil {
		t.Fatal(err)
	}
	if raw := payload(t, b.Store(), "k"); !reflect.DeepEqual(raw, []byte{1, 2}) {
		t.Errorf("bytes codec stored %v; want [1 2]", raw)
	}
	p := cachet.Must(caches.Alias[string, point](r, "point"))
	if err := p.Set(ctx, "k", point{3, 4}); err != nil {
		t.Fatal(err)
	}
	if raw := payload(t, p.Store(), "k"); string(raw) != "3,4" {
		t.Errorf("registered codec stored %q; want 3,4", raw)
	}

	// Codecs that do not fit V.
	for _, f := range []func() error{
		func() error { _, err := caches.Alias[string, int](r, "string"); return err },
		func() error { _, err := caches.Alias[string, string](r, "bytes"); return err },
		func() error { _, err := caches.Alias[string, user](r, "point"); return err },
		func() error { _, err := caches.Create[string, int](r, "string", nil); return err },
	} {
		err := f()
		var oe *storeurl.OptionError
		if !errors.As(err, &oe) || oe.Option != "codec" {
			t.Errorf("unfit codec: %v; want an OptionError for codec", err)
		}
	}
	defer func() {
		if recover() == nil {
			t.Errorf("RegisterCodec of a built-in name did not panic")
		}
	}()
	caches.RegisterCodec[point]("json", pointCodec{})
}

type countPlugin struct {
	cachet.BasePlugin
	n atomic.Int64
}

func (p *countPlugin) After(context.Context, cachet.Call) { p.n.Add(1) }

func TestRegistry_Plugins(t *testing.T) {
	ctx := context.Background()
	r := newRegistry(t, map[string]caches.Config{
		"a": {Store: "memory://", Plugins: []string{"hit_miss_ratio", "timing", "cachet-test-count"}},
		"b": {Store: "memory://", Plugins: []string{"hit_miss_ratio"}},
	})
	c := cachet.Must(caches.Alias[string, string](r, "a"))
	c.Get(ctx, "k") // miss
	if err := c.Set(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	c.Get(ctx, "k") // hit
	ps, err := r.Plugins("a")
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 3 {
		t.Fatalf("Plugins(a) = %d plugins; want 3", len(ps))
	}
	hm, ok := ps[0].(*cachet.HitMissRatio)
	if !ok {
		t.Fatalf("Plugins(a)[0] is %T; want *cachet.HitMissRatio", ps[0])
	}
	if st := hm.Stats(); st.Hits != 1 || st.Misses != 1 {
		t.Errorf("hit_miss_ratio stats = %+v; want 1 hit, 1 miss", st)
	}
	if st := ps[1].(*cachet.Timing).Stats(cachet.OpSet); st.Count != 1 {
		t.Errorf("timing Set count = %d; want 1", st.Count)
	}
	if n := ps[2].(*countPlugin).n.Load(); n != 3 {
		t.Errorf("registered plugin saw %d calls; want 3", n)
	}
	// Each alias has its own instances.
	psb, err := r.Plugins("b")
	if err != nil || len(psb) == 0 {
		t.Fatalf("Plugins(b) = %v, %v; want its plugins", psb, err)
	}
	if psb[0] == ps[0] {
		t.Errorf("two aliases share a plugin instance")
	}
	if st := psb[0].(*cachet.HitMissRatio).Stats(); st.Total != 0 {
		t.Errorf("alias b's plugin counted alias a's reads: %+v", st)
	}
}

func TestRegistry_ConfigureJSON(t *testing.T) {
	tests := []struct {
		name string
		json string
		want caches.Config
	}{
		{"minimal", `{"a": {"store": "noop://"}}`, caches.Config{Store: "noop://"}},
		{"ttl seconds", `{"a": {"store": "noop://", "ttl": 1800}}`, caches.Config{Store: "noop://", TTL: 30 * time.Minute}},
		{"ttl fraction", `{"a": {"store": "noop://", "ttl": 0.5}}`, caches.Config{Store: "noop://", TTL: 500 * time.Millisecond}},
		{"ttl string", `{"a": {"store": "noop://", "ttl": "10m", "timeout": "250ms"}}`, caches.Config{Store: "noop://", TTL: 10 * time.Minute, Timeout: 250 * time.Millisecond}},
		{"version number", `{"a": {"store": "noop://", "namespace": "n", "version": 2}}`, caches.Config{Store: "noop://", Namespace: "n", Version: int64(2)}},
		{"version string", `{"a": {"store": "noop://", "namespace": "n", "version": "v2"}}`, caches.Config{Store: "noop://", Namespace: "n", Version: "v2"}},
		{"codec and plugins", `{"a": {"store": "noop://", "codec": "gob", "plugins": ["timing"]}}`, caches.Config{Store: "noop://", Codec: "gob", Plugins: []string{"timing"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r caches.Registry
			if err := r.ConfigureJSON([]byte(tt.json)); err != nil {
				t.Fatal(err)
			}
			got, ok := r.Config("a")
			if !ok || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Config(a) = %#v, %v; want %#v, true", got, ok, tt.want)
			}
		})
	}
	bad := []struct{ name, json string }{
		{"unknown field", `{"a": {"store": "noop://", "serializer": "json"}}`},
		{"bad ttl string", `{"a": {"store": "noop://", "ttl": "soon"}}`},
		{"ttl bool", `{"a": {"store": "noop://", "ttl": true}}`},
		{"ttl zero", `{"a": {"store": "noop://", "ttl": 0}}`},
		{"ttl negative", `{"a": {"store": "noop://", "ttl": -5}}`},
		{"ttl huge", `{"a": {"store": "noop://", "ttl": 1e300}}`},
		{"version fraction", `{"a": {"store": "noop://", "version": 1.5}}`},
		{"version object", `{"a": {"store": "noop://", "version": {}}}`},
		{"not an object", `["noop://"]`},
		{"null", `null`},
		{"trailing data", `{"a": {"store": "noop://"}} {}`},
		{"syntax", `{"a": `},
		{"bad store", `{"a": {"store": "noop://?foo=1"}}`},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			r := newRegistry(t, map[string]caches.Config{"old": {Store: "noop://"}})
			if err := r.ConfigureJSON([]byte(tt.json)); !errors.Is(err, cachet.ErrInvalidOption) {
				t.Errorf("ConfigureJSON(%s) = %v; want an error wrapping ErrInvalidOption", tt.json, err)
			}
			if got := r.Aliases(); !reflect.DeepEqual(got, []string{"old"}) {
				t.Errorf("after a failed ConfigureJSON, Aliases() = %v; want [old]", got)
			}
		})
	}
}

func TestDefaultRegistry(t *testing.T) {
	t.Cleanup(func() { caches.DefaultRegistry.Configure(nil) })
	if err := caches.DefaultRegistry.Configure(map[string]caches.Config{"default": {Store: "memory://"}}); err != nil {
		t.Fatal(err)
	}
	a := cachet.Must(caches.Alias[string, string](caches.DefaultRegistry, "default"))
	b := cachet.Must(caches.Alias[string, string](caches.DefaultRegistry, "default"))
	if a != b {
		t.Errorf("DefaultRegistry returned two caches for one alias")
	}
}

// readmeConfig is the JSON configuration the README shows.
func readmeConfig(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile("testdata/caches.json")
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// The README's configuration parses into what it says, and its caches build
// without any server (stores connect lazily).
func TestRegistry_READMEConfig(t *testing.T) {
	ctx := context.Background()
	r := new(caches.Registry)
	t.Cleanup(func() { r.Close() })
	if err := r.ConfigureJSON(readmeConfig(t)); err != nil {
		t.Fatal(err)
	}
	want := map[string]caches.Config{
		"default": {Store: "memory://default?max_entries=10000", TTL: 5 * time.Minute},
		"sessions": {Store: "redis://localhost:6379/0?maxsize=20&timeout=1s", Codec: "msgpack", Namespace: "sess",
			Version: int64(2), TTL: 30 * time.Minute, Plugins: []string{"hit_miss_ratio", "timing"}},
		"pages": {Store: "memcached://localhost:11211?timeout=200ms&max_idle=32", Codec: "bytes", Namespace: "pages",
			Timeout: 500 * time.Millisecond},
	}
	if got := r.Aliases(); !reflect.DeepEqual(got, []string{"default", "pages", "sessions"}) {
		t.Fatalf("Aliases() = %v", got)
	}
	for alias, w := range want {
		if got, ok := r.Config(alias); !ok || !reflect.DeepEqual(got, w) {
			t.Errorf("Config(%s) = %#v, %v; want %#v, true", alias, got, ok, w)
		}
	}

	users := cachet.Must(caches.Alias[string, user](r, "default"))
	if err := users.Set(ctx, "ada", user{"Ada", 36}); err != nil {
		t.Fatal(err)
	}
	if ttl, err := users.TTL(ctx, "ada"); err != nil || ttl <= 4*time.Minute || ttl > 5*time.Minute {
		t.Errorf("default alias TTL = %v, %v; want about 5m", ttl, err)
	}

	sessions := cachet.Must(caches.Alias[string, user](r, "sessions"))
	rs, ok := store.As[*redisstore.Store](sessions.Store())
	if !ok {
		t.Fatalf("sessions store is %T; want a redisstore", sessions.Store())
	}
	o := rs.Client().(*redis.Client).Options()
	if o.Addr != "localhost:6379" || o.PoolSize != 20 || o.ReadTimeout != time.Second || o.DialTimeout != time.Second {
		t.Errorf("sessions client options: addr %s pool %d read %v dial %v", o.Addr, o.PoolSize, o.ReadTimeout, o.DialTimeout)
	}
	if key, err := sessions.Key("s1"); err != nil || key != "sess:2:s1" {
		t.Errorf("sessions key = %q; want sess:2:s1 (err %v)", key, err)
	}

	pages := cachet.Must(caches.Alias[string, []byte](r, "pages"))
	if _, ok := store.As[*memcachestore.Store](pages.Store()); !ok {
		t.Errorf("pages store is %T; want a memcachestore", pages.Store())
	}
	if _, err := caches.Alias[string, string](r, "pages"); err == nil {
		t.Errorf("the bytes codec of pages accepted string values")
	}
}

// The README's configuration, pointed at real servers, works end to end.
func TestRegistry_READMEConfigOnServers(t *testing.T) {
	ctx := context.Background()
	rsrv := testserver.Redis(t)
	msrv := testserver.Memcached(t)
	data := strings.NewReplacer("localhost:6379", rsrv.Addr, "localhost:11211", msrv.Addr).Replace(string(readmeConfig(t)))
	r := new(caches.Registry)
	t.Cleanup(func() { r.Close() })
	if err := r.ConfigureJSON([]byte(data)); err != nil {
		t.Fatal(err)
	}
	sessions := cachet.Must(caches.Alias[string, user](r, "sessions"))
	sessions.Get(ctx, "s1") // a miss
	if err := sessions.Set(ctx, "s1", user{"Ada", 36}); err != nil {
		t.Fatal(err)
	}
	if got, err := sessions.Get(ctx, "s1"); err != nil || got.Name != "Ada" {
		t.Errorf("sessions Get = %+v, %v", got, err)
	}
	if v, err := testserver.RedisCommand(rsrv.Addr, "EXISTS", "sess:2:s1"); err != nil || v != "1" {
		t.Errorf("EXISTS sess:2:s1 on the server = %q, %v; want 1", v, err)
	}
	if v, err := testserver.RedisCommand(rsrv.Addr, "TTL", "sess:2:s1"); err != nil || v == "-1" || v == "-2" {
		t.Errorf("TTL sess:2:s1 on the server = %q, %v; want about 1800", v, err)
	}
	ps, err := r.Plugins("sessions")
	if err != nil || len(ps) == 0 {
		t.Fatalf("Plugins(sessions) = %v, %v; want its plugins", ps, err)
	}
	if st := ps[0].(*cachet.HitMissRatio).Stats(); st.Hits != 1 || st.Misses != 1 {
		t.Errorf("sessions hit_miss_ratio = %+v; want 1 hit and 1 miss", st)
	}

	pages := cachet.Must(caches.Alias[string, []byte](r, "pages"))
	if err := pages.Set(ctx, "/index", []byte("<html>")); err != nil {
		t.Fatal(err)
	}
	if got, err := pages.Get(ctx, "/index"); err != nil || string(got) != "<html>" {
		t.Errorf("pages Get = %q, %v", got, err)
	}
	// Another process (here: a cache opened from its own URL, with the same
	// namespace, which memcached keeps under a generation) sees it.
	other, err := cachet.OpenCache[string]("memcached://"+msrv.Addr+"?namespace=pages", codec.Bytes(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if got, err := other.Get(ctx, "/index"); err != nil || string(got) != "<html>" {
		t.Errorf("/index through another cache = %q, %v", got, err)
	}
}

func BenchmarkAlias(b *testing.B) {
	r, err := caches.NewRegistry(map[string]caches.Config{"users": {Store: "memory://", Namespace: "users"}})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := caches.Alias[string, user](r, "users"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := caches.Alias[string, user](r, "users"); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

func TestConfig_JSONRoundTrip(t *testing.T) {
	in := map[string]caches.Config{
		"a": {Store: "memory://a?ttl=5", Codec: "gob", TTL: 90 * time.Second, Namespace: "n", Version: int64(3),
			Timeout: 250 * time.Millisecond, Plugins: []string{"timing"}},
		"b": {Store: "noop://", Version: "v1"},
	}
	data, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var r caches.Registry
	if err := r.ConfigureJSON(data); err != nil {
		t.Fatalf("ConfigureJSON(%s): %v", data, err)
	}
	for name, want := range in {
		if got, ok := r.Config(name); !ok || !reflect.DeepEqual(got, want) {
			t.Errorf("round trip of %s through %s = %#v, %v; want %#v, true", name, data, got, ok, want)
		}
	}
}

// payload returns the codec's output stored at key: the value a Cache
// wrote, without its entry header (see cachet's "Stored format").
func payload(t *testing.T, s store.Store, key string) []byte {
	t.Helper()
	b, err := s.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	_, p, err := entry.Decode(b)
	if err != nil {
		t.Fatalf("Get(%q) = %q: %v", key, b, err)
	}
	return p
}
