package cachet

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/internal/benchutil"
	"github.com/cachet-go/cachet/internal/testserver"
	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/redisstore"
)

// The two-process tests run the test binary again as a writer process
// (the environment variable below tells it so, with "standalone" or
// "cluster", a space and the comma-separated addresses): it reads
// commands on stdin, one a line ("set KEY NAME", "del KEY"), runs each
// through its own Cache (namespace "users") and answers "ok UNIXNANO"
// (the wall clock when the write returned) or "err MESSAGE".
const localWriterEnv = "CACHET_LOCAL_WRITER"

// localWriterChild is the writer process's main.
func localWriterChild(t *testing.T, spec string) {
	mode, addrs, _ := strings.Cut(spec, " ")
	s, err := redisstore.Open(&redisstore.Options{Addrs: strings.Split(addrs, ","), Cluster: mode == "cluster"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, err := New[string](s, codec.JSON[localUser](), &Options[string]{Namespace: "users"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		f := strings.Fields(in.Text())
		var err error
		switch {
		case len(f) == 3 && f[0] == "set":
			err = c.Set(ctx, f[1], localUser{Name: f[2]})
		case len(f) == 2 && f[0] == "del":
			_, err = c.Delete(ctx, f[1])
		default:
			err = fmt.Errorf("bad command %q", in.Text())
		}
		done := time.Now().UnixNano()
		if err != nil {
			fmt.Printf("err %v\n", err)
			continue
		}
		fmt.Printf("ok %d\n", done)
	}
}

// writerProcess is the parent's handle on a writer process.
type writerProcess struct {
	in  io.WriteCloser
	out *bufio.Scanner
}

func startWriterProcess(tb testing.TB, mode string, addrs []string) *writerProcess {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLocal_TwoProcesses$", "-test.count=1")
	cmd.Env = append(os.Environ(), localWriterEnv+"="+mode+" "+strings.Join(addrs, ","))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		in.Close() // the child's stdin ends: it exits
		if err := cmd.Wait(); err != nil {
			tb.Errorf("writer process: %v", err)
		}
	})
	return &writerProcess{in: in, out: bufio.NewScanner(out)}
}

// do runs one command in the writer process and returns the wall clock
// when its write returned there.
func (w *writerProcess) do(tb testing.TB, cmd string) time.Time {
	tb.Helper()
	if _, err := fmt.Fprintln(w.in, cmd); err != nil {
		tb.Fatalf("writer process: %v", err)
	}
	for w.out.Scan() {
		line := w.out.Text()
		if ns, ok := strings.CutPrefix(line, "ok "); ok {
			n, err := strconv.ParseInt(ns, 10, 64)
			if err != nil {
				tb.Fatalf("writer process: %q", line)
			}
			return time.Unix(0, n)
		}
		if msg, ok := strings.CutPrefix(line, "err "); ok {
			tb.Fatalf("writer process: %s: %s", cmd, msg)
		}
	}
	tb.Fatalf("writer process ended: %v", w.out.Err())
	return time.Time{}
}

// holds reports whether the reader's tier holds a copy of key.
func (r *redisLocal) holds(key string) bool {
	_, ok := r.c.local.lookup("users:" + key)
	return ok
}

// waitDropped polls (the observable state is the tier's content; a poll
// every millisecond, at most 5s) until the reader holds no copy of key.
func (r *redisLocal) waitDropped(t *testing.T, key string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for r.holds(key) {
		if time.Now().After(deadline) {
			t.Fatalf("the local copy of %s still held 5s after another process's write", key)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestLocal_TwoProcesses: the writer is another OS process with its own
// Cache; the reader's local copies are dropped after its writes, over a
// single Redis and over a 3-master Cluster.
func TestLocal_TwoProcesses(t *testing.T) {
	if spec := os.Getenv(localWriterEnv); spec != "" {
		localWriterChild(t, spec)
		return
	}
	t.Run("standalone", func(t *testing.T) {
		srv := testserver.Redis(t)
		r := newLocalOver(t, redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1}))
		twoProcesses(t, r, startWriterProcess(t, "standalone", []string{srv.Addr}), []string{"k"})
	})
	t.Run("cluster", func(t *testing.T) {
		cl := testserver.RedisCluster(t)
		raw := newClusterClient(cl)
		defer raw.Close()
		var keys []string
		for _, k := range keysPerMaster(t, raw, len(cl.Nodes)) {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		r := newLocalOver(t, newClusterClient(cl))
		twoProcesses(t, r, startWriterProcess(t, "cluster", cl.Addrs()), keys)
	})
}

func twoProcesses(t *testing.T, r *redisLocal, w *writerProcess, keys []string) {
	ctx := context.Background()
	for _, k := range keys {
		w.do(t, "set "+k+" v1")
		r.await(t, "the writer's first Set", keyEvent("users:"+k))
		r.mustGetKey(t, k, "v1") // fills
		h := r.localHits()
		r.mustGetKey(t, k, "v1")
		if r.localHits() != h+1 || !r.holds(k) {
			t.Fatalf("%s: the second Get was not a local hit", k)
		}

		w.do(t, "set "+k+" v2")
		r.waitDropped(t, k)
		s0, _ := r.c.LocalStats()
		r.mustGetKey(t, k, "v2")
		if s1, _ := r.c.LocalStats(); s1.StoreReads != s0.StoreReads+1 {
			t.Fatalf("%s: the Get after the drop did not read the store", k)
		}
		h = r.localHits()
		r.mustGetKey(t, k, "v2")
		if r.localHits() != h+1 {
			t.Fatalf("%s: the refilled copy was not a local hit", k)
		}

		w.do(t, "del "+k)
		r.waitDropped(t, k)
		if _, err := r.c.Get(ctx, k); !errors.Is(err, ErrNotFound) {
			t.Fatalf("%s: Get after the writer's Delete = %v; want ErrNotFound", k, err)
		}
	}
}

// BenchmarkLocal_InvalidationLatency measures, over a single Redis on
// loopback, how long after another client's write returns the reader's
// local copy is dropped: a plain go-redis client in this process, and a
// Cache in another OS process. Each round the reader holds a copy, the
// writer writes, and the reader's goroutine sleeps on a channel that the
// tier's event hook signals when the key's invalidation has been applied
// (no spinning core); the latency is the hook's time minus the time the
// write returned (0 when the invalidation came first; across processes
// by the wall clock). Then the reader Gets the key: a value other than
// the one written is a stale read. Run with -benchtime 1000x for 1,000
// writes; it reports p50-µs, p99-µs, max-µs and stale-reads.
func BenchmarkLocal_InvalidationLatency(b *testing.B) {
	srv := testserver.Redis(b)
	ctx := context.Background()
	client := redis.NewClient(&redis.Options{Addr: srv.Addr})
	b.Cleanup(func() { client.Close() })
	st, err := redisstore.New(client, nil)
	if err != nil {
		b.Fatal(err)
	}
	c, err := New[string](st, codec.JSON[localUser](), &Options[string]{Namespace: "users", Local: &LocalOptions[localUser]{}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	arrivals := make(chan time.Time, 16)
	live := make(chan struct{}, 1)
	f := func(ev store.Invalidation) {
		now := time.Now()
		if ev.Flush && ev.Live {
			select {
			case live <- struct{}{}:
			default:
			}
		}
		if slices.Contains(ev.Keys, "users:lat") {
			arrivals <- now
		}
	}
	c.local.inv.onEvent.Store(&f)
	if s, _ := c.LocalStats(); !s.Live {
		<-live
	}
	raw := redis.NewClient(&redis.Options{Addr: srv.Addr})
	b.Cleanup(func() { raw.Close() })
	// What a plain client writes: the bytes of a cachet Set.
	payload := map[string][]byte{}
	for _, name := range []string{"a", "b"} {
		if err := c.Set(ctx, "lat", localUser{Name: name}); err != nil {
			b.Fatal(err)
		}
		<-arrivals
		if payload[name], err = raw.Get(ctx, "users:lat").Bytes(); err != nil {
			b.Fatal(err)
		}
	}
	writers := map[string]func(name string) time.Time{
		"plain-client": func(name string) time.Time {
			if err := raw.Set(ctx, "users:lat", payload[name], 0).Err(); err != nil {
				b.Fatal(err)
			}
			return time.Now()
		},
	}
	for _, name := range []string{"plain-client", "other-process"} {
		b.Run(name, func(b *testing.B) {
			write := writers[name]
			if write == nil {
				w := startWriterProcess(b, "standalone", []string{srv.Addr})
				write = func(name string) time.Time { return w.do(b, "set lat "+name) }
			}
			var lats []time.Duration
			stale, notHeld := 0, 0
			for i := 0; b.Loop(); i++ {
				want := []string{"a", "b"}[i%2]
				if _, err := c.Get(ctx, "lat"); err != nil { // fills
					b.Fatal(err)
				}
				if _, ok := c.local.lookup("users:lat"); !ok {
					notHeld++
				}
				done := write(want)
				arrived := <-arrivals
				lats = append(lats, max(arrived.Sub(done), 0))
				if v, err := c.Get(ctx, "lat"); err != nil || v.Name != want {
					stale++
				}
			}
			slices.Sort(lats)
			q := func(p float64) float64 { return float64(lats[int(p*float64(len(lats)-1))].Nanoseconds()) / 1e3 }
			b.ReportMetric(q(0.5), "p50-µs")
			b.ReportMetric(q(0.99), "p99-µs")
			b.ReportMetric(q(1), "max-µs")
			b.ReportMetric(float64(stale), "stale-reads")
			b.ReportMetric(float64(notHeld), "rounds-without-copy")
		})
	}
}

// BenchmarkLocal_MissStoreHit pairs a Get that misses the local tier and
// hits Redis with a Get of a cache without a local tier, over one client
// of one Redis: "localmiss/get" is what a local miss costs over today's
// Cache.Get.
//
// cold: each Get reads a key of its own (both sides read the same keys),
// stored beforehand and never read before, so every local Get is a true
// miss followed by a fill, and nothing else is timed.
// invalidate: one key, whose local copy the timed function drops before
// each Get, as a write through the cache or the invalidation stream does
// (the drop is then timed with the miss).
func BenchmarkLocal_MissStoreHit(b *testing.B) {
	srv := testserver.Redis(b)
	ctx := context.Background()
	client := redis.NewClient(&redis.Options{Addr: srv.Addr})
	b.Cleanup(func() { client.Close() })
	st, err := redisstore.New(client, nil)
	if err != nil {
		b.Fatal(err)
	}
	u := localUser{Name: "ann", Tags: []string{"a", "b"}}
	plain, err := New[string](st, codec.JSON[localUser](), &Options[string]{Namespace: "users"})
	if err != nil {
		b.Fatal(err)
	}
	newLocal := func(b *testing.B, entries int) *Cache[string, localUser] {
		local, err := New[string](st, codec.JSON[localUser](), &Options[string]{Namespace: "users", Local: &LocalOptions[localUser]{MaxEntries: entries}})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { local.Close() })
		for s, _ := local.LocalStats(); !s.Live; s, _ = local.LocalStats() {
			time.Sleep(time.Millisecond) // the stream's first event: polled, the public API has no signal
		}
		return local
	}
	b.Run("cold", func(b *testing.B) {
		const pool = 200_000 // keys: more than the Gets of a run (-benchtime 20000x)
		keys := make([]string, pool)
		batch := make(map[string]localUser, 1000)
		for i := range keys {
			keys[i] = "cold" + strconv.Itoa(i)
			batch[keys[i]] = u
			if len(batch) == 1000 || i == len(keys)-1 {
				if err := plain.SetMany(ctx, batch); err != nil {
					b.Fatal(err)
				}
				clear(batch)
			}
		}
		local := newLocal(b, 2*pool) // no eviction during the run
		var li, pi int
		next := func(i *int) (string, error) {
			if *i == len(keys) {
				return "", errors.New("key pool exhausted: run fewer iterations")
			}
			*i++
			return keys[*i-1], nil
		}
		benchutil.Paired(b, "localmiss", "get",
			func() error {
				k, err := next(&li)
				if err != nil {
					return err
				}
				_, err = local.Get(ctx, k)
				return err
			},
			func() error {
				k, err := next(&pi)
				if err != nil {
					return err
				}
				_, err = plain.Get(ctx, k)
				return err
			})
		if s, _ := local.LocalStats(); s.Hits != 0 || s.Fills != uint64(li) {
			b.Fatalf("stats %+v after %d Gets: want every Get a miss that fills", s, li)
		}
	})
	b.Run("invalidate", func(b *testing.B) {
		if err := plain.Set(ctx, "k", u); err != nil {
			b.Fatal(err)
		}
		local := newLocal(b, 0)
		benchutil.Paired(b, "localmiss", "get",
			func() error {
				local.local.inv.invalidate("users:k") // as a write or the stream drops it
				_, err := local.Get(ctx, "k")
				return err
			},
			func() error {
				_, err := plain.Get(ctx, "k")
				return err
			})
		if s, _ := local.LocalStats(); s.StoreReads == 0 || s.Fills == 0 {
			b.Fatalf("stats %+v: the local misses did not read the store and fill", s)
		}
	})
}
