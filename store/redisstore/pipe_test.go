package redisstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachet-go/cachet/internal/testserver"
	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/redisstore"
)

// The pipelined connections (one server, Batch.Conns positive) carry every
// Get and Set of these tests; the conformance suite runs over them in
// TestStore_BatchStoretest/single-pipelined.

// openPipe opens a store whose every Get and Set, a lone caller's too,
// goes over its pipelined connections.
func openPipe(t *testing.T, opts *redisstore.Options) *redisstore.Store {
	t.Helper()
	if opts.Batch.Conns == 0 {
		opts.Batch.Conns = 1
	}
	s := openStore(t, opts)
	if !redisstore.Pipelined(s) {
		t.Fatal("store without pipelined connections")
	}
	redisstore.QueueAll(s)
	return s
}

// TestPipe_Concurrent: 64 goroutines write and read their own keys at
// once, over one and over two connections; every caller gets its own
// value, and a missing key its own ErrNotFound.
func TestPipe_Concurrent(t *testing.T) {
	for _, conns := range []int{1, 2} {
		t.Run(fmt.Sprint("conns=", conns), func(t *testing.T) {
			s := openPipe(t, &redisstore.Options{Addrs: []string{sharedRedis(t).Addr}, Batch: redisstore.BatchOptions{Conns: conns}})
			ctx := context.Background()
			var wg sync.WaitGroup
			for g := range 64 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range 50 {
						k := fmt.Sprintf("pc:%d:%d", g, i)
						v := bytes.Repeat([]byte{byte(g)}, i*37) // empty for i == 0
						if err := s.Set(ctx, k, v, time.Minute); err != nil {
							t.Errorf("Set(%s): %v", k, err)
							return
						}
						got, err := s.Get(ctx, k)
						if err != nil || !bytes.Equal(got, v) || got == nil {
							t.Errorf("Get(%s) = %d bytes, %v; want %d bytes", k, len(got), err, len(v))
							return
						}
						if _, err := s.Get(ctx, k+":missing"); !errors.Is(err, store.ErrNotFound) {
							t.Errorf("Get of a missing key: %v; want ErrNotFound", err)
							return
						}
					}
				}()
			}
			wg.Wait()
		})
	}
}

// TestPipe_WrongType: a Get of a key holding a list reports the server's
// WRONGTYPE error, not ErrNotFound, and the connection goes on serving.
func TestPipe_WrongType(t *testing.T) {
	s := openPipe(t, &redisstore.Options{Addrs: []string{sharedRedis(t).Addr}})
	ctx := context.Background()
	if err := s.Client().RPush(ctx, "list", "x").Err(); err != nil {
		t.Fatal(err)
	}
	_, err := s.Get(ctx, "list")
	if err == nil || errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get of a list = %v; want the WRONGTYPE error", err)
	}
	var rerr redis.Error
	if !errors.As(err, &rerr) {
		t.Errorf("Get of a list = %v; want a redis.Error", err)
	}
	if err := s.Set(ctx, "k", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get(ctx, "k"); err != nil || string(got) != "v" {
		t.Errorf("Get after the error = %q, %v; want \"v\"", got, err)
	}
}

// TestPipe_DB: the pipelined connection selects Options.DB.
func TestPipe_DB(t *testing.T) {
	srv := testserver.Redis(t)
	s := openPipe(t, &redisstore.Options{Addrs: []string{srv.Addr}, DB: 3})
	ctx := context.Background()
	if err := s.Set(ctx, "k", []byte("in3"), 0); err != nil {
		t.Fatal(err)
	}
	db0 := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer db0.Close()
	if n, err := db0.Exists(ctx, "k").Result(); err != nil || n != 0 {
		t.Errorf("EXISTS k in db 0 = %d, %v; want 0", n, err)
	}
	if v, err := s.Client().Get(ctx, "k").Result(); err != nil || v != "in3" {
		t.Errorf("GET k in db 3 through the client = %q, %v; want \"in3\"", v, err)
	}
}

