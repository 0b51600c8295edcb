// Command userservice is a small JSON user service with a cachet cache in
// front of a deliberately slow repository (see package users for the
// routes). It runs with no setup on the in-memory store:
//
//	go run ./examples/userservice
//	curl localhost:8080/users/42
//	curl 'localhost:8080/users?ids=1,2,3'
//	curl -X PUT -d '{"name":"Ada","email":"ada@example.com"}' localhost:8080/users/42
//	curl localhost:8080/stats
//
// and on a real Redis or memcached by URL, from the -cache flag or the
// CACHE_URL environment variable (the flag wins):
//
//	go run ./examples/userservice -cache redis://127.0.0.1:6379
//	CACHE_URL=memcached://127.0.0.1:11211 go run ./examples/userservice
//
// -ping checks the store before serving. SIGINT or SIGTERM stops the
// server gracefully: requests under way finish, then the cache closes.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/cachet-go/cachet/examples/userservice/users"
	_ "github.com/cachet-go/cachet/store/memcachestore/memcacheurl"
	_ "github.com/cachet-go/cachet/store/redisstore/redisurl"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stderr, nil); err != nil {
		log.Fatal(err)
	}
}

// run serves until ctx ends, then shuts down gracefully. ready, if not
// nil, is called with the listening address and the service once the
// server accepts connections.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer, ready func(addr string, svc *users.Service)) error {
	fs := flag.NewFlagSet("userservice", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "listen address")
	defURL := getenv("CACHE_URL")
	if defURL == "" {
		defURL = "memory://"
	}
	cacheURL := fs.String("cache", defURL, "cache store URL (default: $CACHE_URL, else memory://)")
	latency := fs.Duration("latency", 25*time.Millisecond, "latency of a repository read or write")
	n := fs.Int("users", 1000, "number of users in the repository, ids 1 to n")
	ttl := fs.Duration("ttl", 5*time.Minute, "ttl of cached users")
	ping := fs.Bool("ping", false, "check that the cache store answers before serving")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}

	svc, err := users.Open(*cacheURL, users.NewRepo(*n, *latency), &users.Options{TTL: *ttl})
	if err != nil {
		return err
	}
	if *ping {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := svc.Cache().Ping(pctx)
		cancel()
		if err != nil {
			return errors.Join(fmt.Errorf("cache %s: %w", redact(*cacheURL), err), svc.Close())
		}
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return errors.Join(err, svc.Close())
	}
	srv := &http.Server{
		Handler:           svc.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(stderr, "userservice: listening on http://%s, cache %s\n", ln.Addr(), redact(*cacheURL))
	if ready != nil {
		ready(ln.Addr().String(), svc)
	}

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = srv.Shutdown(shutCtx)
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	if cerr := svc.Close(); cerr != nil {
		err = errors.Join(err, cerr)
	}
	fmt.Fprintln(stderr, "userservice: stopped")
	return err
}

// redact masks the password of a store URL for the log.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
