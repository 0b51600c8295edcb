package cachet

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"unsafe"
)

// The key rule: a store key is
//
//	[namespace ":" [version ":"]] [memoize prefix ":"] key
//
// keySep separates the parts. The parts before the key (namespace,
// version, a memoized function's prefix) may not contain it, so that the
// boundary between them and the key is never ambiguous; the key itself may.
// Everything that builds or takes apart store keys goes through this file.
const keySep = ":"

// validKeyPart reports whether s may be a part before the key.
func validKeyPart(s string) bool { return !strings.Contains(s, keySep) }

// keyBuilder turns a typed key into a store key.
type keyBuilder[K comparable] struct {
	prefix    string // "namespace:version:" or "namespace:" or "", then a memoize prefix and ':'
	namespace string // "" when the cache has none
	version   string // "" when the cache has none
	fn        func(K) (string, error)
	plain     bool // fn is K's default key function (no Options.Key, no MemoizeOptions.Key)
}

func newKeyBuilder[K comparable](namespace string, version any, fn func(K) (string, error)) (keyBuilder[K], error) {
	var b keyBuilder[K]
	if !validKeyPart(namespace) {
		return b, fmt.Errorf("%w: namespace %q contains %q", ErrInvalidOption, namespace, keySep)
	}
	ver, err := versionString(version)
	if err != nil {
		return b, err
	}
	if ver != "" && namespace == "" {
		return b, fmt.Errorf("%w: version %q needs a namespace", ErrInvalidOption, ver)
	}
	if fn == nil {
		fn, err = defaultKeyFunc[K]()
		if err != nil {
			return b, err
		}
		b.plain = true
	} else {
		fn = recoverKeyFunc(fn)
	}
	b.fn = fn
	b.namespace = namespace
	b.version = ver
	if namespace != "" {
		b.prefix = namespace + keySep
		if ver != "" {
			b.prefix += ver + keySep
		}
	}
	return b, nil
}

// versionString accepts nil, a string or any integer kind.
func versionString(v any) (string, error) {
	var s string
	switch v := v.(type) {
	case nil:
		return "", nil
	case string:
		s = v
	case int:
		s = strconv.Itoa(v)
	case int8:
		s = strconv.FormatInt(int64(v), 10)
	case int16:
		s = strconv.FormatInt(int64(v), 10)
	case int32:
		s = strconv.FormatInt(int64(v), 10)
	case int64:
		s = strconv.FormatInt(v, 10)
	case uint:
		s = strconv.FormatUint(uint64(v), 10)
	case uint8:
		s = strconv.FormatUint(uint64(v), 10)
	case uint16:
		s = strconv.FormatUint(uint64(v), 10)
	case uint32:
		s = strconv.FormatUint(uint64(v), 10)
	case uint64:
		s = strconv.FormatUint(v, 10)
	default:
		return "", fmt.Errorf("%w: version must be a string or an integer, not %T", ErrInvalidOption, v)
	}
	if !validKeyPart(s) {
		return "", fmt.Errorf("%w: version %q contains %q", ErrInvalidOption, s, keySep)
	}
	return s, nil
}

// with returns b with segment (if not "") between its prefix and the key,
// and fn (if not nil) as its key function: the keys of a memoized function
// with a prefix (MemoizeOptions.Prefix) or a key function
// (MemoizeOptions.Key) of its own.
func (b keyBuilder[K]) with(segment string, fn func(K) (string, error)) keyBuilder[K] {
	if segment != "" {
		b.prefix += segment + keySep
	}
	if fn != nil {
		b.fn = recoverKeyFunc(fn)
		b.plain = false
	}
	return b
}

// clearPrefix returns the prefix of every key of the namespace, all
// versions included: "" when there is no namespace.
func (b *keyBuilder[K]) clearPrefix() string {
	if b.namespace == "" {
		return ""
	}
	return b.namespace + keySep
}

// lockKey returns the key of the stampede lock of the entry at key.
func lockKey(key string) string { return key + LockSuffix }

