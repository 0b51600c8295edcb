package redisstore_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachet-go/cachet/internal/testserver"
	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/redisstore"
)

// TestStore_NoResendAfterStall stalls the server (SIGSTOP) for longer than
// the socket read timeout but shorter than the operations' deadlines, so
// that the first read of every command times out while the command sits
// unanswered in the server's socket buffer. A non-idempotent command must
// not be sent again: when the server resumes it would run both copies, and
// Increment(+1) would move the counter by 2, an Add would report
// ErrExists for its own write, a Delete or CompareAndDelete would report
// that it removed nothing. Each operation may fail (its outcome is
// unknown); none may lie, and each must have taken effect exactly once.
func TestStore_NoResendAfterStall(t *testing.T) {
	srv := testserver.Redis(t)
	s := openStore(t, &redisstore.Options{Addrs: []string{srv.Addr}, ReadTimeout: time.Second})
	ctx := context.Background()
	// Every command below must go out on a connection that is already
	// open and initialised, as in a running application (a connection
	// dialled during the stall would fail its handshake before sending
	// anything): four blocking BLPOPs at once make the pool hold four.
	var warm sync.WaitGroup
	for range 4 {
		warm.Add(1)
		go func() {
			defer warm.Done()
			if err := s.Client().Do(ctx, "blpop", "nolist", "0.1").Err(); err != nil && err != redis.Nil {
				t.Error(err)
			}
		}()
	}
	warm.Wait()
	if _, err := s.Increment(ctx, "ctr", 1); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"del", "cad"} {
		if err := s.Set(ctx, k, []byte("tok"), 0); err != nil {
			t.Fatal(err)
		}
	}
	// Load the compare-and-delete script, so that its EVALSHA runs (not
	// NOSCRIPT) when the server resumes.
	if ok, err := s.CompareAndDelete(ctx, "cad", []byte("other")); err != nil || ok {
		t.Fatalf("CompareAndDelete of another value = %v, %v; want false, nil", ok, err)
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
		wg             sync.WaitGroup
		incN, delN     int64
		incErr, addErr error
		delErr, cadErr error
		cadOK          bool
	)
	wg.Add(4)
	go func() {
		defer wg.Done()
		incN, incErr = s.Increment(opCtx, "ctr", 1)
	}()
	go func() { defer wg.Done(); addErr = s.Add(opCtx, "add", []byte("mine"), 0) }()
	go func() {
		defer wg.Done()
		n, err := s.Delete(opCtx, "del")
		delN, delErr = int64(n), err
	}()
	go func() { defer wg.Done(); cadOK, cadErr = s.CompareAndDelete(opCtx, "cad", []byte("tok")) }()

	// The stall itself: longer than the 1s read timeout plus go-redis'
	// retry backoff, shorter than the 5s deadline.
	time.Sleep(1600 * time.Millisecond)
	if err := srv.Resume(); err != nil {
		t.Fatal(err)
	}
	resumed = true
	wg.Wait()

	if incErr == nil && incN != 2 {
		t.Errorf("Increment(+1) after 1 = %d, nil; want 2 or an error", incN)
	}
	if errors.Is(addErr, store.ErrExists) {
		t.Errorf("Add of an absent key = %v; want nil or a timeout (it reported its own write as a conflict)", addErr)
	}
	if delErr == nil && delN != 1 {
		t.Errorf("Delete of an existing key = %d, nil; want 1 or an error", delN)
	}
	if cadErr == nil && !cadOK {
		t.Errorf("CompareAndDelete of the matching value = false, nil; want true or an error")
	}
	t.Logf("increment: %d, %v; add: %v; delete: %d, %v; compare_and_delete: %v, %v",
		incN, incErr, addErr, delN, delErr, cadOK, cadErr)

	// Every command ran exactly once, whatever its caller was told.
	if n, err := s.Increment(ctx, "ctr", 0); err != nil || n != 2 {
		t.Errorf("counter after one Increment(+1) from 1 = %d, %v; want 2", n, err)
	}
	if v, err := s.Get(ctx, "add"); err != nil || string(v) != "mine" {
		t.Errorf("Get(add) = %q, %v; want \"mine\"", v, err)
	}
	for _, k := range []string{"del", "cad"} {
		if ok, err := s.Exists(ctx, k); err != nil || ok {
			t.Errorf("Exists(%s) = %v, %v; want false, nil", k, ok, err)
		}
	}
}
