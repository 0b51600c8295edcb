package memcachestore_test

import (
	"bytes"
	"strconv"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/cachet-go/cachet/internal/benchutil"
	"github.com/cachet-go/cachet/internal/testserver"
	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/memcachestore"
)

// The benchmarks compare the Store with raw gomemcache on the same
// server in the same run:
//
//	raw        gomemcache Client.Get / Set
//	nogen      Store with DisableGenerations, key "bench:key"
//	plain      Store, key without ':' ("benchkey")
//	colon      Store, key "bench:key" whose namespace is not declared
//	ns         Store, key "bench:key" in declared namespace "bench", default GenerationCacheTTL
//	ns-check   Store, key "bench:key" in declared namespace "bench", GenerationCacheTTL -1

var benchValue = bytes.Repeat([]byte("v"), 128)

type benchCase struct {
	name string
	key  string
	opts *memcachestore.Options
}

var benchCases = []benchCase{
	{"nogen", "bench:key", &memcachestore.Options{DisableGenerations: true}},
	{"plain", "benchkey", nil},
	{"colon", "bench:key", nil},
	{"ns", "bench:key", &memcachestore.Options{Namespaces: []string{"bench"}}},
	{"ns-check", "bench:key", &memcachestore.Options{Namespaces: []string{"bench"}, GenerationCacheTTL: -1}},
}

// benchTimeout is longer than the default so that a loaded machine does
// not fail a benchmark; it costs nothing per operation.
const benchTimeout = 5 * time.Second

func rawClient(srv *testserver.Server) *memcache.Client {
	c := memcache.New(srv.Addr)
	c.MaxIdleConns = memcachestore.DefaultMaxIdleConns
	c.Timeout = benchTimeout
	return c
}

// openBench is open with the benchmark timeout.
func openBench(b *testing.B, srv *testserver.Server, opts *memcachestore.Options) *memcachestore.Store {
	var o memcachestore.Options
	if opts != nil {
		o = *opts
	}
	o.Timeout = benchTimeout
	return open(b, srv, &o)
}

func BenchmarkGet(b *testing.B) {
	srv := testserver.Memcached(b)
	raw := rawClient(srv)
	if err := raw.Set(&memcache.Item{Key: "bench:key", Value: benchValue}); err != nil {
		b.Fatal(err)
	}
	b.Run("raw", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := raw.Get("bench:key"); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, c := range benchCases {
		s := openBench(b, srv, c.opts)
		mustSet(b, s, c.key, string(benchValue), 0)
		if _, err := s.Get(bg, c.key); err != nil { // learn the generation
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Get(bg, c.key); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkSet(b *testing.B) {
	srv := testserver.Memcached(b)
	raw := rawClient(srv)
	b.Run("raw", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := raw.Set(&memcache.Item{Key: "bench:key", Value: benchValue, Expiration: 60}); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, c := range benchCases {
		s := openBench(b, srv, c.opts)
		mustSet(b, s, c.key, string(benchValue), 0)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := s.Set(bg, c.key, benchValue, time.Minute); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkIncrement(b *testing.B) {
	srv := testserver.Memcached(b)
	raw := rawClient(srv)
	if err := raw.Set(&memcache.Item{Key: "bench:n", Value: []byte("0")}); err != nil {
		b.Fatal(err)
	}
	b.Run("raw-incr", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := raw.Increment("bench:n", 1); err != nil {
				b.Fatal(err)
			}
		}
	})
	s := openBench(b, srv, &memcachestore.Options{DisableGenerations: true})
	b.Run("nogen", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.Increment(bg, "bench:n2", 1); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkGetMany reads 100 keys with one GetMany and with 100 Gets.
func BenchmarkGetMany(b *testing.B) {
	srv := testserver.Memcached(b)
	keys := make([]string, 100)
	for _, c := range []benchCase{benchCases[0], benchCases[3]} {
		s := openBench(b, srv, c.opts)
		entries := make([]store.Entry, len(keys))
		for i := range keys {
			keys[i] = "bench:k" + strconv.Itoa(i)
			entries[i] = store.Entry{Key: keys[i], Value: benchValue}
		}
		if err := s.SetMany(bg, entries, 0); err != nil {
			b.Fatal(err)
		}
		b.Run(c.name+"/GetMany100", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				got, err := s.GetMany(bg, keys)
				if err != nil || got[99] == nil {
					b.Fatal(got[99], err)
				}
			}
		})
		b.Run(c.name+"/Get100", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				for _, k := range keys {
					if _, err := s.Get(bg, k); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// BenchmarkPaired times raw gomemcache and the Store alternately in every
// iteration, so that load on the machine hits both alike, and reports the
// median latency of each (store-ns/op, raw-ns/op) and the median of the
// per-pair ratios (store/raw), with benchutil.Paired. Medians, because on
// a shared machine a few preempted round trips would otherwise decide the
// means.
func BenchmarkPaired(b *testing.B) {
	srv := testserver.Memcached(b)
	raw := rawClient(srv)
	for _, c := range benchCases {
		s := openBench(b, srv, c.opts)
		mustSet(b, s, c.key, string(benchValue), 0)
		if _, err := s.Get(bg, c.key); err != nil {
			b.Fatal(err)
		}
		rawKey := "raw:" + c.name
		if err := raw.Set(&memcache.Item{Key: rawKey, Value: benchValue}); err != nil {
			b.Fatal(err)
		}
		b.Run("Get/"+c.name, func(b *testing.B) {
			benchutil.Paired(b, "store", "raw", func() error {
				_, err := s.Get(bg, c.key)
				return err
			}, func() error {
				_, err := raw.Get(rawKey)
				return err
			})
		})
		b.Run("Set/"+c.name, func(b *testing.B) {
			benchutil.Paired(b, "store", "raw", func() error {
				return s.Set(bg, c.key, benchValue, time.Minute)
			}, func() error {
				return raw.Set(&memcache.Item{Key: rawKey, Value: benchValue, Expiration: 60})
			})
		})
	}
}
