package redisurl_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachet-go/cachet"
	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/internal/entry"
	"github.com/cachet-go/cachet/internal/testserver"
	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/redisstore"
	_ "github.com/cachet-go/cachet/store/redisstore/redisurl"
	"github.com/cachet-go/cachet/store/storeurl"
)

// openURL opens rawURL and closes the store when the test ends.
func openURL(t *testing.T, rawURL string) (*redisstore.Store, cachet.URLOptions) {
	t.Helper()
	s, opts, err := cachet.Open(rawURL)
	if err != nil {
		t.Fatalf("Open(%q): %v", rawURL, err)
	}
	t.Cleanup(func() { s.Close() })
	rs, ok := store.As[*redisstore.Store](s)
	if !ok {
		t.Fatalf("Open(%q) returned %T; want a *redisstore.Store", rawURL, s)
	}
	return rs, opts
}

// The URLs below are opened but never used: go-redis connects lazily, so
// no server is needed (and none is contacted) to check the options.
func TestOpenURL_Single(t *testing.T) {
	tests := []struct {
		url   string
		check func(t *testing.T, o *redis.Options)
		opts  cachet.URLOptions
	}{
		{"redis://127.0.0.1", func(t *testing.T, o *redis.Options) {
			want(t, "Addr", o.Addr, "127.0.0.1:6379")
			want(t, "DB", o.DB, 0)
			want(t, "TLSConfig", o.TLSConfig == nil, true)
			want(t, "ContextTimeoutEnabled", o.ContextTimeoutEnabled, true)
		}, cachet.URLOptions{}},
		{"redis://127.0.0.1/0", func(t *testing.T, o *redis.Options) {
			want(t, "DB", o.DB, 0)
		}, cachet.URLOptions{}},
		{"redis://127.0.0.1/10", func(t *testing.T, o *redis.Options) {
			want(t, "DB", o.DB, 10)
		}, cachet.URLOptions{}},
		{"redis://127.0.0.1:6380/3", func(t *testing.T, o *redis.Options) {
			want(t, "Addr", o.Addr, "127.0.0.1:6380")
			want(t, "DB", o.DB, 3)
		}, cachet.URLOptions{}},
		{"redis://:pw@127.0.0.1", func(t *testing.T, o *redis.Options) {
			want(t, "Password", o.Password, "pw")
		}, cachet.URLOptions{}},
		{"redis://ada:pw@127.0.0.1?password=other", func(t *testing.T, o *redis.Options) {
			want(t, "Username", o.Username, "ada")
			want(t, "Password", o.Password, "pw") // userinfo wins
		}, cachet.URLOptions{}},
		{"redis://ada@127.0.0.1?password=qp", func(t *testing.T, o *redis.Options) {
			want(t, "Username", o.Username, "ada")
			want(t, "Password", o.Password, "qp")
		}, cachet.URLOptions{}},
		{"redis://127.0.0.1?password=qp", func(t *testing.T, o *redis.Options) {
			want(t, "Password", o.Password, "qp")
		}, cachet.URLOptions{}},
		{"redis://127.0.0.1?maxsize=20", func(t *testing.T, o *redis.Options) {
			want(t, "PoolSize", o.PoolSize, 20)
		}, cachet.URLOptions{}},
		{"redis://127.0.0.1?pool_size=7&max_idle_conns=3&max_retries=2&client_name=app", func(t *testing.T, o *redis.Options) {
			want(t, "PoolSize", o.PoolSize, 7)
			want(t, "MaxIdleConns", o.MaxIdleConns, 3)
			want(t, "MaxRetries", o.MaxRetries, 2)
			want(t, "ClientName", o.ClientName, "app")
		}, cachet.URLOptions{}},
		{"redis://127.0.0.1?timeout=2", func(t *testing.T, o *redis.Options) {
			want(t, "DialTimeout", o.DialTimeout, 2*time.Second)
			want(t, "ReadTimeout", o.ReadTimeout, 2*time.Second)
			want(t, "WriteTimeout", o.WriteTimeout, 2*time.Second)
		}, cachet.URLOptions{}},
		{"redis://127.0.0.1?timeout=2s&read_timeout=500ms", func(t *testing.T, o *redis.Options) {
			want(t, "DialTimeout", o.DialTimeout, 2*time.Second)
			want(t, "ReadTimeout", o.ReadTimeout, 500*time.Millisecond) // the specific option wins
		}, cachet.URLOptions{}},
		{"redis://127.0.0.1?dial_timeout=3&pool_timeout=1m", func(t *testing.T, o *redis.Options) {
			want(t, "DialTimeout", o.DialTimeout, 3*time.Second)
			want(t, "PoolTimeout", o.PoolTimeout, time.Minute)
		}, cachet.URLOptions{}},
		{"redis://127.0.0.1/1?db=2", func(t *testing.T, o *redis.Options) {
			want(t, "DB", o.DB, 2) // go-redis: ?db= overrides the path
		}, cachet.URLOptions{}},
		{"rediss://127.0.0.1?skip_verify=true", func(t *testing.T, o *redis.Options) {
			if o.TLSConfig == nil {
				t.Fatal("rediss: TLSConfig is nil")
			}
			want(t, "ServerName", o.TLSConfig.ServerName, "127.0.0.1")
			want(t, "InsecureSkipVerify", o.TLSConfig.InsecureSkipVerify, true)
		}, cachet.URLOptions{}},
		{"redis://127.0.0.1/0?ttl=600&prefix=app&version=2&maxsize=10", func(t *testing.T, o *redis.Options) {
			want(t, "PoolSize", o.PoolSize, 10)
		}, cachet.URLOptions{TTL: 10 * time.Minute, Namespace: "app", Version: "2"}},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			s, opts := openURL(t, tt.url)
			c, ok := s.Client().(*redis.Client)
			if !ok {
				t.Fatalf("client is %T; want *redis.Client", s.Client())
			}
			tt.check(t, c.Options())
			if opts != tt.opts {
				t.Errorf("URL options = %+v; want %+v", opts, tt.opts)
			}
		})
	}
}

