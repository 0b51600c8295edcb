package redisstore_test

import (
	"context"
	"strings"
	"testing"

	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/redisstore"
)

// FuzzStore_ClearPrefix checks against a real server that Clear(prefix)
// removes exactly the keys starting with prefix, whatever glob syntax the
// prefix and the keys contain. go test runs the seeds; go test -fuzz
// explores further.
func FuzzStore_ClearPrefix(f *testing.F) {
	seeds := [][2]string{
		{"users:", "users:1"},
		{"a*", "abc"},
		{"a*", "a*b"},
		{"a?", "ab"},
		{"a?", "a?"},
		{"[ab]", "a"},
		{"[ab]", "[ab]x"},
		{"[^a]", "b"},
		{"x]", "x]y"},
		{`\`, `\x`},
		{`\*`, `*`},
		{`\*`, `\*y`},
		{"a[", "a[b"},
		{"ns:[v1]:", "ns:[v1]:k"},
		{"ns:[v1]:", "ns:v:k"},
		{"\x00\xff", "\x00\xffk"},
	}
	for _, sd := range seeds {
		f.Add(sd[0], sd[1])
	}
	s := openStore(f, &redisstore.Options{Addrs: []string{sharedRedis(f).Addr}})
	f.Fuzz(func(t *testing.T, prefix, key string) {
		if prefix == "" || key == "" {
			return // Clear("") is FLUSHDB; empty keys are invalid
		}
		ctx := context.Background()
		keys := []string{key, prefix, prefix + "tail", "other"}
		entries := make([]store.Entry, len(keys))
		for i, k := range keys {
			entries[i] = store.Entry{Key: k, Value: []byte("v")}
		}
		if err := s.SetMany(ctx, entries, 0); err != nil {
			t.Fatal(err)
		}
		if err := s.Clear(ctx, prefix); err != nil {
			t.Fatalf("Clear(%q): %v", prefix, err)
		}
		for _, k := range keys {
			ok, err := s.Exists(ctx, k)
			if err != nil {
				t.Fatal(err)
			}
			if want := !strings.HasPrefix(k, prefix); ok != want {
				t.Errorf("after Clear(%q): Exists(%q) = %v; want %v", prefix, k, ok, want)
			}
		}
		if _, err := s.Delete(ctx, keys...); err != nil {
			t.Fatal(err)
		}
	})
}
