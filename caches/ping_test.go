package caches_test

import (
	"errors"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/cachet-go/cachet/caches"
	"github.com/cachet-go/cachet/internal/testserver"
)

// TestAlias_PingOption: a store URL with ping checks the alias' store
// when the alias is first used, against a real redis-server and against
// a port where nothing listens.
func TestAlias_PingOption(t *testing.T) {
	srv := testserver.Redis(t)
	port, err := testserver.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	dead := "127.0.0.1:" + strconv.Itoa(port)
	r, err := caches.NewRegistry(map[string]caches.Config{
		"live": {Store: "redis://" + srv.Addr + "/0?ping=5s", Codec: "string"},
		"dead": {Store: "redis://:s3cret@" + dead + "/0?ping=2s", Codec: "string"},
	})
	if err != nil {
		t.Fatal(err) // configuring opens nothing
	}
	defer r.Close()

	if _, err := caches.Alias[string, string](r, "live"); err != nil {
		t.Fatalf("Alias(live) = %v; want a cache", err)
	}
	for i := range 2 { // a failed open is tried again on the next use
		_, err = caches.Alias[string, string](r, "dead")
		if err == nil || !errors.Is(err, syscall.ECONNREFUSED) || !strings.Contains(err.Error(), `alias "dead"`) ||
			!strings.Contains(err.Error(), "redis://:xxxxx@"+dead) || strings.Contains(err.Error(), "s3cret") {
			t.Fatalf("Alias(dead) #%d = %v; want ECONNREFUSED naming the alias and the masked URL", i+1, err)
		}
	}
	if _, err := caches.Create[string, string](r, "dead", nil); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("Create(dead) = %v; want ECONNREFUSED", err)
	}
}
