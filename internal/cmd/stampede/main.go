// Command stampede measures how memoized functions recompute one hot key
// across several OS processes sharing a real redis-server (issue 17): it
// starts a redis-server (or uses -redis), runs -procs copies of itself,
// each with -workers goroutines calling one memoized function for
// -duration, and reports, per strategy (plain, the stampede lock alone,
// early refresh with the lock, stale-while-revalidate with the lock):
//
//   - recomputes per ttl window (mean and max over the windows of the run),
//   - calls that took at least the recompute time (on a loaded machine,
//     these include calls the scheduler held up),
//   - calls that waited for a recompute: they took at least the recompute
//     time and returned a value computed after they began, so no value
//     was there for them (a call of a running early or stale refresh gets
//     the value it began with); a call that the scheduler held up while a
//     refresh landed counts too (on a loaded machine whole processes
//     stall: such counts come in multiples of -workers),
//   - calls answered with a value past its ttl (stale-while-revalidate, or
//     early refresh's margin while a late refresh runs),
//   - store round trips per call (Gets, and all operations with the
//     background refreshes' Adds, Sets and lock releases), and SET NX per
//     recompute.
//
// make bench runs it at about 100 reads/s and as fast as the machine
// goes, 6s per run, about a minute in all; see the README's Memoize
// section for its figures.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachet-go/cachet"
	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/internal/testserver"
	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/redisstore"
)

// childEnv carries a child process's run, as JSON.
const childEnv = "CACHET_STAMPEDE_CHILD"

// run is one measured run: the parameters every process gets.
type run struct {
	Strategy  string        // one of strategies
	Redis     string        // address
	Namespace string        // fresh per run
	Workers   int           // per process
	Interval  time.Duration // per worker between calls; 0: no pause
	TTL       time.Duration
	Recompute time.Duration
	Start     time.Time // when every process begins
	Duration  time.Duration
}

// report is what a child process measured.
type report struct {
	Calls, Slow, Waits, Stale, Errors int64
	Ops                               map[string]int64
	Recomputes                        []int64 // fn start times, Unix nanoseconds
}

func main() {
	if cfg := os.Getenv(childEnv); cfg != "" {
		if err := child(cfg, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "stampede child:", err)
			os.Exit(1)
		}
		return
	}
	if err := parent(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "stampede:", err)
		os.Exit(1)
	}
}

