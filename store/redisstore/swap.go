package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachet-go/cachet/internal/incrfloat"
	"github.com/cachet-go/cachet/store"
)

var (
	_ store.Swapper          = (*Store)(nil)
	_ store.FloatIncrementer = (*Store)(nil)
)

// compareAndSwapSrc sets KEYS[1] to ARGV[3] (with PX ARGV[4] unless it is
// "0") only if it holds ARGV[2] (ARGV[1] is "1") or is missing (ARGV[1]
// is "0"). A script runs atomically, and its one key makes it valid on a
// Redis Cluster. WATCH/MULTI/EXEC would do the same in three round trips
// on a connection held between the read and the write; the script is one
// round trip on any pooled connection.
const compareAndSwapSrc = `
local cur = redis.call("GET", KEYS[1])
if ARGV[1] == "1" then
	if cur ~= ARGV[2] then return 0 end
elseif cur then
	return 0
end
if ARGV[4] == "0" then
	redis.call("SET", KEYS[1], ARGV[3])
else
	redis.call("SET", KEYS[1], ARGV[3], "PX", ARGV[4])
end
return 1
`

var compareAndSwap = redis.NewScript(compareAndSwapSrc)

// GetVersion returns the value stored under key (GET) and its version
// token, or an error wrapping store.ErrNotFound. The token is the value
// itself (the same slice): CompareAndSwap compares values on the server.
// It implements store.Swapper.
func (s *Store) GetVersion(ctx context.Context, key string) (value, version []byte, err error) {
	op := store.OpGetVersion.String()
	if err := s.begin(ctx, op, key); err != nil {
		return nil, nil, err
	}
	str, err := s.client.Get(ctx, key).Result()
	if err != nil {
		if err == redis.Nil {
			return nil, nil, store.Errorf(op, key, store.ErrNotFound)
		}
		return nil, nil, s.fail(ctx, op, key, err)
	}
	b := nonNil(owned(str))
	return b, b, nil
}

// CompareAndSwap sets key to value with ttl (rounded up to a whole
// millisecond) only if it still holds the value version is (or, for a nil
// version, is missing), in one Lua script, and reports whether it did. It
// implements store.Swapper. The script is sent once: after a timeout its
// outcome is unknown and the error says so, as for Increment.
func (s *Store) CompareAndSwap(ctx context.Context, key string, version, value []byte, ttl time.Duration) (bool, error) {
	op := store.OpCompareAndSwap.String()
	if err := s.begin(ctx, op, key); err != nil {
		return false, err
	}
	if err := store.CheckValue(op, key, value); err != nil {
		return false, err
	}
	expect := "1"
	if version == nil {
		expect, version = "0", []byte{}
	}
	px := int64(pttl(ttl) / time.Millisecond)
	n, err := s.evalOnce(ctx, compareAndSwap, compareAndSwapSrc, key, expect, version, value, strconv.FormatInt(px, 10)).Int()
	if err != nil {
		return false, s.fail(ctx, op, key, err)
	}
	return n == 1, nil
}

// evalOnce runs script on key with args, sending it at most once: EVALSHA,
// then EVAL only on NOSCRIPT, which the server sends without running
// anything. (Script.Run would resend EVALSHA after a timeout.)
func (s *Store) evalOnce(ctx context.Context, script *redis.Script, src, key string, args ...any) *redis.Cmd {
	cmd := redis.NewCmd(ctx, append([]any{"evalsha", script.Hash(), 1, key}, args...)...)
	_ = s.client.Process(ctx, onceCmd{cmd})
	if err := cmd.Err(); err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		cmd = redis.NewCmd(ctx, append([]any{"eval", src, 1, key}, args...)...)
		_ = s.client.Process(ctx, onceCmd{cmd})
	}
	return cmd
}

// IncrementFloat atomically adds delta to the number stored under key
// (INCRBYFLOAT) and returns the new value; see store.FloatIncrementer.
// A missing key starts at 0 with no expiry; an existing key keeps its
// ttl. The command is sent once (see "Retries" in the package
// documentation).
func (s *Store) IncrementFloat(ctx context.Context, key string, delta float64) (float64, error) {
	op := store.OpIncrementFloat.String()
	if err := s.begin(ctx, op, key); err != nil {
		return 0, err
	}
	if err := incrfloat.CheckDelta(delta); err != nil {
		return 0, store.Errorf(op, key, err)
	}
	cmd := redis.NewStringCmd(ctx, "incrbyfloat", key, incrfloat.FormatDelta(delta))
	_ = s.client.Process(ctx, onceString{cmd})
	text, err := cmd.Result()
	if err != nil {
		var rerr redis.Error
		if errors.As(err, &rerr) {
			switch msg := rerr.Error(); {
			case strings.Contains(msg, "not a valid float"):
				err = fmt.Errorf("%w: %w", store.ErrNotNumber, err)
			case strings.Contains(msg, "NaN or Infinity"):
				err = fmt.Errorf("%w: %w", store.ErrOverflow, err)
			}
		}
		return 0, s.fail(ctx, op, key, err)
	}
	sum, err := incrfloat.Result([]byte(text))
	return sum, store.Errorf(op, key, err)
}

// onceString is a *redis.StringCmd that go-redis never resends.
type onceString struct{ *redis.StringCmd }

// NoRetry implements redis.Cmder: the command is sent at most once.
func (onceString) NoRetry() bool { return true }
