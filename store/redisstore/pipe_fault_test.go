package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachet-go/cachet/internal/testserver"
	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/redisstore"
)

// TestPipeFault_KillStorm: while another client kills the store's
// pipelined connections again and again (CLIENT KILL TYPE normal), 8
// goroutines Get and Set their keys over two pipelined connections. A
// resent Get must never be answered with another request's reply: every
// successful Get returns its own key's value, a stored key never reads as
// missing, and a failed Set never leaves another key's value behind.
// Once the kills stop, every Get succeeds again.
func TestPipeFault_KillStorm(t *testing.T) {
	srv := testserver.Redis(t)
	s := openPipe(t, &redisstore.Options{Addrs: []string{srv.Addr}, Batch: redisstore.BatchOptions{Conns: 2}})
	ctx := context.Background()
	const nkeys = 32
	for i := range nkeys {
		if err := s.Set(ctx, fmt.Sprint("k", i), []byte(fmt.Sprint("v", i)), 0); err != nil {
			t.Fatal(err)
		}
	}
	var stop atomic.Bool
	var killer sync.WaitGroup
	killer.Add(1)
	kills := 0
	go func() {
		defer killer.Done()
		for !stop.Load() {
			if _, err := testserver.RedisCommand(srv.Addr, "CLIENT", "KILL", "TYPE", "normal"); err == nil {
				kills++
			}
			time.Sleep(3 * time.Millisecond) // pacing the kills, not synchronising
		}
	}()
	var failed, ok atomic.Int64
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 400 {
				i := (g*7 + j) % nkeys
				k, want := fmt.Sprint("k", i), fmt.Sprint("v", i)
				if j%5 == 0 {
					// Set the same value again: any interleaving leaves it.
					if err := s.Set(ctx, k, []byte(want), 0); err != nil {
						failed.Add(1)
					}
					continue
				}
				v, err := s.Get(ctx, k)
				switch {
				case err == nil:
					ok.Add(1)
					if string(v) != want {
						t.Errorf("Get(%s) during CLIENT KILLs = %q; want %q (another request's reply)", k, v, want)
						return
					}
				case errors.Is(err, store.ErrNotFound):
					t.Errorf("Get(%s) during CLIENT KILLs = ErrNotFound; the key is stored", k)
					return
				default:
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	stop.Store(true)
	killer.Wait()
	t.Logf("%d kills; %d Gets ok, %d operations failed", kills, ok.Load(), failed.Load())
	for i := range nkeys {
		k := fmt.Sprint("k", i)
		var v []byte
		var err error
		for range 3 { // the first Get after the last kill may meet a connection closed under it
			if v, err = s.Get(ctx, k); err == nil {
				break
			}
		}
		if err != nil || string(v) != fmt.Sprint("v", i) {
			t.Errorf("Get(%s) after the kills = %q, %v; want %q", k, v, err, fmt.Sprint("v", i))
		}
	}
}
