package redisstore

import (
	"context"

	"github.com/redis/go-redis/v9"

	"github.com/cachet-go/cachet/store"
)

// Ping sends PING to the server (for a cluster or a ring, to one node)
// and returns an error if it does not answer within ctx, or one wrapping
// store.ErrClosed after Close. It implements store.Pinger.
//
// Over a *redis.Client (standalone or Sentinel failover) it first opens
// one connection with the client's own dialer and closes it: go-redis
// answers a refused dial by dialling again (five times, 100ms apart) and
// then resending the command, which takes about 1.7s, or runs past a
// shorter ctx and reports only its deadline. The first dial reports a
// refused or unreachable server at once, with the dial's own error
// (syscall.ECONNREFUSED, for one).
func (s *Store) Ping(ctx context.Context) error {
	if s.closed.Load() {
		return store.Errorf("ping", "", store.ErrClosed)
	}
	if c, ok := s.client.(*redis.Client); ok {
		if err := dialOnce(ctx, c.Options()); err != nil {
			return store.Errorf("ping", "", err)
		}
	}
	if err := s.client.Ping(ctx).Err(); err != nil {
		return store.Errorf("ping", "", err)
	}
	return nil
}

// dialOnce opens and closes one connection as the client with options opt
// would: its Dialer (TLS, a Sentinel's master lookup) and address.
func dialOnce(ctx context.Context, opt *redis.Options) error {
	if opt.Dialer == nil {
		return nil // a client always has one once made; nothing to try
	}
	conn, err := opt.Dialer(ctx, opt.Network, opt.Addr)
	if err != nil {
		return err
	}
	return conn.Close()
}

var _ store.Pinger = (*Store)(nil)
