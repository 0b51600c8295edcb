package testserver

import (
	"strconv"
	"testing"
)

// RedisPing checks that a Redis server at addr answers PING.
func RedisPing(addr string) error { return pingLine(addr, "PING\r\n", "+PONG") }

// StartRedis starts a redis-server on a free loopback port with no
// persistence. Extra arguments are appended to the command line (for
// example "--cluster-enabled", "yes"). dir is its working directory; ""
// makes a temporary one that Close removes.
func StartRedis(dir string, extra ...string) (*Server, error) {
	return start("redis-server", func(port int, dir string) []string {
		args := []string{
			"--port", strconv.Itoa(port),
			"--bind", "127.0.0.1",
			"--save", "",
			"--appendonly", "no",
			"--dir", dir,
			"--protected-mode", "yes",
			"--loglevel", "warning",
		}
		return append(args, extra...)
	}, RedisPing, dir)
}

// Redis starts a redis-server for the test and stops it when the test
// ends. A missing binary skips the test (fails it when CI=true).
func Redis(tb testing.TB, extra ...string) *Server {
	tb.Helper()
	s, err := StartRedis("", extra...)
	if err != nil {
		SkipOrFail(tb, err, "redis-server")
	}
	tb.Cleanup(s.Close)
	return s
}
