package cachet_test

import (
	"context"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cachet-go/cachet"
	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/internal/testserver"
	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/memstore"
	"github.com/cachet-go/cachet/store/storeurl"
)

// deadAddr returns a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	port, err := testserver.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return "127.0.0.1:" + strconv.Itoa(port)
}

func TestOpen_PingOption(t *testing.T) {
	tests := []struct {
		url  string
		want time.Duration
	}{
		{"memory://?ping=true", storeurl.DefaultPingTimeout},
		{"memory://?ping=TRUE", storeurl.DefaultPingTimeout},
		{"memory://?ping=false", 0},
		{"memory://?ping=0", 0},
		{"memory://?ping=2s", 2 * time.Second},
		{"memory://?ping=3", 3 * time.Second},
		{"memory://?ping=250ms", 250 * time.Millisecond},
		{"memory://", 0},
	}
	for _, tt := range tests {
		s, o, err := cachet.Open(tt.url)
		if err != nil {
			t.Errorf("Open(%q): %v", tt.url, err)
			continue
		}
		s.Close()
		if o.Ping != tt.want {
			t.Errorf("Open(%q): Ping = %v; want %v", tt.url, o.Ping, tt.want)
		}
	}
	for _, bad := range []string{"memory://?ping=yes", "memory://?ping=-1s", "memory://?ping=", "memory://?ping=1s&ping=2s"} {
		_, _, err := cachet.Open(bad)
		var oe *storeurl.OptionError
		if !errors.As(err, &oe) || oe.Option != "ping" {
			t.Errorf("Open(%q) = %v; want an OptionError for ping", bad, err)
		}
	}
}

// TestOpen_PingRedis checks ?ping= against a real redis-server, and
// against a port where nothing listens: the error names the URL with its
// password masked, and nothing is left open.
func TestOpen_PingRedis(t *testing.T) {
	srv := testserver.Redis(t)
	ctx := context.Background()

	c, err := cachet.OpenCache("redis://"+srv.Addr+"/0?ping=5s&namespace=ping", codec.String(), (*cachet.Options[string])(nil))
	if err != nil {
		t.Fatalf("OpenCache of a running redis-server with ping: %v", err)
	}
	if err := c.Set(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	c.Close()

	dead := deadAddr(t)
	raw := "redis://:s3cret@" + dead + "/0?ping=2s"
	start := time.Now()
	_, err = cachet.OpenCache(raw, codec.String(), (*cachet.Options[string])(nil))
	if err == nil {
		t.Fatalf("OpenCache(%s) with nothing listening = nil error; want the ping's", raw)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("a refused connection took %v; want an answer at once (one dial), well under the 2s bound", took)
	}
	msg := err.Error()
	t.Logf("the error: %s", msg)
	if strings.Contains(msg, "s3cret") || !strings.Contains(msg, "redis://:xxxxx@"+dead+"/0") || !strings.Contains(msg, "ping") {
		t.Errorf("error %q: want the URL with its password masked and the word ping", msg)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("error %q does not wrap ECONNREFUSED", msg)
	}

	// Without ping, opening an unreachable server succeeds: no dial.
	s, _, err := cachet.Open("redis://" + dead + "/0")
	if err != nil {
		t.Fatalf("Open without ping of an unreachable server: %v; want nil (stores connect lazily)", err)
	}
	s.Close()
}

func TestOpen_PingMemcached(t *testing.T) {
	srv := testserver.Memcached(t)

	s, _, err := cachet.Open("memcached://" + srv.Addr + "?ping=true")
	if err != nil {
		t.Fatalf("Open of a running memcached with ping: %v", err)
	}
	s.Close()

	dead := deadAddr(t)
	// One server answers, one does not: Ping asks every server.
	raw := "memcached://" + srv.Addr + "," + dead + "?ping=2s"
	if _, _, err := cachet.Open(raw); err == nil || !strings.Contains(err.Error(), dead) {
		t.Fatalf("Open(%s) = %v; want an error naming the dead server's URL", raw, err)
	}

	// A hung server (stopped, its port still accepting): the bound holds.
	if err := srv.Pause(); err != nil {
		t.Fatal(err)
	}
	defer srv.Resume()
	raw = "memcached://" + srv.Addr + "?ping=300ms&timeout=10s"
	start := time.Now()
	_, _, err = cachet.Open(raw)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "no answer within ping=300ms") {
		t.Fatalf("Open(%s) of a hung memcached = %v; want DeadlineExceeded after 300ms", raw, err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("the ping of a hung server took %v; want about 300ms", took)
	}
}

// failPing is a store whose Ping fails; it counts its Close calls.
type failPing struct {
	store.Store
	closes *atomic.Int32
}

func (f failPing) Ping(context.Context) error { return errors.New("no answer") }
func (f failPing) Close() error               { f.closes.Add(1); return f.Store.Close() }

// TestOpen_PingFailureClosesTheStore checks that a failed open-time check
// closes what Open opened, through OpenCache and package caches alike.
func TestOpen_PingFailureClosesTheStore(t *testing.T) {
	var closes, opens atomic.Int32
	storeurl.Register("test-pingfail", func(u *url.URL) (func() (store.Store, error), error) {
		return func() (store.Store, error) {
			opens.Add(1)
			return failPing{memstore.Must(nil), &closes}, nil
		}, nil
	})
	if _, _, err := cachet.Open("test-pingfail://?ping=1s"); err == nil || !strings.Contains(err.Error(), "no answer") {
		t.Fatalf("Open = %v; want the Ping's error", err)
	}
	if _, err := cachet.OpenCache("test-pingfail://?ping=true", codec.String(), (*cachet.Options[string])(nil)); err == nil {
		t.Fatal("OpenCache = nil error; want the Ping's")
	}
	if o, c := opens.Load(), closes.Load(); o != 2 || c != 2 {
		t.Errorf("%d opens, %d closes; want 2 and 2", o, c)
	}
	// Without ping the store is not checked.
	s, _, err := cachet.Open("test-pingfail://")
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}
