package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachet-go/cachet"
	"github.com/cachet-go/cachet/examples/userservice/users"
	"github.com/cachet-go/cachet/internal/testserver"
)

// service is one running userservice, started by run as main starts it.
type service struct {
	base   string
	svc    *users.Service
	client *http.Client
	stop   func() error // cancels run's context and returns run's error
}

// start runs the service on a free loopback port with args and the
// environment env, and stops it when the test ends.
func start(t *testing.T, args []string, env map[string]string) *service {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	type up struct {
		addr string
		svc  *users.Service
	}
	ready := make(chan up, 1)
	done := make(chan error, 1)
	args = append([]string{"-addr", "127.0.0.1:0", "-latency", "20ms", "-users", "500"}, args...)
	go func() {
		done <- run(ctx, args, func(k string) string { return env[k] }, io.Discard, func(addr string, svc *users.Service) {
			ready <- up{addr, svc}
		})
	}()
	var u up
	select {
	case u = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("run returned before serving: %v", err)
	}
	var once sync.Once
	var runErr error
	s := &service{
		base:   "http://" + u.addr,
		svc:    u.svc,
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}, Timeout: 30 * time.Second},
		stop: func() error {
			once.Do(func() {
				cancel()
				runErr = <-done
			})
			return runErr
		},
	}
	t.Cleanup(func() {
		if err := s.stop(); err != nil {
			t.Errorf("run: %v", err)
		}
		s.client.CloseIdleConnections()
	})
	return s
}

// get decodes the JSON answer of GET path into v and returns the status.
func (s *service) do(method, path string, body any, v any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.base+path, rd)
	if err != nil {
		return 0, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	if v != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, v); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: %w: %s", method, path, err, b)
		}
	}
	return resp.StatusCode, nil
}

func (s *service) user(id string) (users.User, int, error) {
	var u users.User
	code, err := s.do("GET", "/users/"+id, nil, &u)
	return u, code, err
}

func (s *service) stats(t *testing.T) users.Stats {
	t.Helper()
	var st users.Stats
	if code, err := s.do("GET", "/stats", nil, &st); err != nil || code != 200 {
		t.Fatalf("GET /stats = %d, %v", code, err)
	}
	return st
}

// parallel runs f(i) for i in [0, n) at once (released together) and
// returns the first error.
func parallel(n int, f func(i int) error) error {
	var wg sync.WaitGroup
	errs := make([]error, n)
	gate := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			errs[i] = f(i)
		}()
	}
	close(gate)
	wg.Wait()
	return errors.Join(errs...)
}

func TestUserService_Memory(t *testing.T) {
	exercise(t, start(t, nil, nil)) // memory:// by default
}

func TestUserService_Redis(t *testing.T) {
	srv := testserver.Redis(t)
	exercise(t, start(t, nil, map[string]string{"CACHE_URL": "redis://" + srv.Addr}))
}

// TestUserService_NoStaleReads runs the update check with a ttl shorter
// than a load, so that entries expire and loads start again and again
// while the updates go on.
func TestUserService_NoStaleReads(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  func(t *testing.T) map[string]string
	}{
		{"memory", func(*testing.T) map[string]string { return nil }},
		{"redis", func(t *testing.T) map[string]string {
			return map[string]string{"CACHE_URL": "redis://" + testserver.Redis(t).Addr}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := start(t, []string{"-ttl", "15ms"}, tc.env(t))
			var gets, batches, puts int64
			noStaleReads(t, s, &gets, &batches, &puts)
			st := s.stats(t)
			if st.Requests.Get != gets || st.Requests.Batch != batches || st.Requests.Put != puts || st.Repo.Writes != puts {
				t.Errorf("/stats = %+v; want get %d, batch %d, put %d requests and %d writes", st, gets, batches, puts, puts)
			}
		})
	}
}

