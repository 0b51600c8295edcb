package memcacheurl_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/cachet-go/cachet"
	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/internal/testserver"
	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/memcachestore"
	_ "github.com/cachet-go/cachet/store/memcachestore/memcacheurl"
	"github.com/cachet-go/cachet/store/storeurl"
)

// The URLs name loopback servers that are never contacted: the client
// connects on first use.
func TestOpenURL_Options(t *testing.T) {
	tests := []struct {
		url     string
		timeout time.Duration
		maxIdle int
		gens    bool
		opts    cachet.URLOptions
	}{
		{"memcached://127.0.0.1", memcache.DefaultTimeout, memcachestore.DefaultMaxIdleConns, true, cachet.URLOptions{}},
		{"memcached://127.0.0.1:1,127.0.0.1:2", memcache.DefaultTimeout, memcachestore.DefaultMaxIdleConns, true, cachet.URLOptions{}},
		{"memcached://127.0.0.1?timeout=2", 2 * time.Second, memcachestore.DefaultMaxIdleConns, true, cachet.URLOptions{}},
		{"memcached://127.0.0.1?timeout=200ms&max_idle=32", 200 * time.Millisecond, 32, true, cachet.URLOptions{}},
		{"memcached://127.0.0.1?max_idle_conns=3", memcache.DefaultTimeout, 3, true, cachet.URLOptions{}},
		{"memcached://127.0.0.1?maxsize=4", memcache.DefaultTimeout, 4, true, cachet.URLOptions{}},
		{"memcached://127.0.0.1?generations=false", memcache.DefaultTimeout, memcachestore.DefaultMaxIdleConns, false, cachet.URLOptions{}},
		{"memcached://127.0.0.1?generation_cache_ttl=5s", memcache.DefaultTimeout, memcachestore.DefaultMaxIdleConns, true, cachet.URLOptions{}},
		{"memcached://127.0.0.1?ttl=30&namespace=pages&version=3", memcache.DefaultTimeout, memcachestore.DefaultMaxIdleConns, true,
			cachet.URLOptions{TTL: 30 * time.Second, Namespace: "pages", Version: "3"}},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			st, opts, err := cachet.Open(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			s, ok := store.As[*memcachestore.Store](st)
			if !ok {
				t.Fatalf("Open returned %T; want a *memcachestore.Store", st)
			}
			// (The client does not expose its servers: TestOpenURL_Servers
			// checks a list of two by where the keys go.)
			if c := s.Client(); c.Timeout != tt.timeout || c.MaxIdleConns != tt.maxIdle {
				t.Errorf("client Timeout %v, MaxIdleConns %d; want %v, %d", c.Timeout, c.MaxIdleConns, tt.timeout, tt.maxIdle)
			}
			// Without generations, Clear takes no namespace prefix (and
			// answers without contacting the server).
			if !tt.gens {
				if err := s.Clear(context.Background(), "ns:"); !errors.Is(err, store.ErrNotSupported) {
					t.Errorf("generations=false: Clear(ns:) = %v; want ErrNotSupported", err)
				}
			}
			if opts != tt.opts {
				t.Errorf("URL options = %+v; want %+v", opts, tt.opts)
			}
		})
	}
}

func TestOpenURL_Errors(t *testing.T) {
	tests := []struct{ url, option, value string }{
		{"memcached://", "host", ""},
		{"memcached://h1,,h2", "host", "h1,,h2"},
		{"memcached://127.0.0.1:0", "host", "127.0.0.1:0"},
		{"memcached://u:p@127.0.0.1", "userinfo", "u"},
		{"memcached://127.0.0.1/x", "path", "/x"},
		{"memcached://127.0.0.1?foo=1", "foo", "1"},
		{"memcached://127.0.0.1?timeout=soon", "timeout", "soon"},
		{"memcached://127.0.0.1?timeout=0", "timeout", "0"},
		{"memcached://127.0.0.1?timeout=-1s", "timeout", "-1s"},
		{"memcached://127.0.0.1?max_idle=lots", "max_idle", "lots"},
		{"memcached://127.0.0.1?max_idle=-1", "max_idle", "-1"},
		{"memcached://127.0.0.1?max_idle=1&maxsize=2", "maxsize", "2"},
		{"memcached://127.0.0.1?max_idle=1&max_idle=2", "max_idle", "1,2"},
		{"memcached://127.0.0.1?generations=maybe", "generations", "maybe"},
		{"memcached://127.0.0.1?generation_cache_ttl=-1", "generation_cache_ttl", "-1"},
		{"memcached://127.0.0.1?ttl=0", "ttl", "0"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			s, _, err := cachet.Open(tt.url)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q) succeeded; want an error", tt.url)
			}
			var oe *storeurl.OptionError
			if !errors.Is(err, cachet.ErrInvalidOption) || !errors.As(err, &oe) {
				t.Fatalf("Open(%q) = %v; want an *OptionError", tt.url, err)
			}
			if oe.Option != tt.option || oe.Value != tt.value {
				t.Errorf("Open(%q): option %s=%q; want %s=%q (%v)", tt.url, oe.Option, oe.Value, tt.option, tt.value, err)
			}
		})
	}
}