// parent parses the flags, runs every (strategy, rate) pair and prints a
// table.
func parent(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("stampede", flag.ContinueOnError)
	procs := fs.Int("procs", 4, "OS processes")
	workers := fs.Int("workers", 12, "goroutines per process")
	rates := fs.String("rates", "100,0", "total calls per second to run at, comma separated; 0: as fast as possible")
	strategies := fs.String("strategies", "plain,lock,early+lock,swr+lock", "strategies, comma separated: plain, lock, early+lock, swr+lock")
	ttl := fs.Duration("ttl", time.Second, "ttl of the memoized value")
	recompute := fs.Duration("recompute", 100*time.Millisecond, "how long fn takes")
	duration := fs.Duration("duration", 6*time.Second, "length of each run")
	addr := fs.String("redis", "", "address of a redis-server to use; default: start one")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var rateList []float64
	for _, r := range splitComma(*rates) {
		var f float64
		if _, err := fmt.Sscan(r, &f); err != nil || f < 0 {
			return fmt.Errorf("-rates: bad rate %q", r)
		}
		rateList = append(rateList, f)
	}
	if *addr == "" {
		srv, err := testserver.StartRedis("")
		if err != nil {
			return fmt.Errorf("starting redis-server: %w", err)
		}
		defer srv.Close()
		*addr = srv.Addr
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "stampede: %d processes x %d workers, one hot key, ttl %v, recompute %v, %v per run, real redis-server\n\n",
		*procs, *workers, *ttl, *recompute, *duration)
	fmt.Fprintln(out, "| strategy | calls/s | recomputes per ttl window (mean / max) | took >= recompute | waited for a recompute | past ttl | Gets per call | store ops per call | SET NX per recompute |")
	fmt.Fprintln(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	for i, strategy := range splitComma(*strategies) {
		if _, ok := strategyOptions[strategy]; !ok {
			return fmt.Errorf("-strategies: unknown strategy %q", strategy)
		}
		for j, rate := range rateList {
			r := run{Strategy: strategy, Redis: *addr, Namespace: fmt.Sprintf("stampede%d_%d", i, j), Workers: *workers,
				TTL: *ttl, Recompute: *recompute, Duration: *duration, Start: time.Now().Add(500 * time.Millisecond)}
			if rate > 0 {
				r.Interval = time.Duration(float64(time.Second) * float64(*procs**workers) / rate)
			}
			res, err := runProcs(self, r, *procs)
			if err != nil {
				return err
			}
			fmt.Fprintln(out, res.row(r))
		}
	}
	return nil
}

// result sums the reports of a run's processes.
type result struct {
	report
	mean     float64
	most     int
	measured int // recomputes within the run
}

func (res result) row(r run) string {
	per := func(n int64, d int64) float64 {
		if d == 0 {
			return 0
		}
		return float64(n) / float64(d)
	}
	var ops int64
	for _, n := range res.Ops {
		ops += n
	}
	return fmt.Sprintf("| %s | %.0f | %.2f / %d | %d | %d | %.2f%% | %.3f | %.3f | %.1f |",
		r.Strategy, float64(res.Calls)/r.Duration.Seconds(), res.mean, res.most, res.Slow, res.Waits,
		100*per(res.Stale, res.Calls), per(res.Ops["get"], res.Calls), per(ops, res.Calls),
		per(res.Ops["add"], int64(res.measured)))
}

// runProcs runs r in n child processes and sums their reports.
func runProcs(self string, r run, n int) (result, error) {
	cfg, err := json.Marshal(r)
	if err != nil {
		return result{}, err
	}
	cmds := make([]*exec.Cmd, n)
	outs := make([]*bytes.Buffer, n)
	errs := make([]*bytes.Buffer, n)
	for i := range cmds {
		cmd := exec.Command(self)
		cmd.Env = append(os.Environ(), childEnv+"="+string(cfg))
		outs[i], errs[i] = &bytes.Buffer{}, &bytes.Buffer{}
		cmd.Stdout, cmd.Stderr = outs[i], errs[i]
		if err := cmd.Start(); err != nil {
			return result{}, err
		}
		cmds[i] = cmd
	}
	var res result
	res.Ops = map[string]int64{}
	var failed error
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			failed = fmt.Errorf("process %d: %w\n%s", i, err, errs[i])
			continue
		}
		var rep report
		if err := json.Unmarshal(outs[i].Bytes(), &rep); err != nil {
			failed = fmt.Errorf("process %d: %w\n%s", i, err, outs[i])
			continue
		}
		res.Calls += rep.Calls
		res.Slow += rep.Slow
		res.Waits += rep.Waits
		res.Stale += rep.Stale
		res.Errors += rep.Errors
		for op, n := range rep.Ops {
			res.Ops[op] += n
		}
		res.Recomputes = append(res.Recomputes, rep.Recomputes...)
	}
	if failed != nil {
		return res, failed
	}
	if res.Errors > 0 {
		return res, fmt.Errorf("%s: %d calls failed", r.Strategy, res.Errors)
	}
	slices.Sort(res.Recomputes)
	res.mean, res.most, res.measured = perWindow(res.Recomputes, r.Start.UnixNano(), r.TTL, r.Duration)
	return res, nil
}

// perWindow returns the mean and maximum number of recomputes (start
// times, Unix nanoseconds) per ttl window of the run from start for d,
// and their number.
func perWindow(starts []int64, start int64, ttl, d time.Duration) (float64, int, int) {
	windows := int(d / ttl)
	if windows == 0 {
		return 0, 0, 0
	}
	counts := make([]int, windows)
	total := 0
	for _, s := range starts {
		if s < start {
			continue // the warm-up fill
		}
		if i := int((s - start) / int64(ttl)); i < windows {
			counts[i]++
			total++
		}
	}
	return float64(total) / float64(windows), slices.Max(counts), total
}