func TestUserService_FlagWinsOverEnv(t *testing.T) {
	s := start(t, []string{"-cache", "memory://flagged"}, map[string]string{"CACHE_URL": "nosuchscheme://x"})
	if u, code, err := s.user("7"); err != nil || code != 200 || u.ID != "7" {
		t.Fatalf("GET /users/7 = %+v, %d, %v; want user 7", u, code, err)
	}
}

func TestUserService_Ping(t *testing.T) {
	port, err := testserver.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	dead := "redis://127.0.0.1:" + strconv.Itoa(port) + "?dial_timeout=200ms"
	err = run(context.Background(), []string{"-addr", "127.0.0.1:0", "-cache", dead, "-ping"}, func(string) string { return "" }, io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), "ping") {
		t.Fatalf("run -ping on an unreachable redis = %v; want the ping's error", err)
	}
	srv := testserver.Redis(t)
	s := start(t, []string{"-ping"}, map[string]string{"CACHE_URL": "redis://" + srv.Addr})
	if u, code, err := s.user("3"); err != nil || code != 200 || u.ID != "3" {
		t.Fatalf("GET /users/3 after -ping = %+v, %d, %v", u, code, err)
	}
}

func TestUserService_BadCacheURL(t *testing.T) {
	err := run(context.Background(), []string{"-addr", "127.0.0.1:0", "-cache", "redis://h:6379?pool_size=x"}, func(string) string { return "" }, io.Discard, nil)
	if !errors.Is(err, cachet.ErrInvalidOption) || !strings.Contains(err.Error(), "pool_size") {
		t.Fatalf("run with a bad URL = %v; want an error wrapping ErrInvalidOption naming pool_size", err)
	}
}