func TestOpenURL_Servers(t *testing.T) {
	ctx := context.Background()
	a, b := testserver.Memcached(t), testserver.Memcached(t)
	c, err := cachet.OpenCache[string](fmt.Sprintf("memcached://%s,%s?timeout=1s&ttl=60", a.Addr, b.Addr), codec.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const n = 40
	for i := range n {
		if err := c.Set(ctx, fmt.Sprint("k", i), "v"); err != nil {
			t.Fatalf("Set: %v", err)
		}
	}
	// Each server, opened alone, holds some of the keys, and together all.
	total := 0
	for _, srv := range []*testserver.Server{a, b} {
		one, _, err := cachet.Open("memcached://" + srv.Addr)
		if err != nil {
			t.Fatal(err)
		}
		held := 0
		for i := range n {
			ok, err := one.Exists(ctx, fmt.Sprint("k", i))
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				held++
			}
		}
		one.Close()
		if held == 0 {
			t.Errorf("server %s holds none of the keys; want them spread over both", srv.Addr)
		}
		total += held
	}
	if total != n {
		t.Errorf("the servers hold %d keys in all; want %d", total, n)
	}
	// The URL's ttl reached the server (memcached cannot read a ttl back:
	// check that a value set with a one-second URL ttl expires).
	short, err := cachet.OpenCache[string]("memcached://"+a.Addr+"?ttl=1s", codec.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer short.Close()
	if err := short.Set(ctx, "short", "v"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := short.Get(ctx, "short")
		if errors.Is(err, cachet.ErrNotFound) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("a value set with ?ttl=1s was still there after 5s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestOpenURL_GenerationCacheTTL checks that generation_cache_ttl reaches
// the store (issue 16): with 0 another store's Clear is seen at once; with
// 1h it is not seen even after the default GenerationCacheTTL has passed.
func TestOpenURL_GenerationCacheTTL(t *testing.T) {
	srv := testserver.Memcached(t)
	ctx := context.Background()
	clearer, err := memcachestore.NewFromServers([]string{srv.Addr}, &memcachestore.Options{Namespaces: []string{"ns"}})
	if err != nil {
		t.Fatal(err)
	}
	defer clearer.Close()
	for _, tt := range []struct {
		ttl       string
		wait      time.Duration
		seesClear bool
	}{
		{"0", 0, true},
		{"1h", memcachestore.DefaultGenerationCacheTTL + 200*time.Millisecond, false},
	} {
		st, _, err := cachet.Open("memcached://" + srv.Addr + "?generation_cache_ttl=" + tt.ttl)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		nu, ok := store.As[store.NamespaceUser](st)
		if !ok {
			t.Fatalf("%T does not implement store.NamespaceUser", st)
		}
		if err := nu.UseNamespace("ns"); err != nil {
			t.Fatal(err)
		}
		if err := st.Set(ctx, "ns:k", []byte("v"), 0); err != nil {
			t.Fatal(err)
		}
		if err := clearer.Clear(ctx, "ns:"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(tt.wait) // the time under test: past the default cache ttl
		_, err = st.Get(ctx, "ns:k")
		if seen := errors.Is(err, store.ErrNotFound); seen != tt.seesClear {
			t.Errorf("generation_cache_ttl=%s: Get after another store's Clear: %v; want the Clear seen: %v", tt.ttl, err, tt.seesClear)
		}
	}
}
