package storeurl

import (
	"errors"
	"math"
	"net/url"
	"strconv"

	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/memstore"
	"github.com/cachet-go/cachet/store/noopstore"
)

func init() {
	Register("memory", memoryScheme)
	Register("locmem", memoryScheme)
	Register("noop", noopScheme)
	Register("dummy", noopScheme)
}

// noopScheme reads noop:// and dummy:// URLs: a noopstore, no options.
func noopScheme(u *url.URL) (func() (store.Store, error), error) {
	if err := onlyOptions(u, nil); err != nil {
		return nil, err
	}
	if u.Path != "" && u.Path != "/" {
		return nil, Errorf("path", u.Path, "a noop URL has no path")
	}
	return func() (store.Store, error) { return noopstore.New(), nil }, nil
}

// memoryScheme reads memory://NAME and locmem://NAME URLs.
func memoryScheme(u *url.URL) (func() (store.Store, error), error) {
	if err := onlyOptions(u, []string{"max_entries", "max_bytes"}); err != nil {
		return nil, err
	}
	if u.User != nil {
		return nil, Errorf("userinfo", u.User.Username(), "a memory URL has no user or password")
	}
	if u.Path != "" && u.Path != "/" {
		return nil, Errorf("path", u.Path, "a memory URL names its store in the host part only: %s://NAME", u.Scheme)
	}
	q := u.Query()
	var o memstore.Options
	given := false
	if v, ok := q["max_entries"]; ok {
		n, err := ParseInt("max_entries", v[0], 0)
		if err != nil {
			return nil, err
		}
		if n > math.MaxInt32 {
			return nil, Errorf("max_entries", v[0], "too large")
		}
		o.MaxEntries, given = int(n), true
	}
	if v, ok := q["max_bytes"]; ok {
		n, err := ParseInt("max_bytes", v[0], -1)
		if err != nil {
			return nil, err
		}
		o.MaxBytes, given = n, true
	}
	if u.Host == "" {
		// An unnamed store is private to this open.
		return func() (store.Store, error) { return memstore.New(&o) }, nil
	}
	name := u.Host
	asked := &o
	if !given {
		asked = nil // accept the options of the open store
	}
	return func() (store.Store, error) {
		s, err := memstore.Shared(name, asked)
		var se *memstore.SharedOptionsError
		if errors.As(err, &se) {
			opt, val := "max_entries", strconv.Itoa(o.MaxEntries)
			if o.MaxEntries == se.Open.MaxEntries {
				opt, val = "max_bytes", strconv.FormatInt(o.MaxBytes, 10)
			}
			return nil, Errorf(opt, val,
				"memory store %q is already open with max_entries=%d&max_bytes=%d; open it with the same options or none",
				name, se.Open.MaxEntries, se.Open.MaxBytes)
		}
		return s, err
	}, nil
}