func want[T comparable](t *testing.T, name string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v; want %v", name, got, want)
	}
}

func TestOpenURL_ClusterAndSentinel(t *testing.T) {
	s, _ := openURL(t, "redis+cluster://ada:pw@127.0.0.1:7000,127.0.0.1:7001,127.0.0.1?maxsize=5&minsize=0&read_only=true")
	cc, ok := s.Client().(*redis.ClusterClient)
	if !ok {
		t.Fatalf("redis+cluster client is %T; want *redis.ClusterClient", s.Client())
	}
	o := cc.Options()
	want(t, "Addrs", strings.Join(o.Addrs, ","), "127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:6379")
	want(t, "Username", o.Username, "ada")
	want(t, "Password", o.Password, "pw")
	want(t, "PoolSize", o.PoolSize, 5)
	want(t, "ReadOnly", o.ReadOnly, true)
	want(t, "ContextTimeoutEnabled", o.ContextTimeoutEnabled, true)

	s, _ = openURL(t, "rediss+cluster://127.0.0.1:7000,127.0.0.1:7001?password=qp")
	o = s.Client().(*redis.ClusterClient).Options()
	want(t, "Password", o.Password, "qp")
	if o.TLSConfig == nil {
		t.Errorf("rediss+cluster: TLSConfig is nil")
	}

	// A failover client is a *redis.Client whose options carry the data
	// nodes' DB and credentials.
	s, _ = openURL(t, "redis+sentinel://mymaster:pw@127.0.0.1:26379,127.0.0.1:26380/3?password=other&sentinel_password=sp&maxsize=4")
	fc, ok := s.Client().(*redis.Client)
	if !ok {
		t.Fatalf("redis+sentinel client is %T; want *redis.Client", s.Client())
	}
	fo := fc.Options()
	want(t, "DB", fo.DB, 3)
	want(t, "Password", fo.Password, "pw") // userinfo wins
	want(t, "PoolSize", fo.PoolSize, 4)
	want(t, "ContextTimeoutEnabled", fo.ContextTimeoutEnabled, true)

	s, _ = openURL(t, "redis+sentinel://127.0.0.1:26379?master_name=mymaster&password=qp")
	want(t, "Password", s.Client().(*redis.Client).Options().Password, "qp")
}

