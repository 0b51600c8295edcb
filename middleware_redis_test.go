package cachet

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/cachet-go/cachet/internal/testserver"
	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/redisstore"
	"github.com/cachet-go/cachet/store/storetest"
	"github.com/redis/go-redis/v9"
)

// openRedis opens a store on addr, closed when t ends.
func openRedis(t *testing.T, addr string) *redisstore.Store {
	t.Helper()
	s, err := redisstore.Open(&redisstore.Options{Addrs: []string{addr}})
	if err != nil {
		t.Fatalf("redisstore.Open: %v", err)
	}
	t.Cleanup(func() { s.Close() }) // a Cache given s by New does not close it
	return s
}

// TestMiddleware_ConformanceRedis runs the conformance suite on a real
// redis-server through every built-in middleware at once.
func TestMiddleware_ConformanceRedis(t *testing.T) {
	srv := testserver.Redis(t)
	mw := wrappers(t)["Chain/All"]
	storetest.RunMiddleware(t, func(t *testing.T) store.Store {
		s := openRedis(t, srv.Addr)
		if err := s.Clear(bg, ""); err != nil {
			t.Fatalf("Clear: %v", err)
		}
		return s
	}, mw, nil)
}

// TestMiddleware_OptionalInterfacesRedis checks that the redis client stays
// reachable through the wrappers.
func TestMiddleware_OptionalInterfacesRedis(t *testing.T) {
	srv := testserver.Redis(t)
	for name, mw := range wrappers(t) {
		t.Run(name, func(t *testing.T) {
			rs := openRedis(t, srv.Addr)
			defer rs.Close()
			s := mw(rs)
			c, ok := store.As[interface{ Client() redis.UniversalClient }](s)
			if !ok {
				t.Fatal("store.As: the redisstore's Client method is not reachable")
			}
			if err := c.Client().Ping(bg).Err(); err != nil {
				t.Errorf("Ping through the client found: %v", err)
			}
			if _, ok := store.As[store.InProcess](s); ok {
				t.Errorf("store.As[store.InProcess] found one above a redisstore")
			}
		})
	}
}

type reports struct {
	mu   sync.Mutex
	list []report
}

func (r *reports) add(op Op, key string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.list = append(r.list, report{op, key, err})
}

func (r *reports) take() []report {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := r.list
	r.list = nil
	return l
}

// TestFailOpen_RedisDown reads through FailOpen from a redis-server that
// is stopped, then restarted.
func TestFailOpen_RedisDown(t *testing.T) {
	srv := testserver.Redis(t)
	// No retries: each failed call fails at once instead of backing off.
	rs, err := redisstore.New(redis.NewClient(&redis.Options{
		Addr: srv.Addr, MaxRetries: -1, ContextTimeoutEnabled: true,
	}), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var rep reports
	s := FailOpen(rep.add)(rs)
	if err := s.Set(bg, "k", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}

	srv.Stop()
	if _, err := s.Get(bg, "k"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get with the server down: got %v; want a miss", err)
	}
	if vs, err := s.GetMany(bg, []string{"k", "j"}); err != nil || len(vs) != 2 || vs[0] != nil || vs[1] != nil {
		t.Errorf("GetMany with the server down: got %q, %v; want two nil slots", vs, err)
	}
	if ok, err := s.Exists(bg, "k"); ok || err != nil {
		t.Errorf("Exists with the server down: got %v, %v; want false, nil", ok, err)
	}
	got := rep.take()
	if len(got) != 3 || got[0].op != OpGet || got[1].op != OpGetMany || got[2].op != OpExists {
		t.Fatalf("reports: got %v; want get, get_many, exists", got)
	}
	for _, r := range got {
		if r.key != "k" || r.err == nil || errors.Is(r.err, store.ErrNotFound) {
			t.Errorf("report %v %q: %v; want key k and the connection error", r.op, r.key, r.err)
		}
	}
	if err := s.Set(bg, "k", []byte("v"), 0); err == nil {
		t.Error("Set with the server down: got nil error; want the failure")
	}
	if got := rep.take(); len(got) != 0 {
		t.Errorf("a failed write was reported: %v", got)
	}

	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	// Once the client reconnects, reads answer for real again.
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.Set(bg, "k2", []byte("v2"), 0)
		v, err := s.Get(bg, "k2")
		if err == nil && string(v) == "v2" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Get after restart: got %q, %v; want v2", v, err)
		}
		time.Sleep(10 * time.Millisecond) // polling for the reconnection
	}
}

// TestFailOpen_RedisHung reads through FailOpen and Timeout from a
// redis-server that is paused (SIGSTOP): it accepts nothing and answers
// nothing, the worst kind of outage.
func TestFailOpen_RedisHung(t *testing.T) {
	srv := testserver.Redis(t)
	rs := openRedis(t, srv.Addr)
	defer rs.Close()
	var rep reports
	var timing Timing
	s := Chain(FailOpen(rep.add), WithPlugins(&timing), Timeout(50*time.Millisecond))(rs)
	if err := s.Set(bg, "k", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	if err := srv.Pause(); err != nil {
		t.Fatal(err)
	}
	defer srv.Resume()

	if _, err := s.Get(bg, "k"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get from a hung server: got %v; want a miss", err)
	}
	got := rep.take()
	if len(got) != 1 || !errors.Is(got[0].err, context.DeadlineExceeded) {
		t.Errorf("reports: got %v; want one get with DeadlineExceeded", got)
	}
	if st := timing.Stats(OpGet); st.Count != 1 || st.Max < 50*time.Millisecond || st.Max > 5*time.Second {
		t.Errorf("Get timing: got %+v; want one call cut at about 50ms", st)
	}
	if err := s.Set(bg, "k", []byte("v"), 0); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Set to a hung server: got %v; want DeadlineExceeded", err)
	}
}