// exercise drives a running service with concurrent requests and checks
// what it answers, what it asks the repository and what /stats reports.
func exercise(t *testing.T, s *service) {
	repo := s.svc.Repo()
	var sentGets, sentBatches, sentPuts int64

	// A cold burst: 10 callers for each of 20 ids, all at once. The
	// repository is read once per id.
	const ids, callers = 20, 10
	err := parallel(ids*callers, func(i int) error {
		id := strconv.Itoa(1 + i%ids)
		u, code, err := s.user(id)
		if err != nil || code != 200 || u.ID != id || u.Version != 1 {
			return fmt.Errorf("GET /users/%s = %+v, %d, %v", id, u, code, err)
		}
		return nil
	})
	sentGets += ids * callers
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= ids; i++ {
		if n := repo.Loads(strconv.Itoa(i)); n != 1 {
			t.Errorf("cold burst: id %d read %d times from the repository; want 1", i, n)
		}
	}
	if st := s.stats(t); st.Repo.Calls != ids || st.Requests.Get != sentGets || st.Cache.Misses < ids {
		t.Errorf("after the cold burst /stats = %+v; want %d repository calls, %d GET requests, at least %d misses", st, ids, sentGets, ids)
	}

	// Warm reads are hits: exactly one per request, no miss, no load.
	before := s.stats(t)
	for i := 1; i <= ids; i++ {
		if u, code, err := s.user(strconv.Itoa(i)); err != nil || code != 200 {
			t.Fatalf("warm GET /users/%d = %+v, %d, %v", i, u, code, err)
		}
	}
	sentGets += ids
	after := s.stats(t)
	if d := after.Cache.Hits - before.Cache.Hits; d != ids {
		t.Errorf("warm reads: %d hits; want %d", d, ids)
	}
	if d := after.Cache.Misses - before.Cache.Misses; d != 0 {
		t.Errorf("warm reads: %d misses; want 0", d)
	}
	if after.Repo != before.Repo {
		t.Errorf("warm reads: repository %+v -> %+v; want no call", before.Repo, after.Repo)
	}

	// An unknown id is a 404, remembered: the repository is asked once.
	for range 3 {
		if _, code, err := s.user("99999"); err != nil || code != 404 {
			t.Fatalf("GET /users/99999 = %d, %v; want 404", code, err)
		}
	}
	sentGets += 3
	if n := repo.Loads("99999"); n != 1 {
		t.Errorf("unknown id read %d times; want 1 (negative caching)", n)
	}

	// Overlapping cold batches, at once: each id is read once, in as few
	// queries as the overlaps allow.
	const batches = 8
	err = parallel(batches, func(i int) error {
		var q []string
		for k := 0; k < 10; k++ {
			q = append(q, strconv.Itoa(101+(i*5+k)%40)) // ids 101..140, overlapping
		}
		q = append(q, "1", "99998") // a cached id and an unknown one
		var b users.Batch
		code, err := s.do("GET", "/users?ids="+strings.Join(q, ","), nil, &b)
		if err != nil || code != 200 {
			return fmt.Errorf("batch %v = %d, %v", q, code, err)
		}
		if len(b.Users) != len(q)-1 || len(b.Missing) != 1 || b.Missing[0] != "99998" {
			return fmt.Errorf("batch %v = %+v; want every id but 99998", q, b)
		}
		for k, u := range b.Users {
			if u.ID != q[k] {
				return fmt.Errorf("batch %v: user %d is %q; want %q (the order asked)", q, k, u.ID, q[k])
			}
		}
		return nil
	})
	sentBatches += batches
	if err != nil {
		t.Fatal(err)
	}
	for i := 101; i <= 140; i++ {
		if n := repo.Loads(strconv.Itoa(i)); n != 1 {
			t.Errorf("cold batches: id %d read %d times; want 1", i, n)
		}
	}
	if n := repo.Loads("1"); n != 1 {
		t.Errorf("id 1, cached, read %d times by batches; want 1 in all", n)
	}
	before = s.stats(t)
	var b users.Batch
	if code, err := s.do("GET", "/users?ids=101,102,99998", nil, &b); err != nil || code != 200 || len(b.Users) != 2 {
		t.Fatalf("warm batch = %+v, %d, %v", b, code, err)
	}
	sentBatches++
	if after := s.stats(t); after.Repo != before.Repo {
		t.Errorf("warm batch (99998 negative-cached): repository %+v -> %+v; want no call", before.Repo, after.Repo)
	}

	noStaleReads(t, s, &sentGets, &sentBatches, &sentPuts)

	st := s.stats(t)
	if st.Requests.Get != sentGets || st.Requests.Batch != sentBatches || st.Requests.Put != sentPuts {
		t.Errorf("/stats requests = %+v; want get %d, batch %d, put %d", st.Requests, sentGets, sentBatches, sentPuts)
	}
	if st.Repo.Writes != sentPuts {
		t.Errorf("/stats repo writes = %d; want %d", st.Repo.Writes, sentPuts)
	}
	if total := st.Cache.Hits + st.Cache.Misses; total == 0 || st.Cache.Ratio != float64(st.Cache.Hits)/float64(total) {
		t.Errorf("/stats cache = %+v; want ratio hits/(hits+misses)", st.Cache)
	}
	if tm := st.Timing["get"]; tm.Count == 0 || tm.MaxUS <= 0 {
		t.Errorf("/stats timing get = %+v; want calls and a duration", tm)
	}

	// /metrics (the ExpvarRecorder) saw the same calls as HitMissRatio,
	// which counts memoized calls (and not the store reads inside them).
	var m map[string]struct{ Calls, Errors, Hits, Misses int64 }
	if code, err := s.do("GET", "/metrics", nil, &m); err != nil || code != 200 {
		t.Fatalf("GET /metrics = %d, %v", code, err)
	}
	if h := m["memoize"].Hits + m["memoize_many"].Hits; h != st.Cache.Hits {
		t.Errorf("/metrics memoize+memoize_many hits = %d; /stats hits = %d", h, st.Cache.Hits)
	}
	if miss := m["memoize"].Misses + m["memoize_many"].Misses; miss != st.Cache.Misses {
		t.Errorf("/metrics memoize+memoize_many misses = %d; /stats misses = %d", miss, st.Cache.Misses)
	}
	if m["set"].Calls < sentPuts {
		t.Errorf("/metrics set calls = %d; want at least one per PUT (%d)", m["set"].Calls, sentPuts)
	}
}