func TestOpenURL_Errors(t *testing.T) {
	tests := []struct {
		url, option, value string
	}{
		{"redis://", "host", ""},
		{"redis:///0", "host", ""},
		{"redis+cluster://", "host", ""},
		{"redis://h1:1,h2:2", "host", "h1:1,h2:2"},
		{"redis://127.0.0.1:99999", "host", "127.0.0.1:99999"},
		{"redis://127.0.0.1?foo=1", "foo", "1"},
		{"redis://127.0.0.1?pool_size=many", "pool_size", "many"},
		{"redis://127.0.0.1?maxsize=many", "pool_size", "many"},
		{"redis://127.0.0.1?dial_timeout=soon", "dial_timeout", "soon"},
		{"redis://127.0.0.1?timeout=soon", "timeout", "soon"},
		{"redis://127.0.0.1?minsize=1&min_idle_conns=2", "minsize", "1"},
		{"redis://127.0.0.1?skip_verify=true", "skip_verify", "true"}, // TLS only
		{"redis://127.0.0.1?addr=127.0.0.1:2", "addr", "127.0.0.1:2"},
		{"redis://127.0.0.1/zero", "path", "/zero"},
		{"redis://127.0.0.1/1/2", "path", "/1/2"},
		{"redis+cluster://127.0.0.1/1", "path", "/1"},
		{"redis://127.0.0.1/-1", "path", "/-1"},
		{"redis://127.0.0.1/01", "path", "/01"},
		{"redis://127.0.0.1/+1", "path", "/+1"},
		{"redis://127.0.0.1/1x", "path", "/1x"},
		{"redis://127.0.0.1/99999999999999999999", "path", "/99999999999999999999"},
		{"redis://127.0.0.1?db=-1", "db", "-1"},
		{"redis://127.0.0.1?db=07", "db", "07"},
		{"redis://127.0.0.1?db=1&db=2", "db", "1,2"},
		{"redis+sentinel://m@127.0.0.1:26379/-2", "path", "/-2"},
		{"redis+cluster://127.0.0.1?db=1", "db", "1"},
		{"redis+cluster://127.0.0.1?route_randomly=perhaps", "route_randomly", "perhaps"},
		{"redis+sentinel://127.0.0.1:26379", "master", ""},
		{"redis+sentinel://m@127.0.0.1:26379?master_name=n", "master_name", "n"},
		{"redis+sentinel://m@127.0.0.1:26379/x", "path", "/x"},
		{"redis://127.0.0.1?ttl=0", "ttl", "0"},
		{"redis://127.0.0.1?password=a&password=b", "password", "xxxxx"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			s, _, err := cachet.Open(tt.url)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q) succeeded; want an error", tt.url)
			}
			var oe *storeurl.OptionError
			if !errors.Is(err, cachet.ErrInvalidOption) || !errors.As(err, &oe) {
				t.Fatalf("Open(%q) = %v; want an *OptionError", tt.url, err)
			}
			if oe.Option != tt.option || oe.Value != tt.value {
				t.Errorf("Open(%q): option %s=%q; want %s=%q (%v)", tt.url, oe.Option, oe.Value, tt.option, tt.value, err)
			}
		})
	}
	// No password in any message.
	for _, raw := range []string{
		"redis://ada:s3cret@127.0.0.1?foo=1",
		"redis://127.0.0.1?password=s3cret&pool_size=x",
		"redis+sentinel://m:s3cret@127.0.0.1?sentinel_password=s3cret&foo=1",
		"redis://ada:s3cret@127.0.0.1/x",
	} {
		if _, _, err := cachet.Open(raw); err == nil || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("Open(%q) = %v; want an error that hides the password", raw, err)
		}
	}
}

func TestOpenURL_SingleServer(t *testing.T) {
	ctx := context.Background()
	srv := testserver.Redis(t)
	// testserver pings without a password, so set it once the server runs.
	if _, err := testserver.RedisCommand(srv.Addr, "CONFIG", "SET", "requirepass", "s3cret"); err != nil {
		t.Fatal(err)
	}

	// The password of the userinfo wins over ?password=.
	c, err := cachet.OpenCache[string](fmt.Sprintf("redis://:s3cret@%s/3?password=wrong&ttl=60&namespace=app&minsize=1&maxsize=4", srv.Addr),
		codec.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Set(ctx, "k", "v"); err != nil {
		t.Fatalf("Set: %v", err)
	}
	// Check with an independent client that the URL's db, namespace and
	// ttl reached the server.
	check := redis.NewClient(&redis.Options{Addr: srv.Addr, Password: "s3cret", DB: 3})
	defer check.Close()
	if got, err := check.Get(ctx, "app:k").Bytes(); err != nil || string(stripEntry(got)) != "v" {
		t.Errorf("GET app:k in db 3 = %q, %v; want v", got, err)
	}
	if ttl, err := check.TTL(ctx, "app:k").Result(); err != nil || ttl <= 0 || ttl > time.Minute {
		t.Errorf("TTL app:k = %v, %v; want about 1m", ttl, err)
	}
	db0 := redis.NewClient(&redis.Options{Addr: srv.Addr, Password: "s3cret"})
	defer db0.Close()
	if n, err := db0.Exists(ctx, "app:k").Result(); err != nil || n != 0 {
		t.Errorf("EXISTS app:k in db 0 = %d, %v; want 0", n, err)
	}

	// ?password= alone authenticates; a wrong userinfo password still
	// wins over a right ?password=, and fails.
	good, _ := openURL(t, fmt.Sprintf("redis://%s?password=s3cret", srv.Addr))
	if err := good.Set(ctx, "k", []byte("v"), 0); err != nil {
		t.Errorf("?password=: Set = %v", err)
	}
	bad, _ := openURL(t, fmt.Sprintf("redis://:wrong@%s?password=s3cret", srv.Addr))
	if err := bad.Set(ctx, "k", []byte("v"), 0); err == nil {
		t.Errorf("a wrong userinfo password with a right ?password=: Set succeeded; want an auth error")
	}

	// Close closes the client Open made.
	s, _, err := cachet.Open(fmt.Sprintf("redis://:s3cret@%s", srv.Addr))
	if err != nil {
		t.Fatal(err)
	}
	rs, _ := store.As[*redisstore.Store](s)
	client := rs.Client()
	if err := client.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := client.Ping(ctx).Err(); !errors.Is(err, redis.ErrClosed) {
		t.Errorf("Ping on the client after Close = %v; want redis.ErrClosed", err)
	}
	if _, err := s.Get(ctx, "k"); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Get after Close = %v; want ErrClosed", err)
	}
	if err := s.Close(); !errors.Is(err, store.ErrClosed) {
		t.Errorf("second Close = %v; want ErrClosed", err)
	}
}

