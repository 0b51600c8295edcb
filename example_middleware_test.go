package cachet_test

import (
	"context"
	"errors"
	"expvar"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/cachet-go/cachet"
	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/memstore"
)

// Adding hit/miss and timing statistics to a cache.
func Example_stats() {
	var hits cachet.HitMissRatio
	var timing cachet.Timing
	users, err := cachet.New[string](memstore.Must(nil), codec.String(), &cachet.Options[string]{
		Namespace:  "users",
		Middleware: []cachet.Middleware{cachet.WithPlugins(&hits, &timing)},
	})
	if err != nil {
		panic(err)
	}
	defer users.Close()

	ctx := context.Background()
	users.Set(ctx, "42", "Ada")
	users.Get(ctx, "42")                         // hit
	users.Get(ctx, "7")                          // miss
	users.GetMany(ctx, []string{"42", "1", "2"}) // one hit, two misses

	st := hits.Stats()
	fmt.Printf("reads %d, hits %d, misses %d, ratio %.2f\n", st.Total, st.Hits, st.Misses, st.Ratio)
	get := timing.Stats(cachet.OpGet)
	fmt.Println("gets:", get.Count, "min <= avg <= max:", get.Min <= get.Avg && get.Avg <= get.Max)
	// Output:
	// reads 5, hits 2, misses 3, ratio 0.40
	// gets: 2 min <= avg <= max: true
}

// limitSize is a middleware's store: it embeds store.Wrapper, the
// forwarding base (every method forwards to the wrapped store, and Unwrap
// returns it), and overrides only Set. (A complete one would check Add and
// SetMany too.)
type limitSize struct {
	store.Wrapper
	max int
}

func (l limitSize) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if len(value) > l.max {
		return store.Errorf(store.OpSet.String(), key, fmt.Errorf("%w: %d bytes, limit %d", store.ErrInvalidValue, len(value), l.max))
	}
	return l.Store.Set(ctx, key, value, ttl)
}

// LimitSize returns a middleware that refuses values larger than max bytes.
func LimitSize(max int) cachet.Middleware {
	return func(s store.Store) store.Store { return limitSize{store.Wrapper{Store: s}, max} }
}

// Writing your own middleware.
func Example_writingMiddleware() {
	s := cachet.Chain(cachet.Timeout(time.Second), LimitSize(4))(memstore.Must(nil))
	defer s.Close()

	ctx := context.Background()
	fmt.Println(s.Set(ctx, "small", []byte("1234"), 0))
	err := s.Set(ctx, "big", []byte("12345"), 0)
	fmt.Println(errors.Is(err, store.ErrInvalidValue), err)
	// The backend stays reachable through the wrappers.
	_, ok := store.As[*memstore.Store](s)
	fmt.Println("memstore reachable:", ok)
	// Output:
	// <nil>
	// true cachet: set "big": store: invalid value: 5 bytes, limit 4
	// memstore reachable: true
}

// A plugin that needs only the After hook.
func ExampleAfterFunc() {
	failures := cachet.AfterFunc(func(ctx context.Context, c cachet.Call) {
		if c.Failed() {
			fmt.Printf("%v %q failed, not an integer: %v\n", c.Op, c.Key, errors.Is(c.Err, store.ErrNotInteger))
		}
	})
	s := cachet.WithPlugins(failures)(memstore.Must(nil))
	defer s.Close()
	ctx := context.Background()
	s.Set(ctx, "n", []byte("not a number"), 0)
	s.Increment(ctx, "n", 1)
	s.Get(ctx, "missing") // a miss is not a failure
	// Output:
	// increment "n" failed, not an integer: true
}

// Logging with log/slog. Keys are redacted unless ShowKeys is set.
func ExampleLogging() {
	h := slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == "duration" {
				return slog.Attr{} // keep the output stable
			}
			return a
		},
	})
	s := cachet.Logging(slog.New(h), nil)(memstore.Must(nil))
	defer s.Close()
	ctx := context.Background()
	s.Set(ctx, "user:42", []byte("Ada"), time.Minute)
	s.Get(ctx, "user:42")
	// Output:
	// level=DEBUG msg="cachet set" op=set key=[redacted] ttl=1m0s
	// level=DEBUG msg="cachet get" op=get key=[redacted] hits=1 misses=0
}

// Reads that fail become misses, so a cache outage costs speed, not
// correctness; writes still fail.
func ExampleFailOpen() {
	mem := memstore.Must(nil)
	s := cachet.FailOpen(func(op cachet.Op, key string, err error) {
		fmt.Printf("reported: %v %q: %v\n", op, key, errors.Is(err, store.ErrClosed))
	})(mem)

	ctx := context.Background()
	mem.Close() // the backend fails beneath the middleware
	_, err := s.Get(ctx, "k")
	fmt.Println("get is a miss:", errors.Is(err, store.ErrNotFound))
	err = s.Set(ctx, "k", []byte("v"), 0)
	fmt.Println("set fails:", errors.Is(err, store.ErrClosed))
	// Output:
	// reported: get "k": true
	// get is a miss: true
	// set fails: true
}

// Publishing operation counters on /debug/vars with expvar.
func ExampleExpvarRecorder() {
	var rec cachet.ExpvarRecorder
	expvar.Publish("cache", &rec) // served by the expvar handler on /debug/vars
	s := cachet.Metrics(&rec)(memstore.Must(nil))
	defer s.Close()

	ctx := context.Background()
	s.Set(ctx, "a", []byte("1"), 0)
	s.GetMany(ctx, []string{"a", "b"})
	st := rec.Stats(cachet.OpGetMany)
	fmt.Printf("get_many: calls %d, hits %d, misses %d, errors %d\n", st.Calls, st.Hits, st.Misses, st.Errors)
	// Output:
	// get_many: calls 1, hits 1, misses 1, errors 0
}
