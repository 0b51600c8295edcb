package redisstore_test

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/cachet-go/cachet/internal/testserver"
	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/redisstore"
	_ "github.com/cachet-go/cachet/store/redisstore/redisurl"
	"github.com/cachet-go/cachet/store/storeurl"
)

// TestOpen_SocketTimeoutsFollowTheDeadline: with the socket timeouts left
// unset, an operation on a hung server runs until its context's deadline,
// even one later than go-redis' own 5s socket default (a cache Timeout of
// 7s must not be cut at 5s by a read timeout, which would also make
// go-redis resend the command); a context without a deadline gets
// Options.ContextTimeout.
func TestOpen_SocketTimeoutsFollowTheDeadline(t *testing.T) {
	t.Parallel()
	srv := testserver.Redis(t)
	s := openStore(t, &redisstore.Options{Addrs: []string{srv.Addr}, ContextTimeout: 400 * time.Millisecond})
	pu, err := storeurl.Parse("redis://" + srv.Addr + "/0")
	if err != nil {
		t.Fatal(err)
	}
	u, err := pu.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	ctx := context.Background()
	for name, st := range map[string]store.Store{"Open": s, "URL": u} {
		if err := st.Set(ctx, "k", []byte("v"), 0); err != nil {
			t.Fatalf("%s: Set: %v", name, err)
		}
	}
	if err := srv.Pause(); err != nil {
		t.Fatal(err)
	}
	defer srv.Resume()

	start := time.Now()
	_, err = s.Get(ctx, "k")
	if took := time.Since(start); !isDeadline(err) || took < 350*time.Millisecond || took > 3*time.Second {
		t.Errorf("Get without a deadline: got %v after %v; want DeadlineExceeded after ContextTimeout (400ms)", err, took)
	}

	const later = 6500 * time.Millisecond // beyond go-redis' 5s socket default
	var wg sync.WaitGroup
	for name, st := range map[string]store.Store{"Open": s, "URL": u} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), later)
			defer cancel()
			start := time.Now()
			_, err := st.Get(ctx, "k")
			if took := time.Since(start); !isDeadline(err) || took < later-200*time.Millisecond {
				t.Errorf("%s: Get with a %v deadline: got %v after %v; want DeadlineExceeded at the deadline", name, later, err, took)
			}
		}()
	}
	wg.Wait()
}

// isDeadline reports whether err is a deadline's: the context's, or the
// socket deadline go-redis sets from it (an i/o timeout), which is what a
// batched round trip reports when the deadline passes during its read.
func isDeadline(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded)
}

// lateCtx has a deadline already past but, like a context whose timer has
// not fired yet, reports no error and no Done channel.
type lateCtx struct{ context.Context }

func (lateCtx) Deadline() (time.Time, bool) { return time.Now().Add(-time.Millisecond), true }

// TestStore_DeadlinePassedBeforeContextTimer: a socket timeout at the
// context's deadline, seen before the context's own timer fires, still
// matches context.DeadlineExceeded (TestCache_LockLeaseExpiry/cluster
// flaked on it under load).
func TestStore_DeadlinePassedBeforeContextTimer(t *testing.T) {
	s := openStore(t, &redisstore.Options{Addrs: []string{sharedRedis(t).Addr}})
	_, err := s.Get(lateCtx{context.Background()}, "late")
	if err == nil {
		t.Fatal("Get with a past deadline: no error")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Get with a past deadline: got %v; want errors.Is context.DeadlineExceeded", err)
	}
}
