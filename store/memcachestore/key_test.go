package memcachestore

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
)

// legal reports whether memcached (and gomemcache) accept k as a key.
func legal(k string) bool {
	if k == "" || len(k) > maxKeyLen {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] <= ' ' || k[i] >= 0x7f {
			return false
		}
	}
	return true
}

// decoded is what a physical string says about the key it came from.
type decoded struct {
	form     int // 1, 2 or 3 as in key.go
	ns, rest string
	gen      uint64
}

// unescape inverts E, failing on anything E cannot produce.
func unescape(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%':
			if i+3 > len(s) {
				return "", fmt.Errorf("truncated escape in %q", s)
			}
			h := s[i+1 : i+3]
			if strings.ToUpper(h) != h {
				return "", fmt.Errorf("lowercase escape %q", h)
			}
			v, err := strconv.ParseUint(h, 16, 8)
			if err != nil {
				return "", err
			}
			if safeByte(byte(v)) {
				return "", fmt.Errorf("escaped safe byte %q", h)
			}
			b.WriteByte(byte(v))
			i += 2
		case safeByte(c):
			b.WriteByte(c)
		default:
			return "", fmt.Errorf("raw unsafe byte %q", c)
		}
	}
	return b.String(), nil
}

// decode inverts the physical string S of key.go. That it exists and
// undoes every encoding (checked by the tests below) proves S injective.
func decode(s string) (decoded, error) {
	i := strings.IndexByte(s, ':')
	j := strings.Index(s, "%g")
	k := strings.Index(s, "%n")
	switch {
	case j < 0 && k < 0: // form (1)
		key, err := unescape(s)
		return decoded{form: 1, rest: key}, err
	case i >= 0 && j == i+1: // form (2)
		ns, err := unescape(s[:i+1])
		if err != nil {
			return decoded{}, err
		}
		end := strings.IndexByte(s[j+2:], ':')
		if end < 0 {
			return decoded{}, fmt.Errorf("no end of generation in %q", s)
		}
		gen, err := strconv.ParseUint(s[j+2:j+2+end], 36, 64)
		if err != nil {
			return decoded{}, err
		}
		rest, err := unescape(s[j+2+end+1:])
		return decoded{form: 2, ns: ns, gen: gen, rest: rest}, err
	case i >= 0 && k == i+1 && k+2 == len(s): // form (3)
		ns, err := unescape(s[:i+1])
		return decoded{form: 3, ns: ns}, err
	}
	return decoded{}, fmt.Errorf("not a physical string: %q", s)
}

// physicalString returns S before hashing, for the tests.
func physicalString(form int, ns, rest string, gen uint64) string {
	var b []byte
	switch form {
	case 1:
		b = appendEscaped(b, rest)
	case 2:
		b = appendEscaped(b, ns)
		b = append(b, "%g"...)
		b = strconv.AppendUint(b, gen, 36)
		b = append(b, ':')
		b = appendEscaped(b, rest)
	case 3:
		b = appendEscaped(b, ns)
		b = append(b, "%n"...)
	}
	return string(b)
}

// checkPhysical checks that p, the physical key for S = s, is legal and
// has the documented shape.
func checkPhysical(t *testing.T, what, s, p string) {
	t.Helper()
	if !legal(p) {
		t.Fatalf("%s: physical key %q is not a legal memcached key", what, p)
	}
	if len(s) <= maxKeyLen {
		if p != s {
			t.Fatalf("%s: short physical string %q mapped to %q; want it unchanged", what, s, p)
		}
		if strings.Contains(p, hashMarker) {
			t.Fatalf("%s: unhashed key %q contains %q", what, p, hashMarker)
		}
		return
	}
	sum := sha256.Sum256([]byte(s))
	if !strings.HasSuffix(p, hashMarker+hex.EncodeToString(sum[:])) {
		t.Fatalf("%s: long key %q does not end in %%h and the SHA-256 of its physical string", what, p)
	}
	if prefix := p[:len(p)-len(hashMarker)-2*sha256.Size]; !strings.HasPrefix(s, prefix) || len(prefix) < hashedPrefixLen-2 {
		t.Fatalf("%s: hashed key %q: prefix %q is not a readable start of %q", what, p, prefix, s)
	}
}

var trickyKeys = []string{
	"k", "users", "users:", ":", "::", "a:b:c", "ns:rest", "50%off", "%", "%%", "%25", "%g", "%n", "%h",
	"a b", "a%20b", "a%2520b", "tab\tkey", "nl\nkey", "cr\rkey", "nul\x00key", "del\x7fkey",
	"ünïcödé", "日本語:キー", "\xff\xfe", "ns:%g1:x", "ns:%n", "x%hdeadbeef", "ns:%g" + strconv.FormatUint(7, 36) + ":k",
	strings.Repeat("k", 250), strings.Repeat("k", 251), strings.Repeat("é", 100), strings.Repeat(" ", 300),
	strings.Repeat("ns:", 100), "ns:" + strings.Repeat("r", 300), strings.Repeat("n", 300) + ":r",
	strings.Repeat("x", 10000) + "1", strings.Repeat("x", 10000) + "2",
}