func TestOpenURL_ClusterServer(t *testing.T) {
	ctx := context.Background()
	addrs := testserver.RedisCluster(t).Addrs()
	c, err := cachet.OpenCache[string]("redis+cluster://"+strings.Join(addrs, ",")+"?maxsize=4&timeout=2s&namespace=urltest",
		codec.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	keys := make([]string, 30)
	for i := range keys {
		keys[i] = fmt.Sprint("k", i)
		if err := c.Set(ctx, keys[i], keys[i]); err != nil {
			t.Fatalf("Set: %v", err)
		}
	}
	got, err := c.GetMany(ctx, keys)
	if err != nil || len(got) != len(keys) {
		t.Fatalf("GetMany = %d values, %v; want %d", len(got), err, len(keys))
	}
	// Each key is on exactly one master (the others answer MOVED), and the
	// keys are spread over several: the client is a cluster client.
	used := map[string]bool{}
	for _, k := range keys {
		holders := 0
		for _, a := range addrs {
			if n, err := testserver.RedisCommand(a, "EXISTS", "urltest:"+k); err == nil && n == "1" {
				holders++
				used[a] = true
			}
		}
		if holders != 1 {
			t.Errorf("key urltest:%s is on %d masters; want 1", k, holders)
		}
	}
	if len(used) < 2 {
		t.Errorf("keys landed on %d masters; want them spread over several", len(used))
	}
	if err := c.Clear(ctx); err != nil {
		t.Errorf("Clear: %v", err)
	}
}

// A redis+sentinel URL finds the master through a real sentinel: the
// value written through the URL's store is on the master's server.
func TestOpenURL_SentinelServer(t *testing.T) {
	if testing.Short() {
		t.Skip("the sentinel takes seconds to discover its replica; skipped with -short")
	}
	ctx := context.Background()
	st := testserver.RedisSentinel(t)
	rawURL := "redis+sentinel://" + testserver.SentinelMasterName + "@" + strings.Join(st.Addrs(), ",") + "/0?timeout=2s&namespace=sent"
	c, err := cachet.OpenCache[string](rawURL, codec.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Set(ctx, "k", "through the sentinel"); err != nil {
		t.Fatalf("Set: %v", err)
	}
	if v, err := c.Get(ctx, "k"); err != nil || v != "through the sentinel" {
		t.Fatalf("Get = %q, %v; want the value just set", v, err)
	}
	master, err := st.MasterAddr()
	if err != nil {
		t.Fatal(err)
	}
	if v, err := testserver.RedisCommand(master, "GET", "sent:k"); err != nil || string(stripEntry([]byte(v))) != "through the sentinel" {
		t.Fatalf("GET sent:k on the master %s = %q, %v; want the value written through the URL", master, v, err)
	}
}

func BenchmarkParse(b *testing.B) {
	const raw = "redis://user:pass@localhost:6379/1?ttl=600&prefix=app&version=2&minsize=2&maxsize=10"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := storeurl.Parse(raw); err != nil {
			b.Fatal(err)
		}
	}
}

// stripEntry returns the codec's output in b, a value a Cache wrote in its
// entry format (see cachet's "Stored format"), or b if it is not one.
func stripEntry(b []byte) []byte {
	if _, p, err := entry.Decode(b); err == nil {
		return p
	}
	return b
}
