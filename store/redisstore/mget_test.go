package redisstore_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/cachet-go/cachet/store/redisstore"
)

// argHook records the String of every MGET the client sends.
type argHook struct {
	mu    sync.Mutex
	mgets []string
}

func (h *argHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *argHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() == "mget" {
			h.mu.Lock()
			h.mgets = append(h.mgets, cmd.String())
			h.mu.Unlock()
		}
		return next(ctx, cmd)
	}
}

func (h *argHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// TestStore_GetManyKeysByReference: GetMany on one server passes its keys
// to go-redis by reference (no copy per key); keys that need every byte
// (CR LF, NUL, UTF-8, a long one) still reach the server intact, the
// values come back in key order, and a hook that prints the command sees
// the keys, not pointers.
func TestStore_GetManyKeysByReference(t *testing.T) {
	srv := sharedRedis(t)
	s := openStore(t, &redisstore.Options{Addrs: []string{srv.Addr}})
	var hook argHook
	s.Client().AddHook(&hook)
	ctx := context.Background()
	keys := []string{"plain", "crlf\r\n*1\r\n", "nul\x00key", "ключ", strings.Repeat("long", 300), "missing"}
	for _, k := range keys[:len(keys)-1] {
		if err := s.Set(ctx, k, []byte("v:"+k), 0); err != nil {
			t.Fatal(err)
		}
	}
	vals, err := s.GetMany(ctx, keys)
	if err != nil {
		t.Fatal(err)
	}
	for i, k := range keys[:len(keys)-1] {
		if string(vals[i]) != "v:"+k {
			t.Errorf("GetMany slot %d (%q) = %q; want %q", i, k, vals[i], "v:"+k)
		}
	}
	if vals[len(keys)-1] != nil {
		t.Errorf("GetMany of a missing key = %q; want nil", vals[len(keys)-1])
	}
	hook.mu.Lock()
	defer hook.mu.Unlock()
	if len(hook.mgets) != 1 {
		t.Fatalf("hook saw %d MGETs; want 1", len(hook.mgets))
	}
	if got := hook.mgets[0]; !strings.HasPrefix(got, "mget plain crlf") || strings.Contains(got, "0xc") {
		t.Errorf("hook printed the MGET as %q; want its keys", got)
	}
}

// TestStore_GetManyAllocations: passing the keys by reference saves MGET
// one allocation per key. go-redis still allocates two per value it reads
// (the bulk string and its boxing), so a GetMany of n values costs about
// 2n; with one more per key for the arguments it would cost about 3n.
func TestStore_GetManyAllocations(t *testing.T) {
	srv := sharedRedis(t)
	s := openStore(t, &redisstore.Options{Addrs: []string{srv.Addr}, Batch: redisstore.BatchOptions{Disabled: true}})
	ctx := context.Background()
	const n = 100
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("alloc:%d", i)
		if err := s.Set(ctx, keys[i], []byte("v"), 0); err != nil {
			t.Fatal(err)
		}
	}
	allocs := testing.AllocsPerRun(20, func() {
		if vals, err := s.GetMany(ctx, keys); err != nil || len(vals) != n || vals[n-1] == nil {
			t.Fatalf("GetMany = %d values, %v", len(vals), err)
		}
	})
	t.Logf("GetMany of %d keys: %.0f allocations", n, allocs)
	if allocs > 2.5*n {
		t.Errorf("GetMany of %d keys made %.0f allocations; want at most %d (no copy per key)", n, allocs, int(2.5*n))
	}
}