func TestKey_ShapeAndInverse(t *testing.T) {
	for _, key := range trickyKeys {
		what := fmt.Sprintf("key %.40q", key)
		// Form (1).
		s := physicalString(1, "", key, 0)
		checkPhysical(t, what+" form 1", s, plainKey(key))
		if d, err := decode(s); err != nil || d != (decoded{form: 1, rest: key}) {
			t.Fatalf("%s: decode(%q) = %+v, %v; want form 1 with the key", what, s, d, err)
		}
		// Forms (2) and (3).
		ns, rest := splitNamespace(key)
		if ns == "" {
			continue
		}
		for _, gen := range []uint64{1, 35, 36, uint64(time.Now().UnixNano()), math.MaxUint64} {
			s := physicalString(2, ns, rest, gen)
			checkPhysical(t, what+" form 2", s, genKey(ns, rest, gen))
			if d, err := decode(s); err != nil || d != (decoded{form: 2, ns: ns, rest: rest, gen: gen}) {
				t.Fatalf("%s: decode(%q) = %+v, %v; want form 2 ns %q gen %d rest %q", what, s, d, err, ns, gen, rest)
			}
		}
		s = physicalString(3, ns, "", 0)
		checkPhysical(t, what+" form 3", s, counterKey(ns))
		if d, err := decode(s); err != nil || d != (decoded{form: 3, ns: ns}) {
			t.Fatalf("%s: decode(%q) = %+v, %v; want form 3 ns %q", what, s, d, err, ns)
		}
	}
}

// TestKey_NoCollisions maps every tricky key through every form and checks
// that no two (form, key, generation) share a physical key.
func TestKey_NoCollisions(t *testing.T) {
	seen := map[string]string{}
	add := func(p, what string) {
		if prev, ok := seen[p]; ok {
			t.Fatalf("physical key %.60q shared by %s and %s", p, prev, what)
		}
		seen[p] = what
	}
	keys := append([]string{}, trickyKeys...)
	// Logical keys spelled like other keys' physical keys.
	for _, k := range trickyKeys {
		keys = append(keys, plainKey(k))
		if ns, rest := splitNamespace(k); ns != "" {
			keys = append(keys, genKey(ns, rest, 1), counterKey(ns))
		}
	}
	uniq := map[string]bool{}
	for _, k := range keys {
		if uniq[k] {
			continue
		}
		uniq[k] = true
		add(plainKey(k), fmt.Sprintf("plain %.40q", k))
		if ns, rest := splitNamespace(k); ns != "" {
			for _, gen := range []uint64{1, 2, 36} {
				add(genKey(ns, rest, gen), fmt.Sprintf("%.40q at generation %d", k, gen))
			}
		}
	}
	nss := map[string]bool{}
	for k := range uniq {
		if ns, _ := splitNamespace(k); ns != "" && !nss[ns] {
			nss[ns] = true
			add(counterKey(ns), fmt.Sprintf("counter of %.40q", ns))
		}
	}
}

func FuzzKey(f *testing.F) {
	for _, k := range trickyKeys[:30] {
		f.Add(k, uint64(1))
	}
	f.Fuzz(func(t *testing.T, key string, gen uint64) {
		if key == "" {
			return // rejected with ErrInvalidKey before mapping
		}
		if gen == 0 {
			gen = 1 // generations start above 0
		}
		s := physicalString(1, "", key, 0)
		checkPhysical(t, "form 1", s, plainKey(key))
		if d, err := decode(s); err != nil || d.rest != key || d.form != 1 {
			t.Fatalf("decode form 1 of %q: %+v, %v", key, d, err)
		}
		ns, rest := splitNamespace(key)
		if ns == "" {
			return
		}
		s = physicalString(2, ns, rest, gen)
		checkPhysical(t, "form 2", s, genKey(ns, rest, gen))
		if d, err := decode(s); err != nil || d != (decoded{form: 2, ns: ns, rest: rest, gen: gen}) {
			t.Fatalf("decode form 2 of %q gen %d: %+v, %v", key, gen, d, err)
		}
		checkPhysical(t, "form 3", physicalString(3, ns, "", 0), counterKey(ns))
	})
}