// build returns the store key for k.
func (b *keyBuilder[K]) build(op string, k K) (string, error) {
	s, err := b.fn(k)
	if err != nil {
		return "", &Error{Op: op, Err: fmt.Errorf("%w: %w", ErrInvalidKey, err)}
	}
	if s == "" {
		return "", &Error{Op: op, Err: fmt.Errorf("%w: empty key", ErrInvalidKey)}
	}
	if b.prefix == "" {
		return s, nil
	}
	return b.prefix + s, nil
}

// buildIn returns the store key for k as build does, built in buf when it
// fits: the string then points into buf, so it is valid only while buf is
// neither reused nor gone, and nothing may keep it (a lookup key). false
// for a key that build refuses.
func (b *keyBuilder[K]) buildIn(buf []byte, k K) (string, bool) {
	s, err := b.fn(k)
	if err != nil || s == "" {
		return "", false
	}
	if b.prefix == "" {
		return s, true
	}
	n := len(b.prefix) + len(s)
	if n > len(buf) {
		return b.prefix + s, true
	}
	copy(buf[copy(buf, b.prefix):], s)
	return unsafe.String(&buf[0], n), true
}

// buildAll returns the store keys for ks, as build does for each, in one
// allocation for their bytes (one more per key where the key function
// allocates its string): the keys are substrings of one string.
func (b *keyBuilder[K]) buildAll(op string, ks []K) ([]string, error) {
	out := make([]string, len(ks))
	n := 0
	for i, k := range ks {
		s, err := b.fn(k)
		if err != nil {
			return nil, &Error{Op: op, Err: fmt.Errorf("%w: %w", ErrInvalidKey, err)}
		}
		if s == "" {
			return nil, &Error{Op: op, Err: fmt.Errorf("%w: empty key", ErrInvalidKey)}
		}
		out[i] = s
		n += len(b.prefix) + len(s)
	}
	if b.prefix == "" {
		return out, nil
	}
	var sb strings.Builder
	sb.Grow(n)
	for _, s := range out {
		sb.WriteString(b.prefix)
		sb.WriteString(s)
	}
	all, at := sb.String(), 0
	for i, s := range out {
		end := at + len(b.prefix) + len(s)
		out[i] = all[at:end]
		at = end
	}
	return out, nil
}

// errNoKeyFunc is returned by New when K has no default key function.
var errNoKeyFunc = errors.New("no default key function for this key type; set Options.Key")

// defaultKeyFunc picks, once, the key function for K: strings as they
// are, integers in decimal, and fmt.Stringer through String.
func defaultKeyFunc[K comparable]() (func(K) (string, error), error) {
	var zero K
	switch any(zero).(type) {
	case string:
		return func(k K) (string, error) { return any(k).(string), nil }, nil
	case int:
		return func(k K) (string, error) { return strconv.Itoa(any(k).(int)), nil }, nil
	case int8:
		return func(k K) (string, error) { return strconv.FormatInt(int64(any(k).(int8)), 10), nil }, nil
	case int16:
		return func(k K) (string, error) { return strconv.FormatInt(int64(any(k).(int16)), 10), nil }, nil
	case int32:
		return func(k K) (string, error) { return strconv.FormatInt(int64(any(k).(int32)), 10), nil }, nil
	case int64:
		return func(k K) (string, error) { return strconv.FormatInt(any(k).(int64), 10), nil }, nil
	case uint:
		return func(k K) (string, error) { return strconv.FormatUint(uint64(any(k).(uint)), 10), nil }, nil
	case uint8:
		return func(k K) (string, error) { return strconv.FormatUint(uint64(any(k).(uint8)), 10), nil }, nil
	case uint16:
		return func(k K) (string, error) { return strconv.FormatUint(uint64(any(k).(uint16)), 10), nil }, nil
	case uint32:
		return func(k K) (string, error) { return strconv.FormatUint(uint64(any(k).(uint32)), 10), nil }, nil
	case uint64:
		return func(k K) (string, error) { return strconv.FormatUint(any(k).(uint64), 10), nil }, nil
	case uintptr:
		return func(k K) (string, error) { return strconv.FormatUint(uint64(any(k).(uintptr)), 10), nil }, nil
	case fmt.Stringer:
		return stringerKey[K], nil
	}
	// Named types such as "type UserID string" or "type ID int64".
	switch reflect.TypeFor[K]().Kind() {
	case reflect.String:
		return func(k K) (string, error) { return reflect.ValueOf(k).String(), nil }, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return func(k K) (string, error) { return strconv.FormatInt(reflect.ValueOf(k).Int(), 10), nil }, nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return func(k K) (string, error) { return strconv.FormatUint(reflect.ValueOf(k).Uint(), 10), nil }, nil
	}
	return nil, fmt.Errorf("%w: %T: %w", ErrInvalidOption, zero, errNoKeyFunc)
}

