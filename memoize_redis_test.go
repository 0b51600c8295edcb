package cachet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachet-go/cachet/internal/testserver"
	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/redisstore"
)

// The cross-process test runs the test binary four times as child
// processes (the environment variable below tells a child what to do),
// each with its own Cache and Memoizer over one real redis-server.
const (
	childEnv      = "CACHET_MEMOIZE_CHILD_REDIS" // address of the redis-server
	processes     = 4
	callsPerChild = 25
)

// waitCounter counts, in Redis, the processes whose stampede lock attempt
// found the lock taken: fn waits for all the others to be waiting before
// it returns, so the test exercises the cross-process wait every time.
type waitCounter struct {
	store.Store
	client redis.UniversalClient
	once   sync.Once
}

func (w *waitCounter) Unwrap() store.Store { return w.Store }

func (w *waitCounter) Add(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	err := w.Store.Add(ctx, key, value, ttl)
	if errors.Is(err, store.ErrExists) && strings.HasSuffix(key, LockSuffix) {
		w.once.Do(func() { w.client.Incr(ctx, "test:waiting") })
	}
	return err
}

func TestMemoize_StampedeLockAcrossProcesses(t *testing.T) {
	if addr := os.Getenv(childEnv); addr != "" {
		stampedeChild(t, addr)
		return
	}
	srv := testserver.Redis(t)
	cmds := make([]*exec.Cmd, processes)
	outs := make([]*bytes.Buffer, processes)
	for i := range cmds {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMemoize_StampedeLockAcrossProcesses$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), childEnv+"="+srv.Addr)
		outs[i] = &bytes.Buffer{}
		cmd.Stdout, cmd.Stderr = outs[i], outs[i]
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[i] = cmd
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("process %d: %v\n%s", i, err, outs[i])
		}
	}
	client := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer client.Close()
	ctx := context.Background()
	if n, err := client.Get(ctx, "test:calls").Int(); err != nil || n != 1 {
		t.Fatalf("fn ran %d times (%v) across %d processes; want exactly 1", n, err, processes)
	}
	if n, _ := client.Get(ctx, "test:waiting").Int(); n != processes-1 {
		t.Fatalf("%d processes waited on the lock; want %d", n, processes-1)
	}
	if n, err := client.Exists(ctx, "app:report"+LockSuffix).Result(); err != nil || n != 0 {
		t.Fatalf("lock left behind: %d, %v", n, err)
	}
}

// stampedeChild is one process: it waits until all are ready, then calls
// the memoized function from many goroutines at once.
func stampedeChild(t *testing.T, addr string) {
	ctx := context.Background()
	s, err := redisstore.Open(&redisstore.Options{Addrs: []string{addr}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	client := s.Client()
	c, err := New[string](s, jsonCodec[string]{}, &Options[string]{
		Namespace:  "app",
		Middleware: []store.Middleware{func(s store.Store) store.Store { return &waitCounter{Store: s, client: client} }},
	})
	if err != nil {
		t.Fatal(err)
	}
	f := Memoize(c, func(ctx context.Context, k string) (string, error) {
		if err := client.Incr(ctx, "test:calls").Err(); err != nil {
			return "", err
		}
		// Hold the lock until every other process is waiting for it.
		for {
			n, err := client.Get(ctx, "test:waiting").Int()
			if err != nil && !errors.Is(err, redis.Nil) {
				return "", err
			}
			if n >= processes-1 {
				return "report for " + k, nil
			}
			select {
			case <-ctx.Done():
				return "", ctx.Err()
			case <-time.After(2 * time.Millisecond):
			}
		}
	}, &MemoizeOptions[string, string]{TTL: time.Minute, StampedeLease: 10 * time.Second, StampedePoll: 5 * time.Millisecond, CallTimeout: 20 * time.Second})

	// Barrier: every process is up before any calls.
	if err := client.Incr(ctx, "test:ready").Err(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		n, err := client.Get(ctx, "test:ready").Int()
		if err != nil {
			t.Fatal(err)
		}
		if n == processes {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d processes started", n, processes)
		}
		time.Sleep(time.Millisecond)
	}
	var wg sync.WaitGroup
	var bad atomic.Int32
	for range callsPerChild {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := f(ctx, "report")
			if err != nil || v != "report for report" {
				bad.Add(1)
				t.Errorf("got %q, %v; want %q", v, err, "report for report")
			}
		}()
	}
	wg.Wait()
	if bad.Load() > 0 {
		t.Fatalf("%d calls failed", bad.Load())
	}
}

func TestMemoize_RedisDown(t *testing.T) {
	srv := testserver.Redis(t)
	s, err := redisstore.Open(&redisstore.Options{Addrs: []string{srv.Addr}, DialTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rec := &opRecorder{}
	c, err := New[string](s, jsonCodec[int]{}, &Options[string]{
		Timeout:    time.Second,
		Middleware: []store.Middleware{func(s store.Store) store.Store { rec.Store = s; return rec }},
	})
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	f := Memoize(c, func(ctx context.Context, k string) (int, error) { return int(calls.Add(1)), nil },
		&MemoizeOptions[string, int]{StampedeLease: time.Second, StampedePoll: time.Millisecond})
	ctx := context.Background()
	if v, err := f(ctx, "k"); v != 1 || err != nil {
		t.Fatalf("up: %d, %v; want 1, nil", v, err)
	}
	if v, err := f(ctx, "k"); v != 1 || err != nil {
		t.Fatalf("cached: %d, %v; want 1, nil", v, err)
	}
	srv.Stop()
	if v, err := f(ctx, "k"); v != 2 || err != nil {
		t.Fatalf("redis down: %d, %v; want fn's 2, nil", v, err)
	}
	if len(rec.errors()) == 0 {
		t.Fatal("middleware saw no store error while redis was down")
	}
}

// getCounter counts the reads that reach the store.
type getCounter struct {
	store.Store
	gets atomic.Int32
}

func (g *getCounter) Unwrap() store.Store { return g.Store }

func (g *getCounter) Get(ctx context.Context, key string) ([]byte, error) {
	g.gets.Add(1)
	return g.Store.Get(ctx, key)
}

// Over a networked store, callers that arrive while the shared call runs
// join it without a read of their own: a burst costs the leader's read and
// the shared call's re-read, not one round trip per caller.
func TestMemoize_JoinRunningCallWithoutRead(t *testing.T) {
	srv := testserver.Redis(t)
	rs, err := redisstore.Open(&redisstore.Options{Addrs: []string{srv.Addr}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rs.Close() })
	counter := &getCounter{}
	c, err := New[string](rs, jsonCodec[int]{}, &Options[string]{
		Namespace:  "join",
		Middleware: []store.Middleware{func(s store.Store) store.Store { counter.Store = s; return counter }},
	})
	if err != nil {
		t.Fatal(err)
	}
	const followers = 50
	inFn := make(chan struct{})
	allJoined := joinCounter(t, "join:k", followers+1)
	var calls atomic.Int32
	fn := Memoize(c, func(ctx context.Context, k string) (int, error) {
		if calls.Add(1) == 1 {
			close(inFn)
		}
		<-allJoined
		return 7, nil
	}, nil)
	leaderDone := make(chan error, 1)
	go func() {
		v, err := fn(context.Background(), "k")
		if err == nil && v != 7 {
			err = fmt.Errorf("got %d; want 7", v)
		}
		leaderDone <- err
	}()
	<-inFn // the shared call is running: its reads are done
	readsBefore := counter.gets.Load()
	var wg sync.WaitGroup
	for range followers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if v, err := fn(context.Background(), "k"); err != nil || v != 7 {
				t.Errorf("follower got %d, %v; want 7", v, err)
			}
		}()
	}
	wg.Wait()
	if err := <-leaderDone; err != nil {
		t.Fatal(err)
	}
	if got := counter.gets.Load() - readsBefore; got != 0 {
		t.Fatalf("%d followers made %d reads while the call ran; want 0", followers, got)
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("fn ran %d times; want 1", n)
	}
}

// doneRecorder records the Done channel of the context of the last Get
// that reaches the store.
type doneRecorder struct {
	store.Store
	mu   sync.Mutex
	done <-chan struct{}
}

func (d *doneRecorder) Unwrap() store.Store { return d.Store }

func (d *doneRecorder) Get(ctx context.Context, key string) ([]byte, error) {
	d.mu.Lock()
	d.done = ctx.Done()
	d.mu.Unlock()
	return d.Store.Get(ctx, key)
}

func (d *doneRecorder) last() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.done
}