// noStaleReads updates cold ids while readers (single and batch) hammer
// them, so that loads overlap updates: a read that starts after an update
// has answered must see that update or a later one.
func noStaleReads(t *testing.T, s *service, sentGets, sentBatches, sentPuts *int64) {
	const rounds, updates, readers = 6, 4, 8
	var gets, batches atomic.Int64
	for r := range rounds {
		id := strconv.Itoa(201 + r) // cold: its first reads load it
		var committed atomic.Int64  // version of the last update answered
		committed.Store(1)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		errc := make(chan error, readers)
		for k := range readers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					want := committed.Load()
					var got users.User
					if k%2 == 0 {
						u, code, err := s.user(id)
						gets.Add(1)
						if err != nil || code != 200 {
							errc <- fmt.Errorf("GET /users/%s = %d, %v", id, code, err)
							return
						}
						got = u
					} else {
						var b users.Batch
						code, err := s.do("GET", "/users?ids="+id, nil, &b)
						batches.Add(1)
						if err != nil || code != 200 || len(b.Users) != 1 {
							errc <- fmt.Errorf("GET /users?ids=%s = %+v, %d, %v", id, b, code, err)
							return
						}
						got = b.Users[0]
					}
					if int64(got.Version) < want {
						errc <- fmt.Errorf("stale read of %s: version %d (%q) after update to version %d had answered", id, got.Version, got.Name, want)
						return
					}
				}
			}()
		}
		for v := range updates {
			var u users.User
			in := users.User{Name: fmt.Sprintf("round %d update %d", r, v), Email: "x@example.com"}
			code, err := s.do("PUT", "/users/"+id, in, &u)
			*sentPuts++
			if err != nil || code != 200 || u.Name != in.Name {
				t.Fatalf("PUT /users/%s = %+v, %d, %v", id, u, code, err)
			}
			committed.Store(int64(u.Version))
		}
		close(stop)
		wg.Wait()
		close(errc)
		for err := range errc {
			t.Error(err)
		}
		if u, _, err := s.user(id); err != nil || int64(u.Version) != committed.Load() {
			t.Errorf("after the updates GET /users/%s = %+v, %v; want version %d", id, u, err, committed.Load())
		}
		*sentGets++
	}
	*sentGets += gets.Load()
	*sentBatches += batches.Load()
}

// TestUserService_GracefulShutdown cancels run's context while a request
// waits for the slow repository: the request is answered, run returns
// nil, and the cache is closed.
func TestUserService_GracefulShutdown(t *testing.T) {
	s := start(t, []string{"-latency", "300ms"}, nil)
	repo := s.svc.Repo()
	type result struct {
		u    users.User
		code int
		err  error
	}
	res := make(chan result, 1)
	go func() {
		u, code, err := s.user("5")
		res <- result{u, code, err}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for repo.Stats().Calls == 0 { // wait for the request to reach the repository
		if time.Now().After(deadline) {
			t.Fatal("the request never reached the repository")
		}
		time.Sleep(time.Millisecond)
	}
	if err := s.stop(); err != nil {
		t.Fatalf("run after cancel = %v; want nil", err)
	}
	r := <-res
	if r.err != nil || r.code != 200 || r.u.ID != "5" {
		t.Fatalf("request under way at shutdown = %+v, %d, %v; want user 5", r.u, r.code, r.err)
	}
	if _, err := s.svc.Cache().Get(context.Background(), "5"); !errors.Is(err, cachet.ErrClosed) {
		t.Fatalf("Get after shutdown = %v; want ErrClosed", err)
	}
	if _, err := http.Get(s.base + "/stats"); err == nil {
		t.Fatal("GET /stats after shutdown succeeded; want a refused connection")
	}
}
