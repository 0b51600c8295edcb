package cachet_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachet-go/cachet"
	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/memstore"
)

// timedStore is a store that is not in-process (it hides memstore's
// InProcess and Unwrap) and says it bounds each round trip by rtt
// (store.SelfTimed); it records whether its Get saw a deadline.
type timedStore struct {
	store.Store
	rtt      time.Duration
	deadline atomic.Bool
	at       atomic.Int64 // the deadline the last Get saw, in Unix nanoseconds
}

func (s *timedStore) RoundTripTimeout() time.Duration { return s.rtt }

func (s *timedStore) Get(ctx context.Context, key string) ([]byte, error) {
	dl, ok := ctx.Deadline()
	s.deadline.Store(ok)
	s.at.Store(dl.UnixNano())
	return s.Store.Get(ctx, key)
}

// TestCache_SelfTimedSkipsTimeout: the Cache adds no timeout context to a
// call without a deadline over a store whose own round-trip bound is no
// longer than Options.Timeout, and still bounds one whose bound is longer;
// a caller's own deadline always reaches the store, capped by the Cache's
// Timeout when it is later.
func TestCache_SelfTimedSkipsTimeout(t *testing.T) {
	for _, tc := range []struct {
		name    string
		rtt     time.Duration
		timeout time.Duration
		want    bool // the store sees a deadline
	}{
		{"shorter than the default 5s", 500 * time.Millisecond, 0, false},
		{"equal", 2 * time.Second, 2 * time.Second, false},
		{"longer", 10 * time.Second, 0, true},
		{"longer than a short Timeout", time.Second, 100 * time.Millisecond, true},
		{"timeout disabled", 10 * time.Second, -1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ms, err := memstore.New(nil)
			if err != nil {
				t.Fatal(err)
			}
			s := &timedStore{Store: ms, rtt: tc.rtt}
			c := cachet.Must(cachet.New[string](s, codec.String(), &cachet.Options[string]{Timeout: tc.timeout}))
			defer c.Close()
			ctx := context.Background()
			if err := c.Set(ctx, "k", "v"); err != nil {
				t.Fatal(err)
			}
			if v, err := c.Get(ctx, "k"); err != nil || v != "v" {
				t.Fatalf("Get = %q, %v; want \"v\"", v, err)
			}
			if got := s.deadline.Load(); got != tc.want {
				t.Errorf("store saw a deadline: %v; want %v", got, tc.want)
			}
			dctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			if _, err := c.Get(dctx, "k"); err != nil {
				t.Fatal(err)
			}
			if !s.deadline.Load() {
				t.Error("the caller's own deadline did not reach the store")
			}
			// A minute is later than every Timeout here: the Cache caps it.
			if tc.timeout >= 0 {
				timeout := tc.timeout
				if timeout == 0 {
					timeout = cachet.DefaultTimeout
				}
				if left := time.Until(time.Unix(0, s.at.Load())); left > timeout {
					t.Errorf("a caller's deadline a minute away reached the store %v away; want the Cache's Timeout %v", left, timeout)
				}
			}
		})
	}
}
