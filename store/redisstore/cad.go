package redisstore

import (
	"context"

	"github.com/redis/go-redis/v9"

	"github.com/cachet-go/cachet/store"
)

var _ store.CompareAndDeleter = (*Store)(nil)

// compareAndDelete deletes KEYS[1] only if it holds ARGV[1]. A Lua script
// runs atomically on the server, and EVAL/EVALSHA work on every Redis
// version cachet supports (a native compare-and-delete, DELEX, appeared
// only in Redis 8.4). Its one key makes it valid on a Redis Cluster.
var compareAndDelete = redis.NewScript(compareAndDeleteSrc)

const compareAndDeleteSrc = `
if redis.call("GET", KEYS[1]) == ARGV[1] then
	return redis.call("DEL", KEYS[1])
end
return 0
`

// CompareAndDelete deletes key only if it holds value, atomically (one Lua
// script on the server), and reports whether it did. It implements
// store.CompareAndDeleter.
func (s *Store) CompareAndDelete(ctx context.Context, key string, value []byte) (bool, error) {
	op := store.OpCompareAndDelete.String()
	if err := s.begin(ctx, op, key); err != nil {
		return false, err
	}
	if err := store.CheckValue(op, key, value); err != nil {
		return false, err
	}
	// Script.Run would resend EVALSHA on a timeout; run it once, and
	// fall back to EVAL only on NOSCRIPT, which the server sends without
	// running anything.
	cmd := redis.NewCmd(ctx, "evalsha", compareAndDelete.Hash(), 1, key, value)
	_ = s.client.Process(ctx, onceCmd{cmd})
	if err := cmd.Err(); err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		cmd = redis.NewCmd(ctx, "eval", compareAndDeleteSrc, 1, key, value)
		_ = s.client.Process(ctx, onceCmd{cmd})
	}
	n, err := cmd.Int()
	if err != nil {
		return false, s.fail(ctx, op, key, err)
	}
	return n == 1, nil
}
