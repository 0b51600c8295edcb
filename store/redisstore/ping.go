package redisstore

import (
	"context"

	"github.com/cachet-go/cachet/store"
)

// Ping sends PING to the server (for a cluster or a ring, to one node)
// and returns an error if it does not answer within ctx, or one wrapping
// store.ErrClosed after Close. It implements store.Pinger.
func (s *Store) Ping(ctx context.Context) error {
	if s.closed.Load() {
		return store.Errorf("ping", "", store.ErrClosed)
	}
	if err := s.client.Ping(ctx).Err(); err != nil {
		return store.Errorf("ping", "", err)
	}
	return nil
}

var _ store.Pinger = (*Store)(nil)