// child runs one process of a run and writes its report to out.
func child(cfg string, out io.Writer) error {
	var r run
	if err := json.Unmarshal([]byte(cfg), &r); err != nil {
		return err
	}
	s, err := redisstore.Open(&redisstore.Options{Addrs: []string{r.Redis}})
	if err != nil {
		return err
	}
	defer s.Close()
	cnt := &counter{}
	c, err := cachet.New[string](s, codec.JSON[int64](), &cachet.Options[string]{
		Namespace:  r.Namespace,
		Middleware: []store.Middleware{func(s store.Store) store.Store { cnt.Store = s; return cnt }},
	})
	if err != nil {
		return err
	}
	var mu sync.Mutex
	var recomputes []int64
	fn := func(ctx context.Context, _ string) (int64, error) {
		start := time.Now()
		mu.Lock()
		recomputes = append(recomputes, start.UnixNano())
		mu.Unlock()
		time.Sleep(r.Recompute)
		return time.Now().UnixNano(), nil // the value: when it was computed
	}
	opts, ok := strategyOptions[r.Strategy]
	if !ok {
		return fmt.Errorf("unknown strategy %q", r.Strategy)
	}
	f := cachet.Memoize(c, fn, opts(r))

	// Warm up: the cold fill (one process computes, the others wait for
	// it) is not measured.
	if _, err := f(context.Background(), "hot"); err != nil {
		return err
	}
	base := cnt.snapshot()
	var calls, slow, waits, stale, errs atomic.Int64
	end := r.Start.Add(r.Duration)
	time.Sleep(time.Until(r.Start))
	var wg sync.WaitGroup
	for w := range r.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			// Paced workers start spread over one interval.
			next := r.Start.Add(time.Duration(w) * r.Interval / time.Duration(r.Workers))
			for {
				if r.Interval > 0 {
					time.Sleep(time.Until(next))
					next = next.Add(r.Interval)
				}
				t0 := time.Now()
				if !t0.Before(end) {
					return
				}
				v, err := f(ctx, "hot")
				t1 := time.Now()
				calls.Add(1)
				switch {
				case err != nil:
					errs.Add(1)
				case t1.UnixNano() > v+int64(r.TTL):
					stale.Add(1)
				}
				if t1.Sub(t0) >= r.Recompute {
					slow.Add(1)
					if err == nil && v > t0.UnixNano() {
						waits.Add(1)
					}
				}
			}
		}()
	}
	wg.Wait()
	// Stop counting before Close ends the background refreshes.
	rep := report{Calls: calls.Load(), Slow: slow.Load(), Waits: waits.Load(), Stale: stale.Load(), Errors: errs.Load(), Ops: cnt.snapshot()}
	for op, n := range base {
		rep.Ops[op] -= n
	}
	c.Close()
	mu.Lock()
	rep.Recomputes = recomputes
	mu.Unlock()
	return json.NewEncoder(out).Encode(rep)
}

// strategyOptions are the memoize options of each strategy; the lock's
// lease is ten recomputes.
var strategyOptions = map[string]func(r run) *cachet.MemoizeOptions[string, int64]{
	"plain": func(r run) *cachet.MemoizeOptions[string, int64] {
		return &cachet.MemoizeOptions[string, int64]{TTL: r.TTL}
	},
	"lock": func(r run) *cachet.MemoizeOptions[string, int64] {
		return &cachet.MemoizeOptions[string, int64]{TTL: r.TTL, StampedeLease: 10 * r.Recompute}
	},
	"early+lock": func(r run) *cachet.MemoizeOptions[string, int64] {
		return &cachet.MemoizeOptions[string, int64]{TTL: r.TTL, StampedeLease: 10 * r.Recompute, EarlyRefresh: 1}
	},
	"swr+lock": func(r run) *cachet.MemoizeOptions[string, int64] {
		return &cachet.MemoizeOptions[string, int64]{TTL: r.TTL, StampedeLease: 10 * r.Recompute, StaleWhileRevalidate: r.TTL}
	},
}

// counter is a middleware that counts the store operations (each is one
// round trip to Redis).
type counter struct {
	store.Store
	mu  sync.Mutex
	ops map[string]int64
}

func (c *counter) Unwrap() store.Store { return c.Store }

func (c *counter) note(op string) {
	c.mu.Lock()
	if c.ops == nil {
		c.ops = map[string]int64{}
	}
	c.ops[op]++
	c.mu.Unlock()
}

func (c *counter) snapshot() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.ops)
}

func (c *counter) Get(ctx context.Context, key string) ([]byte, error) {
	c.note("get")
	return c.Store.Get(ctx, key)
}

func (c *counter) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	c.note("set")
	return c.Store.Set(ctx, key, value, ttl)
}

func (c *counter) Add(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	c.note("add")
	return c.Store.Add(ctx, key, value, ttl)
}

func (c *counter) Delete(ctx context.Context, keys ...string) (int, error) {
	c.note("delete")
	return c.Store.Delete(ctx, keys...)
}

// CompareAndDelete counts the lock releases (one EVAL).
func (c *counter) CompareAndDelete(ctx context.Context, key string, value []byte) (bool, error) {
	c.note("compare-and-delete")
	return store.CompareAndDelete(ctx, c.Store, key, value)
}

func splitComma(s string) []string {
	var out []string
	for _, f := range bytes.Split([]byte(s), []byte(",")) {
		if f := string(bytes.TrimSpace(f)); f != "" {
			out = append(out, f)
		}
	}
	return out
}
