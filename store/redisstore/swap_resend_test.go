package redisstore_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachet-go/cachet/internal/testserver"
	"github.com/cachet-go/cachet/store/redisstore"
)

// TestStore_SwapNoResendAfterStall is TestStore_NoResendAfterStall for
// IncrementFloat and CompareAndSwap: the server stalls past the read
// timeout with both commands unanswered in its socket buffer. Sent twice,
// IncrementFloat(0.5) would add 1, and the second CompareAndSwap would
// find its own write and report a conflict, so that the caller would
// apply its update again.
func TestStore_SwapNoResendAfterStall(t *testing.T) {
	srv := testserver.Redis(t)
	s := openStore(t, &redisstore.Options{Addrs: []string{srv.Addr}, ReadTimeout: time.Second})
	ctx := context.Background()
	var warm sync.WaitGroup
	for range 2 {
		warm.Add(1)
		go func() {
			defer warm.Done()
			if err := s.Client().Do(ctx, "blpop", "nolist", "0.1").Err(); err != nil && err != redis.Nil {
				t.Error(err)
			}
		}()
	}
	warm.Wait()
	if _, err := s.IncrementFloat(ctx, "f", 1); err != nil {
		t.Fatal(err)
	}
	if err := s.Set(ctx, "cas", []byte("v1"), 0); err != nil {
		t.Fatal(err)
	}
	_, ver, err := s.GetVersion(ctx, "cas")
	if err != nil {
		t.Fatal(err)
	}
	// Load the script, so that its EVALSHA runs when the server resumes.
	if ok, err := s.CompareAndSwap(ctx, "cas", []byte("other"), []byte("x"), 0); err != nil || ok {
		t.Fatalf("CompareAndSwap with another version = %v, %v; want false, nil", ok, err)
	}

	if err := srv.Pause(); err != nil {
		t.Fatal(err)
	}
	resumed := false
	defer func() {
		if !resumed {
			srv.Resume()
		}
	}()
	opCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var (
		wg            sync.WaitGroup
		sum           float64
		incErr, casEr error
		casOK         bool
	)
	wg.Add(2)
	go func() { defer wg.Done(); sum, incErr = s.IncrementFloat(opCtx, "f", 0.5) }()
	go func() { defer wg.Done(); casOK, casEr = s.CompareAndSwap(opCtx, "cas", ver, []byte("v2"), 0) }()
	// Longer than the 1s read timeout plus go-redis' retry backoff,
	// shorter than the 5s deadline.
	time.Sleep(1600 * time.Millisecond)
	if err := srv.Resume(); err != nil {
		t.Fatal(err)
	}
	resumed = true
	wg.Wait()
	t.Logf("increment_float: %v, %v; compare_and_swap: %v, %v", sum, incErr, casOK, casEr)

	if incErr == nil && sum != 1.5 {
		t.Errorf("IncrementFloat(0.5) after 1 = %v, nil; want 1.5 or an error", sum)
	}
	if casEr == nil && !casOK {
		t.Errorf("CompareAndSwap of an unchanged key = false, nil; want true or an error (it saw its own write as a conflict)")
	}
	if v, err := s.Get(ctx, "f"); err != nil || string(v) != "1.5" {
		t.Errorf("Get(f) after one IncrementFloat(0.5) from 1 = %q, %v; want \"1.5\"", v, err)
	}
	if v, err := s.Get(ctx, "cas"); err != nil || string(v) != "v2" {
		t.Errorf("Get(cas) = %q, %v; want \"v2\"", v, err)
	}
}
