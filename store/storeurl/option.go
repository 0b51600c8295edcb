package storeurl

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ErrInvalidOption means a store URL or a configuration holds an unusable
// option. Package cachet re-exports it as cachet.ErrInvalidOption.
var ErrInvalidOption = errors.New("cachet: invalid option")

// OptionError reports an unusable option of a store URL or of a
// configuration: an unknown scheme or option, a malformed number or
// duration, a missing host, an out of range value. errors.Is(err,
// ErrInvalidOption) holds for it.
type OptionError struct {
	// URL is the store URL, its passwords masked; empty when the option
	// does not come from a URL. Parse and URL.Open fill it in.
	URL string
	// Option names the option, such as "ttl" or "max_entries"; the parts
	// of the URL itself are called "scheme", "host", "path" and "url".
	Option string
	// Value is the offending value, as written ("" when it is missing).
	Value string
	// Err says what is wrong with it.
	Err error
}

// Error returns a message naming the option, its value and the URL.
func (e *OptionError) Error() string {
	var b strings.Builder
	b.WriteString("cachet: invalid option ")
	b.WriteString(e.Option)
	b.WriteString("=")
	b.WriteString(strconv.Quote(e.Value))
	if e.URL != "" && e.URL != e.Value {
		b.WriteString(" in ")
		b.WriteString(e.URL)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Is reports whether target is ErrInvalidOption.
func (e *OptionError) Is(target error) bool { return target == ErrInvalidOption }

// Unwrap returns the reason, Err.
func (e *OptionError) Unwrap() error { return e.Err }

// Errorf returns an [*OptionError] for the option name and its value v,
// with the reason formatted as by fmt.Errorf. [Parse] fills in the URL.
func Errorf(name, v, format string, args ...any) *OptionError {
	return &OptionError{Option: name, Value: v, Err: fmt.Errorf(format, args...)}
}

// keySep separates the namespace, the version and the key in the store
// keys of package cachet, so a namespace or version may not contain it.
const keySep = ":"

// Cache option names in a store URL query, each with its aliases.
var cacheOptionNames = map[string]string{
	"ttl":        "ttl",
	"namespace":  "namespace",
	"key_prefix": "namespace",
	"prefix":     "namespace",
	"version":    "version",
	"disabled":   "disabled",
	"ping":       "ping",
}

// takeOptions removes the cache options from q and returns them.
func takeOptions(q url.Values) (Options, *OptionError) {
	var o Options
	seen := map[string]string{} // canonical name -> name used
	names := make([]string, 0, len(q))
	for name := range q {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		vals := q[name]
		canon, ok := cacheOptionNames[name]
		if !ok {
			continue
		}
		delete(q, name)
		if prev, dup := seen[canon]; dup {
			return o, Errorf(name, vals[0], "given twice (as %s and %s)", prev, name)
		}
		seen[canon] = name
		if len(vals) > 1 {
			return o, Errorf(name, strings.Join(vals, ","), "given %d times", len(vals))
		}
		v := vals[0]
		switch canon {
		case "ttl":
			d, err := ParseDuration(name, v)
			if err != nil {
				return o, err.(*OptionError)
			}
			if d <= 0 {
				return o, Errorf(name, v, "must be positive (leave ttl out for no expiry)")
			}
			o.TTL = d
		case "namespace":
			if v == "" || strings.Contains(v, keySep) {
				return o, Errorf(name, v, "a namespace must be non-empty and may not contain %q", keySep)
			}
			o.Namespace = v
		case "version":
			if v == "" || strings.Contains(v, keySep) {
				return o, Errorf(name, v, "a version must be non-empty and may not contain %q", keySep)
			}
			o.Version = v
		case "disabled":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return o, Errorf(name, v, "want true or false")
			}
			o.Disabled = b
		case "ping":
			d, err := parsePing(name, v)
			if err != nil {
				return o, err
			}
			o.Ping = d
		}
	}
	return o, nil
}

// parsePing reads ?ping=: true or false (in any case), or a duration
// bounding the check (a whole number of seconds or a Go duration; zero
// means no check, as false does).
func parsePing(name, v string) (time.Duration, *OptionError) {
	switch strings.ToLower(v) {
	case "true":
		return DefaultPingTimeout, nil
	case "false":
		return 0, nil
	}
	d, err := ParseDuration(name, v)
	if err != nil || d < 0 {
		return 0, Errorf(name, v, "want true, false or a duration bounding the check, such as 2s")
	}
	return d, nil
}

// ParseDuration parses the value v of the option named name: a whole
// number of seconds ("90") or a Go duration ("90s", "1m30s", "250ms"). A
// malformed value gives an [*OptionError]. Schemes use it so that every
// scheme reads durations alike.
func ParseDuration(name, v string) (time.Duration, error) {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n > int64(time.Duration(1<<63-1)/time.Second) || n < int64(-time.Duration(1<<63-1)/time.Second) {
			return 0, Errorf(name, v, "out of range")
		}
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, Errorf(name, v, "want a whole number of seconds or a Go duration such as 90s or 250ms")
	}
	return d, nil
}

// ParseInt parses the value v of the option named name as a decimal
// integer of at least atLeast. A malformed or too small value gives an
// [*OptionError].
func ParseInt(name, v string, atLeast int64) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, Errorf(name, v, "want a decimal integer")
	}
	if n < atLeast {
		return 0, Errorf(name, v, "must be at least %d", atLeast)
	}
	return n, nil
}

// Hosts returns the comma-separated hosts of u's authority (u.Host, such
// as "h1:6379,h2:6380"), each as "host:port" with defaultPort added where
// it has none. An empty host list or an empty or malformed element gives
// an [*OptionError] for the option "host". (IPv6 literals such as
// "[::1]:6379" are accepted as a single host only, a limit of net/url.)
func Hosts(u *url.URL, defaultPort int) ([]string, error) {
	if u.Host == "" {
		return nil, Errorf("host", "", "missing host: want %s://host:port", u.Scheme)
	}
	parts := strings.Split(u.Host, ",")
	hosts := make([]string, 0, len(parts))
	for _, h := range parts {
		if h == "" {
			return nil, Errorf("host", u.Host, "empty host in the list")
		}
		host, port, err := net.SplitHostPort(h)
		if err != nil {
			// No port (or a bracketed IPv6 literal without one).
			host, port = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"), strconv.Itoa(defaultPort)
		}
		if host == "" {
			return nil, Errorf("host", h, "missing host name before the port")
		}
		if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
			return nil, Errorf("host", h, "bad port %q", port)
		}
		hosts = append(hosts, net.JoinHostPort(host, port))
	}
	return hosts, nil
}

// onlyOptions returns an error for the first query option of u that is not
// in known, and for any known option given more than once.
func onlyOptions(u *url.URL, known []string) error {
	q := u.Query()
	names := make([]string, 0, len(q))
	for name := range q {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if !slices.Contains(known, name) {
			v := q.Get(name)
			if strings.Contains(name, "password") {
				v = "xxxxx"
			}
			if len(known) == 0 {
				return Errorf(name, v, "unknown option: a %s URL takes only the cache options ttl, namespace and version", u.Scheme)
			}
			return Errorf(name, v, "unknown option for %s (known: %s, and the cache options ttl, namespace, version)", u.Scheme, strings.Join(known, ", "))
		}
		if len(q[name]) > 1 {
			return Errorf(name, strings.Join(q[name], ","), "given %d times", len(q[name]))
		}
	}
	return nil
}
