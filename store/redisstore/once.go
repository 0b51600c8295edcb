package redisstore

import (
	"github.com/redis/go-redis/v9"
)

// The commands whose second run would change the state or the reply
// (INCRBY, SET NX, UNLINK, the compare-and-delete script) go out wrapped
// in a once* type: the wrapper embeds the go-redis command, so it is a
// redis.Cmder that reads its reply as the command does, and overrides
// NoRetry, which every go-redis client (Client, ClusterClient, Ring,
// failover client, their pipelines) consults before it resends a command
// after a network error or timeout. Cluster redirections (MOVED, ASK) and
// READONLY/CLUSTERDOWN-style refusals are still followed: the server did
// not run the command. See "Retries" in the package documentation.

// onceInt is an *redis.IntCmd that go-redis never resends.
type onceInt struct{ *redis.IntCmd }

// NoRetry implements redis.Cmder: the command is sent at most once.
func (onceInt) NoRetry() bool { return true }

// onceBool is a *redis.BoolCmd that go-redis never resends.
type onceBool struct{ *redis.BoolCmd }

// NoRetry implements redis.Cmder: the command is sent at most once.
func (onceBool) NoRetry() bool { return true }

// onceCmd is a *redis.Cmd that go-redis never resends.
type onceCmd struct{ *redis.Cmd }

// NoRetry implements redis.Cmder: the command is sent at most once.
func (onceCmd) NoRetry() bool { return true }
