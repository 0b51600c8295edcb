package memcachestore

import (
	"context"

	"github.com/cachet-go/cachet/store"
)

// Ping asks every server for its version and returns an error if one does
// not answer (each within the client's timeout) or ctx ends first, or
// one wrapping store.ErrClosed after Close. It implements store.Pinger.
func (s *Store) Ping(ctx context.Context) error {
	if s.closed.Load() {
		return store.Errorf("ping", "", store.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return store.Errorf("ping", "", err)
	}
	done := make(chan error, 1)
	go func() { done <- s.client.Ping() }()
	select {
	case err := <-done:
		return store.Errorf("ping", "", err)
	case <-ctx.Done():
		return store.Errorf("ping", "", ctx.Err())
	}
}

var _ store.Pinger = (*Store)(nil)