// TestPipe_OwnDeadlines: on a paused server, a Get with a short deadline
// leaves at its deadline, and another caller's Get on the same connection,
// with a longer deadline, is not failed by it: it gets its value once the
// server answers again.
func TestPipe_OwnDeadlines(t *testing.T) {
	srv := testserver.Redis(t)
	s := openPipe(t, &redisstore.Options{Addrs: []string{srv.Addr}})
	ctx := context.Background()
	if err := s.Set(ctx, "k", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := testserver.RedisCommand(srv.Addr, "CLIENT", "PAUSE", "1500", "ALL"); err != nil {
		t.Fatalf("CLIENT PAUSE: %v", err)
	}
	long, cancelLong := context.WithTimeout(ctx, 10*time.Second)
	defer cancelLong()
	var (
		wg      sync.WaitGroup
		longV   []byte
		longErr error
	)
	wg.Add(1)
	go func() { defer wg.Done(); longV, longErr = s.Get(long, "k") }()
	for range 3 {
		short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		start := time.Now()
		_, err := s.Get(short, "k")
		took := time.Since(start)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) || took > time.Second {
			t.Errorf("Get with a 100ms deadline on a paused server = %v after %v; want DeadlineExceeded at its deadline", err, took)
		}
	}
	// A cancelled caller leaves at once too.
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { _, err := s.Get(cctx, "k"); done <- err }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Get = %v; want context.Canceled", err)
	}
	wg.Wait()
	if longErr != nil || string(longV) != "v" {
		t.Errorf("Get with a 10s deadline beside them = %q, %v; want \"v\", nil", longV, longErr)
	}
}

