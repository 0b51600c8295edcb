package caches_test

import (
	"bytes"
	"context"
	"errors"
	"expvar"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/cachet-go/cachet"
	"github.com/cachet-go/cachet/caches"
	"github.com/cachet-go/cachet/internal/testserver"
	_ "github.com/cachet-go/cachet/store/redisstore/redisurl"
	"github.com/cachet-go/cachet/store/storeurl"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestRegistry_MiddlewareByName(t *testing.T) {
	ctx := context.Background()
	var logs lockedBuffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	t.Cleanup(func() { slog.SetDefault(old) })

	port, err := testserver.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	dead := "redis://127.0.0.1:" + strconv.Itoa(port) + "?dial_timeout=100ms&max_retries=-1"
	r := new(caches.Registry)
	err = r.ConfigureJSON([]byte(`{
		"mw_users": {"store": "memory://", "namespace": "users", "middleware": ["logging", "expvar"]},
		"mw_down":  {"store": "` + dead + `", "timeout": "1s", "middleware": ["fail_open", "expvar"]}
	}`))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })

	c, err := caches.Alias[string, string](r, "mw_users")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Set(ctx, "ada", "Ada"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, "ada"); err != nil {
		t.Fatal(err)
	}
	rec, ok := expvar.Get(caches.ExpvarPrefix + "mw_users").(*cachet.ExpvarRecorder)
	if !ok {
		t.Fatalf("expvar %q = %v; want the alias' *cachet.ExpvarRecorder", caches.ExpvarPrefix+"mw_users", expvar.Get(caches.ExpvarPrefix+"mw_users"))
	}
	if st := rec.Stats(cachet.OpGet); st.Calls != 1 || st.Hits != 1 {
		t.Errorf("expvar recorder get = %+v; want 1 call, 1 hit", st)
	}
	if !strings.Contains(logs.String(), "users:ada") && !strings.Contains(logs.String(), "get") {
		t.Errorf("logging middleware wrote %q; want a line for the get", logs.String())
	}

	// fail_open over a store that cannot be reached: a read is a miss, the
	// expvar middleware inside it counts the failure.
	down, err := caches.Alias[string, string](r, "mw_down")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := down.Get(ctx, "k"); !errors.Is(err, cachet.ErrNotFound) {
		t.Errorf("Get through fail_open on an unreachable redis = %v; want ErrNotFound", err)
	}
	drec := expvar.Get(caches.ExpvarPrefix + "mw_down").(*cachet.ExpvarRecorder)
	if st := drec.Stats(cachet.OpGet); st.Calls != 1 || st.Errors != 1 {
		t.Errorf("expvar recorder of mw_down get = %+v; want 1 call, 1 error (seen inside fail_open, before it absorbs it)", st)
	}

	// An unknown name is refused when configuring, naming the option.
	err = r.Configure(map[string]caches.Config{"x": {Store: "memory://", Middleware: []string{"nosuch"}}})
	var oe *storeurl.OptionError
	if !errors.As(err, &oe) || oe.Option != "middleware" || !strings.Contains(err.Error(), "fail_open") {
		t.Errorf("unknown middleware = %v; want an OptionError for middleware listing the registered names", err)
	}

	// A registered one is used, with the alias' name.
	var got []string
	var mu sync.Mutex
	caches.RegisterMiddleware("test_named", func(alias string) (cachet.Middleware, error) {
		mu.Lock()
		got = append(got, alias)
		mu.Unlock()
		return cachet.Timeout(0), nil
	})
	r2, err := caches.NewRegistry(map[string]caches.Config{"named": {Store: "memory://", Middleware: []string{"test_named"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	if _, err := r2.Store("named"); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != "named" {
		t.Errorf("registered middleware called with %q; want [named]", got)
	}
}
