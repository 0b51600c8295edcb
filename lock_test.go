package cachet_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachet-go/cachet"
	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/internal/testserver"
	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/memcachestore"
	"github.com/cachet-go/cachet/store/redisstore"
	"github.com/redis/go-redis/v9"
)

const (
	lockChildEnv   = "CACHET_LOCK_CHILD_REDIS"
	lockProcesses  = 4
	lockIterations = 25
)

// Four OS processes (this test binary, run again) take one lock on one
// redis-server in turn: inside the critical section each raises a shared
// counter, checks that it is 1 (nobody else inside), appends to a list and
// lowers the counter again.
func TestCache_LockAcrossProcesses(t *testing.T) {
	if addr := os.Getenv(lockChildEnv); addr != "" {
		lockChild(t, addr)
		return
	}
	srv := testserver.Redis(t)
	cmds := make([]*exec.Cmd, lockProcesses)
	outs := make([]*bytes.Buffer, lockProcesses)
	for i := range cmds {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCache_LockAcrossProcesses$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), lockChildEnv+"="+srv.Addr)
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
	if n, err := client.LLen(ctx, "lk:sections").Result(); err != nil || n != lockProcesses*lockIterations {
		t.Fatalf("%d critical sections ran (%v); want %d", n, err, lockProcesses*lockIterations)
	}
	if n, err := client.Get(ctx, "lk:overlaps").Int(); !errors.Is(err, redis.Nil) || n != 0 {
		t.Fatalf("%d critical sections overlapped another (%v); want none", n, err)
	}
	if n, err := client.Get(ctx, "lk:inside").Int(); err != nil || n != 0 {
		t.Fatalf("inside counter ended at %d (%v); want 0", n, err)
	}
	if n, err := client.Exists(ctx, "lk:res"+cachet.LockSuffix).Result(); err != nil || n != 0 {
		t.Fatalf("lock left behind: %d, %v", n, err)
	}
}

func lockChild(t *testing.T, addr string) {
	ctx := context.Background()
	s, err := redisstore.Open(&redisstore.Options{Addrs: []string{addr}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	client := s.Client()
	c := cachet.Must(cachet.New[string](s, codec.String(), &cachet.Options[string]{Namespace: "lk"}))

	// Barrier: every process is up before any takes the lock.
	if err := client.Incr(ctx, "lk:ready").Err(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for {
		n, err := client.Get(ctx, "lk:ready").Int()
		if err != nil {
			t.Fatal(err)
		}
		if n == lockProcesses {
			break
		}
		if time.Since(start) > 20*time.Second {
			t.Fatalf("only %d of %d processes started", n, lockProcesses)
		}
		time.Sleep(time.Millisecond)
	}

	for i := range lockIterations {
		lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		l, err := c.Lock(lctx, "res", 10*time.Second)
		cancel()
		if err != nil {
			t.Fatalf("Lock %d: %v", i, err)
		}
		n, err := c.Increment(ctx, "inside", 1)
		if err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			client.Incr(ctx, "lk:overlaps")
		}
		client.RPush(ctx, "lk:sections", fmt.Sprintf("%d/%d", os.Getpid(), i))
		time.Sleep(time.Millisecond) // work, widening any overlap
		if _, err := c.Increment(ctx, "inside", -1); err != nil {
			t.Fatal(err)
		}
		if err := l.Unlock(ctx); err != nil {
			t.Fatalf("Unlock %d: %v", i, err)
		}
	}
}

// A holder that outlives its lease loses the lock: the next owner gets it
// once the lease runs out, and the late holder's Unlock fails with
// ErrLockLost without releasing the new owner's lock.
func TestCache_LockLeaseExpiry(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(t *testing.T) store.Store) {
		ctx := context.Background()
		s := open(t)
		c := cachet.Must(cachet.New[string](s, codec.String(), &cachet.Options[string]{Namespace: "le"}))
		lease := 300 * time.Millisecond
		if _, ok := store.As[*memcachestore.Store](s); ok {
			lease = time.Second // memcached: whole seconds
		}

		a, err := c.Lock(ctx, "res", lease)
		if err != nil {
			t.Fatal(err)
		}
		if a.Key() != "le:res"+cachet.LockSuffix {
			t.Fatalf("Key() = %q; want le:res%s", a.Key(), cachet.LockSuffix)
		}
		if _, err := c.TryLock(ctx, "res", lease); !errors.Is(err, cachet.ErrExists) {
			t.Fatalf("TryLock while held: err = %v; want ErrExists", err)
		}
		// A waiter whose context ends first gives up with its error.
		wctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		t0 := time.Now()
		_, err = c.Lock(wctx, "res", lease)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Lock with a 50ms context while held: err = %v; want DeadlineExceeded", err)
		}
		if d := time.Since(t0); d > time.Second {
			t.Fatalf("Lock returned %v after its context ended; want promptly", d)
		}

		// b waits for a's lease to run out.
		bctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		b, err := c.Lock(bctx, "res", time.Minute)
		if err != nil {
			t.Fatalf("Lock after a's lease: %v", err)
		}
		if err := a.Unlock(ctx); !errors.Is(err, cachet.ErrLockLost) {
			t.Fatalf("a.Unlock after its lease: err = %v; want ErrLockLost", err)
		}
		if _, err := c.TryLock(ctx, "res", lease); !errors.Is(err, cachet.ErrExists) {
			t.Fatalf("TryLock after a's late Unlock: err = %v; want ErrExists (b still holds it)", err)
		}
		if err := b.Unlock(ctx); err != nil {
			t.Fatalf("b.Unlock: %v", err)
		}
		if err := b.Unlock(ctx); !errors.Is(err, cachet.ErrLockLost) {
			t.Fatalf("second b.Unlock: err = %v; want ErrLockLost", err)
		}
		l, err := c.TryLock(ctx, "res", lease)
		if err != nil {
			t.Fatalf("TryLock after b.Unlock: %v", err)
		}

		// The kill switch does not turn the lock off.
		c.Disable()
		if _, err := c.TryLock(ctx, "res", lease); !errors.Is(err, cachet.ErrExists) {
			t.Fatalf("TryLock on a disabled cache while held: err = %v; want ErrExists", err)
		}
		c.Enable()
		if err := l.Unlock(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Lock(ctx, "res", 0); !errors.Is(err, cachet.ErrInvalidTTL) {
			t.Fatalf("Lock with lease 0: err = %v; want ErrInvalidTTL", err)
		}
	})
}

// Goroutines of one process exclude each other too.
func TestCache_LockGoroutines(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(t *testing.T) store.Store) {
		ctx := context.Background()
		c := cachet.Must(cachet.New[string](open(t), codec.String(), &cachet.Options[string]{Namespace: "lg"}))
		var inside, maxInside, sections atomic.Int64
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 10 {
					l, err := c.Lock(ctx, "res", 10*time.Second)
					if err != nil {
						t.Error(err)
						return
					}
					n := inside.Add(1)
					for m := maxInside.Load(); n > m && !maxInside.CompareAndSwap(m, n); m = maxInside.Load() {
					}
					sections.Add(1)
					time.Sleep(100 * time.Microsecond)
					inside.Add(-1)
					if err := l.Unlock(ctx); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		if m := maxInside.Load(); m != 1 {
			t.Fatalf("at most %d goroutines were inside at once; want 1", m)
		}
		if n := sections.Load(); n != 80 {
			t.Fatalf("%d sections ran; want 80", n)
		}
	}, "memcached")
}
