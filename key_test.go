package cachet

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cachet-go/cachet/codec"
)

type userID string

type point struct{ X, Y int }

func (p point) String() string { return fmt.Sprintf("%d/%d", p.X, p.Y) }

func TestKeyBuilder_Build(t *testing.T) {
	tests := []struct {
		name      string
		namespace string
		version   any
		key       string
		want      string
	}{
		{"raw", "", nil, "k", "k"},
		{"namespace", "users", nil, "42", "users:42"},
		{"namespace and int version", "users", 3, "42", "users:3:42"},
		{"namespace and string version", "users", "v2", "42", "users:v2:42"},
		{"key with separator", "users", nil, "a:b", "users:a:b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := newKeyBuilder[string](tt.namespace, tt.version, nil)
			if err != nil {
				t.Fatal(err)
			}
			got, err := b.build("get", tt.key)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("got %q; want %q", got, tt.want)
			}
		})
	}
}

func TestKeyBuilder_DefaultKeyFuncs(t *testing.T) {
	check := func(t *testing.T, got string, err error, want string) {
		t.Helper()
		if err != nil || got != want {
			t.Fatalf("got %q, %v; want %q", got, err, want)
		}
	}
	bi, _ := newKeyBuilder[int]("", nil, nil)
	got, err := bi.build("get", -42)
	check(t, got, err, "-42")
	bu, _ := newKeyBuilder[uint64]("", nil, nil)
	got, err = bu.build("get", 1<<63)
	check(t, got, err, "9223372036854775808")
	bn, _ := newKeyBuilder[userID]("u", nil, nil)
	got, err = bn.build("get", "ada")
	check(t, got, err, "u:ada")
	bs, _ := newKeyBuilder[point]("", nil, nil)
	got, err = bs.build("get", point{1, 2})
	check(t, got, err, "1/2")
}

func TestKeyBuilder_Errors(t *testing.T) {
	if _, err := newKeyBuilder[struct{ A int }]("", nil, nil); !errors.Is(err, ErrInvalidOption) {
		t.Fatalf("struct key without Key func: err = %v; want ErrInvalidOption", err)
	}
	if _, err := newKeyBuilder[string]("a:b", nil, nil); !errors.Is(err, ErrInvalidOption) {
		t.Fatalf("namespace with ':': err = %v; want ErrInvalidOption", err)
	}
	if _, err := newKeyBuilder[string]("a", "1:2", nil); !errors.Is(err, ErrInvalidOption) {
		t.Fatalf("version with ':': err = %v; want ErrInvalidOption", err)
	}
	if _, err := newKeyBuilder[string]("a", 1.5, nil); !errors.Is(err, ErrInvalidOption) {
		t.Fatalf("float version: err = %v; want ErrInvalidOption", err)
	}
	if _, err := newKeyBuilder[string]("", 1, nil); !errors.Is(err, ErrInvalidOption) {
		t.Fatalf("version without namespace: err = %v; want ErrInvalidOption", err)
	}
	b, _ := newKeyBuilder[string]("ns", nil, nil)
	if _, err := b.build("get", ""); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("empty key: err = %v; want ErrInvalidKey", err)
	}
	boom := errors.New("boom")
	bf, _ := newKeyBuilder[string]("ns", nil, func(string) (string, error) { return "", boom })
	if _, err := bf.build("get", "x"); !errors.Is(err, ErrInvalidKey) || !errors.Is(err, boom) {
		t.Fatalf("failing key func: err = %v; want ErrInvalidKey wrapping boom", err)
	}
}

// FuzzKeyBuilder checks that keys of different namespaces never collide
// and that a namespace's keys always start with "namespace:".
func FuzzKeyBuilder(f *testing.F) {
	f.Add("foo", "bar", "foobar", "x")
	f.Add("a", "b:c", "a:b", "c")
	f.Add("users", "", "user", "s:")
	f.Fuzz(func(t *testing.T, ns1, k1, ns2, k2 string) {
		b1, err1 := newKeyBuilder[string](ns1, nil, nil)
		b2, err2 := newKeyBuilder[string](ns2, nil, nil)
		if strings.Contains(ns1, ":") != (err1 != nil) || strings.Contains(ns2, ":") != (err2 != nil) {
			t.Fatalf("namespace validation: %q -> %v, %q -> %v", ns1, err1, ns2, err2)
		}
		if err1 != nil || err2 != nil || ns1 == "" || ns2 == "" || k1 == "" || k2 == "" {
			return
		}
		s1, _ := b1.build("get", k1)
		s2, _ := b2.build("get", k2)
		if !strings.HasPrefix(s1, ns1+":") {
			t.Fatalf("key %q does not start with %q", s1, ns1+":")
		}
		if ns1 != ns2 && s1 == s2 {
			t.Fatalf("namespaces %q and %q collide on %q", ns1, ns2, s1)
		}
		if ns1 != ns2 && strings.HasPrefix(s2, ns1+":") {
			t.Fatalf("key %q of namespace %q falls under namespace %q", s2, ns2, ns1)
		}
	})
}