// TestPipe_Reconnect: the server closes the store's connections (CLIENT
// KILL); the store dials again, and Gets and Sets work.
func TestPipe_Reconnect(t *testing.T) {
	srv := testserver.Redis(t)
	s := openPipe(t, &redisstore.Options{Addrs: []string{srv.Addr}})
	ctx := context.Background()
	if err := s.Set(ctx, "k", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	for round := range 3 {
		if _, err := testserver.RedisCommand(srv.Addr, "CLIENT", "KILL", "TYPE", "normal"); err != nil {
			t.Fatalf("CLIENT KILL: %v", err)
		}
		// A Get written on the killed connection before its reader saw
		// the close fails there and is sent once more on a new
		// connection (GET is idempotent), so that no Get fails.
		got, err := s.Get(ctx, "k")
		if err != nil || string(got) != "v" {
			t.Fatalf("round %d: Get after CLIENT KILL = %q, %v; want \"v\"", round, got, err)
		}
	}
	if err := s.Set(ctx, "k2", []byte("w"), time.Minute); err != nil {
		t.Errorf("Set after reconnects: %v", err)
	}
}

// TestPipe_ServerDown: with the server stopped every Get fails with an
// error (never hangs, never ErrNotFound), and after a restart the same
// store works again.
func TestPipe_ServerDown(t *testing.T) {
	srv := testserver.Redis(t)
	s := openPipe(t, &redisstore.Options{Addrs: []string{srv.Addr}})
	ctx := context.Background()
	if err := s.Set(ctx, "k", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	for range 3 {
		opCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := s.Get(opCtx, "k")
		cancel()
		if err == nil || errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Get with the server down = %v; want a connection error", err)
		}
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := s.Set(ctx, "k", []byte("again"), 0); err != nil {
		t.Fatalf("Set after restart: %v", err)
	}
	if got, err := s.Get(ctx, "k"); err != nil || string(got) != "again" {
		t.Errorf("Get after restart = %q, %v", got, err)
	}
}

// TestPipe_CloseInFlight: Close ends Gets waiting on a paused server with
// ErrClosed, at once, whether they were written, queued or just starting.
func TestPipe_CloseInFlight(t *testing.T) {
	srv := testserver.Redis(t)
	s, err := redisstore.Open(&redisstore.Options{Addrs: []string{srv.Addr}})
	if err != nil {
		t.Fatal(err)
	}
	redisstore.QueueAll(s)
	ctx := context.Background()
	if err := s.Set(ctx, "k", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := testserver.RedisCommand(srv.Addr, "CLIENT", "PAUSE", "2000", "ALL"); err != nil {
		t.Fatalf("CLIENT PAUSE: %v", err)
	}
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			opCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			_, err := s.Get(opCtx, "k")
			errs <- err
		}()
	}
	start := time.Now()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for range 8 {
		if err := <-errs; !errors.Is(err, store.ErrClosed) {
			t.Errorf("Get cut short by Close = %v; want ErrClosed", err)
		}
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("Gets ended %v after Close; want at once", took)
	}
}

// TestPipe_NoResendAfterStall stalls the server (SIGSTOP) past the read
// timeout with a Set and a Get written on the pipelined connection: both
// fail (the connection is dropped), and neither is sent again: the
// server's command counts show one SET and one GET when it resumes.
func TestPipe_NoResendAfterStall(t *testing.T) {
	srv := testserver.Redis(t)
	s := openPipe(t, &redisstore.Options{Addrs: []string{srv.Addr}, ReadTimeout: 500 * time.Millisecond})
	ctx := context.Background()
	if err := s.Set(ctx, "k", []byte("v0"), 0); err != nil { // connects
		t.Fatal(err)
	}
	calls := func(cmd string) int {
		t.Helper()
		info, err := testserver.RedisCommand(srv.Addr, "INFO", "commandstats")
		if err != nil {
			t.Fatal(err)
		}
		var n int
		if i := bytes.Index([]byte(info), []byte("cmdstat_"+cmd+":calls=")); i >= 0 {
			fmt.Sscanf(info[i+len("cmdstat_"+cmd+":calls="):], "%d", &n)
		}
		return n
	}
	sets0, gets0 := calls("set"), calls("get")
	if err := srv.Pause(); err != nil {
		t.Fatal(err)
	}
	opCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var setErr, getErr error
	wg.Add(2)
	go func() { defer wg.Done(); setErr = s.Set(opCtx, "k", []byte("v1"), 0) }()
	go func() { defer wg.Done(); _, getErr = s.Get(opCtx, "k") }()
	wg.Wait() // both fail after the 500ms read timeout
	if setErr == nil || getErr == nil {
		t.Errorf("Set, Get on a stalled server past the read timeout = %v, %v; want errors", setErr, getErr)
	}
	if err := srv.Resume(); err != nil {
		t.Fatal(err)
	}
	// The server runs what the dropped connection had sent once it
	// resumes, in no fixed order with the new connection's commands.
	waitUntil := time.Now().Add(5 * time.Second)
	for calls("set")-sets0 < 1 && time.Now().Before(waitUntil) {
		time.Sleep(10 * time.Millisecond)
	}
	if got, err := s.Client().Get(ctx, "k").Result(); err != nil || got != "v1" {
		t.Errorf("GET after resume = %q, %v; want \"v1\" (the Set ran once)", got, err)
	}
	if sets, gets := calls("set")-sets0, calls("get")-gets0; sets != 1 || gets != 2 {
		t.Errorf("SET, GET calls since the stall = %d, %d; want 1, 2 (nothing resent)", sets, gets)
	}
}

// TestPipe_Which: a store on one server has pipelined connections only
// when Conns is positive and batching is on (by default it has none); a
// Cluster's never.
func TestPipe_Which(t *testing.T) {
	addr := sharedRedis(t).Addr
	for _, c := range []struct {
		name string
		o    redisstore.BatchOptions
		want bool
	}{
		{"default", redisstore.BatchOptions{}, false},
		{"conns=1", redisstore.BatchOptions{Conns: 1}, true},
		{"conns=-1", redisstore.BatchOptions{Conns: -1}, false},
		{"disabled", redisstore.BatchOptions{Disabled: true, Conns: 1}, false},
	} {
		if got := redisstore.Pipelined(openStore(t, &redisstore.Options{Addrs: []string{addr}, Batch: c.o})); got != c.want {
			t.Errorf("Open, %s: pipelined = %v; want %v", c.name, got, c.want)
		}
	}
	client := redis.NewClient(&redis.Options{Addr: addr})
	defer client.Close()
	for conns, want := range map[int]bool{0: false, 2: true} {
		s, err := redisstore.New(client, &redisstore.Options{Batch: redisstore.BatchOptions{Conns: conns}})
		if err != nil {
			t.Fatal(err)
		}
		if got := redisstore.Pipelined(s); got != want {
			t.Errorf("New, Conns %d: pipelined = %v; want %v", conns, got, want)
		}
		s.Close()
	}
	if _, err := redisstore.New(client, &redisstore.Options{Batch: redisstore.BatchOptions{Conns: -2}}); err == nil {
		t.Error("New with Conns -2: no error")
	}
	if redisstore.Pipelined(openStore(t, &redisstore.Options{Addrs: sharedCluster(t).Addrs(), Batch: redisstore.BatchOptions{Conns: 1}})) {
		t.Error("Cluster store: pipelined")
	}
}