// recoverKeyFunc returns fn made safe to call: a panic in fn gives an
// error (which build wraps in ErrInvalidKey) instead of crashing the
// caller, as for a panicking String method. The default key functions
// need no such wrapper.
func recoverKeyFunc[K comparable](fn func(K) (string, error)) func(K) (string, error) {
	return func(k K) (s string, err error) {
		defer func() {
			if r := recover(); r != nil {
				s, err = "", fmt.Errorf("key function panicked on %T: %v", k, r)
			}
		}()
		return fn(k)
	}
}

// stringerKey calls k's String method; a String that panics (say, on a
// nil pointer) gives an error instead of crashing the caller.
func stringerKey[K comparable](k K) (s string, err error) {
	defer func() {
		if r := recover(); r != nil {
			s, err = "", fmt.Errorf("String method of %T panicked: %v", k, r)
		}
	}()
	return any(k).(fmt.Stringer).String(), nil
}

// keyParser returns the inverse of K's default key function where it has
// an exact one: for K a string type (the key as it is) or an integer type
// (decimal), and false for any other K (a fmt.Stringer, a K the default
// rule refuses). The parser reports false for a string that is no K's key
// under the default rule: "", and for integers any form the rule does not
// produce ("007", "+7", "-0", " 7", out of K's range), so that a key
// parsed and formatted again is the same string.
func keyParser[K comparable]() (func(string) (K, bool), bool) {
	var zero K
	if _, ok := any(zero).(fmt.Stringer); ok {
		return nil, false // the default rule calls String
	}
	t := reflect.TypeFor[K]()
	switch t.Kind() {
	case reflect.String:
		return func(s string) (K, bool) {
			var k K
			if s == "" {
				return k, false
			}
			*(*string)(unsafe.Pointer(&k)) = s // K's underlying type is string
			return k, true
		}, true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		size := t.Bits()
		return func(s string) (K, bool) {
			var k K
			n, err := strconv.ParseInt(s, 10, size)
			var buf [24]byte
			if err != nil || string(strconv.AppendInt(buf[:0], n, 10)) != s {
				return k, false
			}
			setInt(unsafe.Pointer(&k), size, uint64(n))
			return k, true
		}, true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		size := t.Bits()
		return func(s string) (K, bool) {
			var k K
			n, err := strconv.ParseUint(s, 10, size)
			var buf [24]byte
			if err != nil || string(strconv.AppendUint(buf[:0], n, 10)) != s {
				return k, false
			}
			setInt(unsafe.Pointer(&k), size, n)
			return k, true
		}, true
	}
	return nil, false
}

// setInt stores the low size bits of n at p, an integer of that size.
func setInt(p unsafe.Pointer, size int, n uint64) {
	switch size {
	case 8:
		*(*uint8)(p) = uint8(n)
	case 16:
		*(*uint16)(p) = uint16(n)
	case 32:
		*(*uint32)(p) = uint32(n)
	case 64:
		*(*uint64)(p) = n
	default:
		panic("cachet: integer key of " + strconv.Itoa(size) + " bits") // unreachable: Go has no other
	}
}
