package caches

import (
	"expvar"
	"fmt"
	"log/slog"

	"github.com/cachet-go/cachet"
	"github.com/cachet-go/cachet/internal/named"
)

// ExpvarPrefix is prepended to an alias' name to publish the
// cachet.ExpvarRecorder of its "expvar" middleware: alias "users" is
// served on /debug/vars as "cachet.users", and read in code with
// expvar.Get("cachet.users").(*cachet.ExpvarRecorder).
const ExpvarPrefix = "cachet."

var middlewares = named.New(map[string]func(alias string) (cachet.Middleware, error){
	"logging": func(string) (cachet.Middleware, error) {
		return cachet.Logging(slog.Default(), nil), nil
	},
	"fail_open": func(string) (cachet.Middleware, error) {
		return cachet.FailOpen(nil), nil
	},
	"expvar": func(alias string) (cachet.Middleware, error) {
		name := ExpvarPrefix + alias
		switch v := expvar.Get(name).(type) {
		case nil:
			rec := new(cachet.ExpvarRecorder)
			expvar.Publish(name, rec)
			return cachet.Metrics(rec), nil
		case *cachet.ExpvarRecorder:
			// Published by an earlier store of the alias: its counters
			// carry on (expvar cannot unpublish).
			return cachet.Metrics(v), nil
		default:
			return nil, fmt.Errorf("expvar name %q is taken by a %T", name, v)
		}
	},
})

// RegisterMiddleware makes a [cachet.Middleware] available under name to
// the middleware list of an alias (see [Config]). newMiddleware is called
// with the alias' name once for each store a [Registry] opens for it;
// its error fails the opening. Built in:
//
//   - logging: [cachet.Logging] to slog.Default(), keys redacted;
//   - expvar: [cachet.Metrics] with a [cachet.ExpvarRecorder] published
//     as ExpvarPrefix+alias (one per alias, kept across reconfiguration);
//   - fail_open: [cachet.FailOpen] without a report function: list it
//     before logging or expvar (the first is outermost), which, inside
//     it, then see the failures it turns into misses.
//
// RegisterMiddleware panics if name is empty or already registered or if
// newMiddleware is nil. It is safe for concurrent use.
func RegisterMiddleware(name string, newMiddleware func(alias string) (cachet.Middleware, error)) {
	if name == "" {
		panic("caches: RegisterMiddleware: empty middleware name")
	}
	if newMiddleware == nil {
		panic("caches: RegisterMiddleware: nil function for " + name)
	}
	if !middlewares.Add(name, newMiddleware) {
		panic("caches: RegisterMiddleware called twice for middleware " + name)
	}
}

// middleware returns the alias' middleware, named in c.Middleware
// (checked by check), the first outermost.
func (c *Config) middleware(alias string) ([]cachet.Middleware, error) {
	mws := make([]cachet.Middleware, 0, len(c.Middleware))
	for _, name := range c.Middleware {
		newMW, _ := middlewares.Get(name)
		mw, err := newMW(alias)
		if err != nil {
			return nil, fmt.Errorf("middleware %s: %w", name, err)
		}
		mws = append(mws, mw)
	}
	return mws, nil
}
