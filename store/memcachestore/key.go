package memcachestore

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
)

// Physical keys.
//
// memcached accepts keys of at most 250 bytes without spaces or control
// characters. Every logical key goes through an injective mapping to such a
// physical key, so that any string (other than "") is a usable key and two
// different logical keys never share a physical key:
//
// Let E be percent-encoding over bytes: the printable ASCII bytes 0x21–0x7e
// other than '%' stand for themselves, and every other byte b (space,
// control characters, '%', 0x7f and non-ASCII bytes) becomes '%' followed
// by the two uppercase hex digits of b. E is injective (each output block is
// told apart by its first character), never emits ':' for a byte other than
// ':', and in its output every '%' is followed by an uppercase hex digit.
//
// The physical string S of a key has one of three forms:
//
//	(1) E(key)                               key without namespace, or generations off
//	(2) E(ns) "%g" base36(gen) ":" E(rest)   key ns+rest in namespace ns at generation gen
//	(3) E(ns) "%n"                           generation counter of namespace ns
//
// where ns is the key's first segment up to and including its first ':' and
// rest is what follows. S is injective over all forms: (2) and (3) contain
// "%g" or "%n", which (1) never contains; in (2) and (3) the first ':' ends
// E(ns) (E(ns) holds exactly one ':', its last byte), which decodes ns; the
// next two bytes, "%g" or "%n", tell (2) from (3); in (2) the base36 digits
// run up to the next ':' (not a base36 digit) and decode gen, and the
// remainder decodes rest.
//
// The physical key P is S itself when S fits in 250 bytes. Otherwise P is a
// readable prefix of S, then "%h", then the 64 hex digits of SHA-256(S). An
// unhashed P never contains "%h" (its '%' bytes are followed by a hex digit,
// 'g' or 'n'), a hashed one always does, so the two kinds never meet; two
// hashed keys are equal only if their last 64 bytes are, that is only if
// their S are equal, barring a SHA-256 collision. Hence P is injective
// too. Keys made only of printable ASCII other than '%' and without a
// namespace (or with generations off) are stored under their own name,
// so they read naturally in memcached tools.

const (
	// maxKeyLen is memcached's limit on the length of a key.
	maxKeyLen = 250
	// hashMarker separates the readable prefix of a hashed key from the
	// hash.
	hashMarker = "%h"
	// hashedPrefixLen is how much of S a hashed key keeps in front.
	hashedPrefixLen = maxKeyLen - len(hashMarker) - 2*sha256.Size
)

const upperHex = "0123456789ABCDEF"

// safeByte reports whether c stands for itself under E.
func safeByte(c byte) bool { return c > ' ' && c < 0x7f && c != '%' }

// plain reports whether E(s) == s.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		if !safeByte(s[i]) {
			return false
		}
	}
	return true
}

// appendEscaped appends E(s) to b.
func appendEscaped(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if safeByte(c) {
			b = append(b, c)
		} else {
			b = append(b, '%', upperHex[c>>4], upperHex[c&15])
		}
	}
	return b
}

// finish turns a physical string S into a physical key P.
func finish(s []byte) string {
	if len(s) <= maxKeyLen {
		return string(s)
	}
	sum := sha256.Sum256(s)
	cut := hashedPrefixLen
	// Do not split a %XX escape, for readability only: correctness rests
	// on the hash.
	if i := strings.LastIndexByte(string(s[cut-2:cut]), '%'); i >= 0 {
		cut = cut - 2 + i
	}
	p := make([]byte, 0, maxKeyLen)
	p = append(p, s[:cut]...)
	p = append(p, hashMarker...)
	p = hex.AppendEncode(p, sum[:])
	return string(p)
}

// plainKey returns the physical key of form (1).
func plainKey(key string) string {
	if len(key) <= maxKeyLen && plain(key) {
		return key // the common case: no allocation
	}
	return finish(appendEscaped(make([]byte, 0, len(key)+16), key))
}

// genKey returns the physical key of form (2): key rest in namespace ns at
// generation gen.
func genKey(ns, rest string, gen uint64) string {
	if n := len(ns) + len(rest) + 2 + 13 + 1; n <= maxKeyLen && plain(ns) && plain(rest) {
		// The common case, in one allocation: the key as it is, which
		// finish would copy once more.
		var g [13]byte // gen in base 36: at most 13 digits
		d := strconv.AppendUint(g[:0], gen, 36)
		var sb strings.Builder
		sb.Grow(len(ns) + 2 + len(d) + 1 + len(rest))
		sb.WriteString(ns)
		sb.WriteString("%g")
		sb.Write(d)
		sb.WriteByte(':')
		sb.WriteString(rest)
		return sb.String()
	}
	b := make([]byte, 0, len(ns)+len(rest)+16)
	b = appendEscaped(b, ns)
	b = append(b, "%g"...)
	b = strconv.AppendUint(b, gen, 36)
	b = append(b, ':')
	b = appendEscaped(b, rest)
	return finish(b)
}

// counterKey returns the physical key of form (3): the generation counter
// of namespace ns.
func counterKey(ns string) string {
	b := make([]byte, 0, len(ns)+2)
	b = appendEscaped(b, ns)
	b = append(b, "%n"...)
	return finish(b)
}

// splitNamespace splits key into its namespace (the first segment up to and
// including the first ':') and the rest. ns is "" when key holds no ':'.
func splitNamespace(key string) (ns, rest string) {
	i := strings.IndexByte(key, ':')
	if i < 0 {
		return "", key
	}
	return key[:i+1], key[i+1:]
}

// isNamespace reports whether prefix is exactly one namespace: a segment
// without ':' followed by ':'.
func isNamespace(prefix string) bool {
	i := strings.IndexByte(prefix, ':')
	return i >= 0 && i == len(prefix)-1
}