// Over a networked store a hit is read in the shared call (callers join it
// first), but on the goroutine of the caller that starts it and under that
// caller's own context, not on a goroutine of its own under a detached one
// (which cost every memoized Redis hit a goroutine hand-off); a load still
// runs detached from the caller's cancellation.
func TestMemoize_RedisHitReadsUnderCallersContext(t *testing.T) {
	srv := testserver.Redis(t)
	rs, err := redisstore.Open(&redisstore.Options{Addrs: []string{srv.Addr}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rs.Close() })
	rec := &doneRecorder{}
	c, err := New[string](rs, jsonCodec[int]{}, &Options[string]{
		Namespace:  "hitctx",
		Middleware: []store.Middleware{func(s store.Store) store.Store { rec.Store = s; return rec }},
	})
	if err != nil {
		t.Fatal(err)
	}
	// The load: its caller leaves (cancels) while it runs, and the load's
	// context does not end with it.
	first, leave := context.WithCancel(context.Background())
	loadErr := make(chan error, 1)
	fn := Memoize(c, func(ctx context.Context, k string) (int, error) {
		leave()
		loadErr <- ctx.Err()
		return 7, nil
	}, nil)
	if v, err := fn(first, "k"); err != nil && !errors.Is(err, context.Canceled) || err == nil && v != 7 {
		t.Fatalf("first call = %d, %v; want 7 or its own cancellation", v, err)
	}
	if err := <-loadErr; err != nil {
		t.Errorf("the load's context ended with its caller's: Err = %v; want it detached", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i := range 2 { // the first may join the load's call as it ends
		if v, err := fn(ctx, "k"); err != nil || v != 7 {
			t.Fatalf("call %d after the load = %d, %v; want 7", i, v, err)
		}
	}
	if rec.last() != ctx.Done() {
		t.Error("the memoized hit was read under another context than its caller's")
	}
	if v, err := c.GetOrLoad(ctx, "k2", func(context.Context) (int, error) { return 8, nil }); err != nil || v != 8 {
		t.Fatalf("GetOrLoad = %d, %v; want 8", v, err)
	}
	if v, err := c.GetOrLoad(ctx, "k2", func(context.Context) (int, error) { return 0, errors.New("loaded again") }); err != nil || v != 8 {
		t.Fatalf("GetOrLoad of a cached key = %d, %v; want 8", v, err)
	}
	if rec.last() != ctx.Done() {
		t.Error("the GetOrLoad hit was read under another context than its caller's")
	}
}
