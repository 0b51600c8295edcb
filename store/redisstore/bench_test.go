package redisstore_test

import (
	"bytes"
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachet-go/cachet/internal/benchutil"
	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/redisstore"
)

// The benchmarks compare each store operation with the raw go-redis call
// doing the same work on the same client and server in the same run, so
// that the ratio (store / raw) is the store's overhead. Run with
//
//	go test -run '^$' -bench . -benchmem -count 3 ./store/redisstore/

var benchValue = bytes.Repeat([]byte("v"), 128)

func benchStore(b *testing.B, cluster bool) *redisstore.Store {
	b.Helper()
	opts := &redisstore.Options{Addrs: []string{sharedRedis(b).Addr}}
	if cluster {
		opts = &redisstore.Options{Addrs: sharedCluster(b).Addrs()}
	}
	return openStore(b, opts)
}

func benchKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = "bench:" + strconv.Itoa(i)
	}
	return keys
}

func BenchmarkGet(b *testing.B) {
	s := benchStore(b, false)
	ctx := context.Background()
	if err := s.Set(ctx, "bench:k", benchValue, 0); err != nil {
		b.Fatal(err)
	}
	client := s.Client()
	b.Run("store", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.Get(ctx, "bench:k"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("raw", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := client.Get(ctx, "bench:k").Bytes(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("store-parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.Get(ctx, "bench:k"); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("raw-parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := client.Get(ctx, "bench:k").Bytes(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

func BenchmarkSet(b *testing.B) {
	s := benchStore(b, false)
	ctx := context.Background()
	client := s.Client()
	for _, ttl := range []time.Duration{0, time.Minute} {
		suffix := "/no-ttl"
		if ttl > 0 {
			suffix = "/ttl"
		}
		b.Run("store"+suffix, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := s.Set(ctx, "bench:k", benchValue, ttl); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("raw"+suffix, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := client.Set(ctx, "bench:k", benchValue, ttl).Err(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("store-parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := s.Set(ctx, "bench:k", benchValue, time.Minute); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("raw-parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := client.Set(ctx, "bench:k", benchValue, time.Minute).Err(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// benchGetMany compares one GetMany of 100 keys with 100 sequential Gets
// (and, on one server, with a raw MGET).
func benchGetMany(b *testing.B, cluster bool) {
	s := benchStore(b, cluster)
	ctx := context.Background()
	keys := benchKeys(100)
	entries := make([]store.Entry, len(keys))
	for i, k := range keys {
		entries[i] = store.Entry{Key: k, Value: benchValue}
	}
	if err := s.SetMany(ctx, entries, 0); err != nil {
		b.Fatal(err)
	}
	b.Run("GetMany", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.GetMany(ctx, keys); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("100Gets", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, k := range keys {
				if _, err := s.Get(ctx, k); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	if !cluster {
		client := s.Client()
		b.Run("raw-MGET", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := client.MGet(ctx, keys...).Err(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkGetMany100(b *testing.B)        { benchGetMany(b, false) }
func BenchmarkClusterGetMany100(b *testing.B) { benchGetMany(b, true) }

// benchSetMany compares one SetMany of 100 entries with 100 sequential
// Sets, without ttl (MSET) and with one (a MULTI/EXEC pipeline; per-slot
// pipeline on a cluster).
func benchSetMany(b *testing.B, cluster bool) {
	s := benchStore(b, cluster)
	ctx := context.Background()
	keys := benchKeys(100)
	entries := make([]store.Entry, len(keys))
	for i, k := range keys {
		entries[i] = store.Entry{Key: k, Value: benchValue}
	}
	for _, ttl := range []time.Duration{0, time.Minute} {
		suffix := "/no-ttl"
		if ttl > 0 {
			suffix = "/ttl"
		}
		b.Run("SetMany"+suffix, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := s.SetMany(ctx, entries, ttl); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("100Sets"+suffix, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				for _, e := range entries {
					if err := s.Set(ctx, e.Key, e.Value, ttl); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
	if c, ok := s.Client().(*redis.Client); ok {
		b.Run("raw-pipeline/ttl", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
					for _, e := range entries {
						p.Set(ctx, e.Key, e.Value, time.Minute)
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkSetMany100(b *testing.B)        { benchSetMany(b, false) }
func BenchmarkClusterSetMany100(b *testing.B) { benchSetMany(b, true) }

// BenchmarkOverhead measures store calls and the same raw go-redis calls
// paired in one loop (store call, raw call, store call, ...), so that load
// from other processes on the machine falls on both alike. It reports the
// median latency of each side and the median of the per-pair ratios
// (store / raw), the store's overhead; medians ignore the scheduling
// spikes of a busy machine.
func BenchmarkOverhead(b *testing.B) {
	s := benchStore(b, false)
	ctx := context.Background()
	client := s.Client()
	if err := s.Set(ctx, "bench:k", benchValue, 0); err != nil {
		b.Fatal(err)
	}
	b.Run("Get", func(b *testing.B) {
		benchutil.Paired(b, "store", "raw",
			func() error { _, err := s.Get(ctx, "bench:k"); return err },
			func() error { return client.Get(ctx, "bench:k").Err() })
	})
	// go-redis' experimental AutoPipeline for comparison: a lone command
	// goes through its flusher goroutine (see "Batching").
	b.Run("AutoPipelineGet", func(b *testing.B) {
		ap, err := client.(*redis.Client).AutoPipeline()
		if err != nil {
			b.Fatal(err)
		}
		defer ap.Close()
		benchutil.Paired(b, "autopipeline", "raw",
			func() error { return ap.Get(ctx, "bench:k").Err() },
			func() error { return client.Get(ctx, "bench:k").Err() })
	})
	keys := benchKeys(100)
	for _, k := range keys {
		if err := s.Set(ctx, k, benchValue, 0); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("GetMany100", func(b *testing.B) {
		benchutil.Paired(b, "store", "raw",
			func() error { _, err := s.GetMany(ctx, keys); return err },
			func() error { return client.MGet(ctx, keys...).Err() })
	})
	b.Run("Set", func(b *testing.B) {
		benchutil.Paired(b, "store", "raw",
			func() error { return s.Set(ctx, "bench:k", benchValue, time.Minute) },
			func() error { return client.Set(ctx, "bench:k", benchValue, time.Minute).Err() })
	})
}