func TestKey_PlainKeysKeepTheirName(t *testing.T) {
	for _, k := range []string{"k", "users:42", "a-b_c.d/e", strings.Repeat("k", 250)} {
		if got := plainKey(k); got != k {
			t.Errorf("plainKey(%q) = %q; want it unchanged", k, got)
		}
	}
	if got, want := genKey("users:", "42", 36), "users:%g10:42"; got != want {
		t.Errorf("genKey(users:, 42, 36) = %q; want %q", got, want)
	}
	if got, want := counterKey("users:"), "users:%n"; got != want {
		t.Errorf("counterKey(users:) = %q; want %q", got, want)
	}
	if got, want := plainKey("a b%"), "a%20b%25"; got != want {
		t.Errorf("plainKey(%q) = %q; want %q", "a b%", got, want)
	}
}

func TestIsNamespace(t *testing.T) {
	for prefix, want := range map[string]bool{
		"users:": true, ":": true, "a b:": true,
		"": false, "users": false, "users:x": false, "a:b:": false, "users::": false,
	} {
		if got := isNamespace(prefix); got != want {
			t.Errorf("isNamespace(%q) = %v; want %v", prefix, got, want)
		}
	}
}

func TestExpiry(t *testing.T) {
	day := 24 * time.Hour
	for _, c := range []struct {
		ttl     time.Duration
		capped  bool
		persist bool
	}{
		{ttl: 0, persist: true},
		{ttl: -time.Second, persist: true},
		{ttl: time.Nanosecond},
		{ttl: 10 * time.Millisecond},
		{ttl: time.Second},
		{ttl: 1001 * time.Millisecond},
		{ttl: time.Hour},
		{ttl: 30 * day},
		{ttl: 30*day + time.Second},
		{ttl: 31 * day},
		{ttl: 100 * 365 * day, capped: true},
		{ttl: math.MaxInt64, capped: true},
	} {
		before := time.Now()
		exp, rec := expiry(c.ttl)
		after := time.Now()
		switch {
		case c.persist:
			if exp != 0 || rec != 0 {
				t.Errorf("expiry(%v) = %d, %d; want 0, 0", c.ttl, exp, rec)
			}
			continue
		case c.capped:
			if exp != math.MaxInt32 || rec != math.MaxInt32 {
				t.Errorf("expiry(%v) = %d, %d; want both capped at %d", c.ttl, exp, rec, math.MaxInt32)
			}
			continue
		}
		// Both are the absolute time: this second + ttl rounded up.
		if int64(exp) != int64(rec) {
			t.Errorf("expiry(%v) = %d, %d; want the same absolute time sent and recorded", c.ttl, exp, rec)
		}
		secs := int64((c.ttl + time.Second - 1) / time.Second)
		if lo, hi := before.Unix()+secs, after.Unix()+secs; int64(rec) < lo || int64(rec) > hi {
			t.Errorf("expiry(%v) = %d; want in [%d, %d] (Unix second + ttl rounded up)", c.ttl, rec, lo, hi)
		}
		if got := recorded(rec); got != int32(rec) {
			t.Errorf("recorded(%d) = %d; want the same absolute time", rec, got)
		}
	}
	if got := recorded(0); got != 0 {
		t.Errorf("recorded(0) = %d; want 0 (no expiry)", got)
	}
	if got := recorded(7); got != 0 {
		t.Errorf("recorded(7) = %d; want 0 (flags the Store did not write)", got)
	}
}

// TestGenKey_OneAllocation checks genKey's one-allocation path against
// the form it must give, around the length limit where it hands over to
// the general path, and that it allocates once.
func TestGenKey_OneAllocation(t *testing.T) {
	for _, gen := range []uint64{1, 36, math.MaxUint64} {
		g := strconv.FormatUint(gen, 36)
		for _, n := range []int{0, 1, 200, maxKeyLen - len("ns:%g:") - len(g) - 1, maxKeyLen - len("ns:%g:") - len(g), maxKeyLen - len("ns:%g:") - len(g) + 1} {
			rest := strings.Repeat("k", max(n, 1))
			got := genKey("ns:", rest, gen)
			want := "ns:%g" + g + ":" + rest
			if len(want) > maxKeyLen {
				if len(got) != maxKeyLen || !strings.Contains(got, hashMarker) {
					t.Errorf("genKey(ns:, %d bytes, %d): got %q; want a hashed key of %d bytes", len(rest), gen, got, maxKeyLen)
				}
				continue
			}
			if got != want {
				t.Errorf("genKey(ns:, %d bytes, %d) = %q; want %q", len(rest), gen, got, want)
			}
		}
	}
	if n := testing.AllocsPerRun(100, func() { genKey("users:", "42", 7) }); n != 1 {
		t.Errorf("genKey allocations: got %v; want 1", n)
	}
}