func BenchmarkKeyBuilder_String(b *testing.B) {
	kb, _ := newKeyBuilder[string]("users", 2, nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := kb.build("get", "12345"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkKeyBuilder_Int(b *testing.B) {
	kb, _ := newKeyBuilder[int64]("users", nil, nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := kb.build("get", 12345); err != nil {
			b.Fatal(err)
		}
	}
}

type node struct{ name string }

func (n *node) String() string { return n.name } // panics on a nil *node

func TestKeyBuilder_StringerPanicIsAnError(t *testing.T) {
	b, err := newKeyBuilder[*node]("n", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := b.build("get", &node{"a"}); err != nil || got != "n:a" {
		t.Fatalf("build(&node{a}) = %q, %v; want n:a", got, err)
	}
	if _, err := b.build("get", nil); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("build(nil *node) err = %v; want ErrInvalidKey", err)
	}
}

// TestCache_KeyFuncPanicIsAnError checks that a key function that panics,
// given as Options.Key or with WithKey, gives ErrInvalidKey as a panicking
// String method does, and never crashes the caller.
func TestCache_KeyFuncPanicIsAnError(t *testing.T) {
	panicky := func(k string) (string, error) {
		if k == "bad" {
			panic("key function exploded")
		}
		return k, nil
	}
	c, err := New[string](newMem(t), codec.String(), &Options[string]{Namespace: "p", Key: panicky})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Set(bg, "good", "v"); err != nil {
		t.Fatalf("Set(good): %v", err)
	}
	calls := []struct {
		name string
		call func() error
	}{
		{"Get", func() error { _, err := c.Get(bg, "bad"); return err }},
		{"Set", func() error { return c.Set(bg, "bad", "v") }},
		{"GetMany", func() error { _, err := c.GetMany(bg, []string{"good", "bad"}); return err }},
		{"Delete", func() error { _, err := c.Delete(bg, "bad"); return err }},
		{"Increment", func() error { _, err := c.Increment(bg, "bad", 1); return err }},
		{"GetOrLoad", func() error {
			_, err := c.GetOrLoad(bg, "bad", func(context.Context) (string, error) { return "x", nil })
			return err
		}},
		{"Memoize", func() error {
			f := Memoize(c, func(_ context.Context, k string) (string, error) { return k, nil }, nil)
			_, err := f(bg, "bad")
			return err
		}},
		{"Memoize/Key", func() error {
			plain, err := New[string](newMem(t), codec.String(), nil)
			if err != nil {
				return err
			}
			f := Memoize(plain, func(_ context.Context, k string) (string, error) { return k, nil }, &MemoizeOptions[string, string]{Key: panicky})
			_, err = f(bg, "bad")
			return err
		}},
	}
	for _, tc := range calls {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("the caller panicked: %v", r)
					}
				}()
				err = tc.call()
			}()
			if !errors.Is(err, ErrInvalidKey) || !strings.Contains(err.Error(), "key function exploded") {
				t.Errorf("got %v; want ErrInvalidKey naming the panic", err)
			}
		})
	}
}

// TestKeyBuilder_BuildAll checks that buildAll gives what build gives for
// each key, with and without a prefix, that it fails as build does on a
// bad key, and that with a prefix it allocates once for the keys' bytes.
func TestKeyBuilder_BuildAll(t *testing.T) {
	keys := []string{"a", "bb", "c:d", strings.Repeat("x", 300), "é"}
	for _, ns := range []string{"", "users"} {
		for _, ver := range []any{nil, 3} {
			if ns == "" && ver != nil {
				continue
			}
			b, err := newKeyBuilder[string](ns, ver, nil)
			if err != nil {
				t.Fatal(err)
			}
			b = b.with("memo", nil)
			got, err := b.buildAll("get_many", keys)
			if err != nil {
				t.Fatalf("buildAll(%q, %v): %v", ns, ver, err)
			}
			if len(got) != len(keys) {
				t.Fatalf("buildAll(%q, %v): got %d keys; want %d", ns, ver, len(got), len(keys))
			}
			for i, k := range keys {
				want, _ := b.build("get_many", k)
				if got[i] != want {
					t.Errorf("buildAll(%q, %v)[%d] = %q; want %q", ns, ver, i, got[i], want)
				}
			}
			if n := testing.AllocsPerRun(100, func() { b.buildAll("get_many", keys) }); n != 2 {
				t.Errorf("buildAll(%q, %v) allocations: got %v; want 2 (the slice and the keys' bytes)", ns, ver, n)
			}
		}
	}
	b, _ := newKeyBuilder[string]("users", nil, nil)
	if _, err := b.buildAll("get_many", []string{"a", ""}); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("buildAll with an empty key: got %v; want ErrInvalidKey", err)
	}
	bi, _ := newKeyBuilder[int]("n", nil, func(k int) (string, error) {
		if k < 0 {
			return "", errors.New("negative")
		}
		return fmt.Sprint(k), nil
	})
	if _, err := bi.buildAll("delete", []int{1, -1}); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("buildAll with a failing key function: got %v; want ErrInvalidKey", err)
	}
}

// TestKeyBuilder_BuildInMatchesBuild: the key built in a buffer (the local
// tier's lookup key) is the key build gives, whether it fits the buffer or
// not, and a key build refuses is refused.
func TestKeyBuilder_BuildInMatchesBuild(t *testing.T) {
	for _, ns := range []string{"", "users"} {
		var version any
		if ns != "" {
			version = 2
		}
		b, err := newKeyBuilder[string](ns, version, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"a", "ann:42", strings.Repeat("x", 200)} {
			var buf [32]byte
			got, ok := b.buildIn(buf[:], k)
			want, err := b.build("get", k)
			if !ok || err != nil || got != want {
				t.Errorf("ns %q, key %.20q: buildIn = %q, %v; build = %q, %v", ns, k, got, ok, want, err)
			}
		}
		if _, ok := b.buildIn(make([]byte, 32), ""); ok {
			t.Errorf("ns %q: buildIn of the empty key: ok; want refused, as build refuses it", ns)
		}
	}
}
