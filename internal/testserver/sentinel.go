package testserver

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// SentinelMasterName is the name under which the sentinel of a
// [Sentinel] setup monitors its master.
const SentinelMasterName = "mymaster"

// Sentinel is a Redis master, one replica of it and one Redis Sentinel
// monitoring the master under [SentinelMasterName] with a quorum of one,
// so that stopping the master makes the sentinel promote the replica
// within a few seconds. Its methods are safe for concurrent use.
type Sentinel struct {
	// Master and Replica are the data nodes as started; after a failover
	// their roles are swapped.
	Master, Replica *Server
	// Sentinel is the sentinel process (redis-server --sentinel).
	Sentinel *Server
}

// StartRedisSentinel starts a master, a replica and a sentinel on free
// loopback ports and waits until the replica is in sync and the sentinel
// sees the master as healthy.
func StartRedisSentinel() (*Sentinel, error) {
	master, err := StartRedis("")
	if err != nil {
		return nil, err
	}
	st := &Sentinel{Master: master}
	st.Replica, err = StartRedis("", "--replicaof", "127.0.0.1", strconv.Itoa(master.Port))
	if err != nil {
		st.Close()
		return nil, err
	}
	st.Sentinel, err = start("redis-server", func(port int, dir string) []string {
		conf := filepath.Join(dir, "sentinel.conf")
		text := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\n"+
			"sentinel monitor %s 127.0.0.1 %d 1\n"+
			"sentinel down-after-milliseconds %[3]s 1000\n"+
			"sentinel failover-timeout %[3]s 10000\n",
			port, dir, SentinelMasterName, master.Port)
		// The sentinel rewrites its file, so it lives in the sentinel's
		// own directory; a failed write shows up as a start failure.
		_ = os.WriteFile(conf, []byte(text), 0o600)
		return []string{conf, "--sentinel", "--loglevel", "warning"}
	}, RedisPing, "")
	if err != nil {
		st.Close()
		return nil, err
	}
	if err := st.waitReady(30 * time.Second); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

// RedisSentinel starts a [Sentinel] setup for the test and stops it when
// the test ends. A missing binary skips the test (fails it when CI=true);
// any other start failure fails it.
func RedisSentinel(tb testing.TB) *Sentinel {
	tb.Helper()
	st, err := StartRedisSentinel()
	if err != nil {
		SkipOrFail(tb, err, "redis-server")
	}
	tb.Cleanup(st.Close)
	return st
}

// Addrs returns the sentinel addresses, suitable for
// redis.FailoverOptions.SentinelAddrs.
func (st *Sentinel) Addrs() []string { return []string{st.Sentinel.Addr} }

// MasterAddr asks the sentinel which node is the master now.
func (st *Sentinel) MasterAddr() (string, error) {
	info, err := RedisCommand(st.Sentinel.Addr, "INFO", "sentinel")
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(info, "\n") {
		if !strings.HasPrefix(line, "master0:") {
			continue
		}
		for _, f := range strings.Split(strings.TrimSpace(line), ",") {
			if a, ok := strings.CutPrefix(f, "address="); ok {
				return a, nil
			}
		}
	}
	return "", fmt.Errorf("testserver: sentinel reports no master: %q", info)
}

// Close stops the sentinel and both data nodes and removes their
// directories.
func (st *Sentinel) Close() {
	for _, s := range []*Server{st.Sentinel, st.Replica, st.Master} {
		if s != nil {
			s.Close()
		}
	}
}

// waitReady polls until the replica's link to the master is up and the
// sentinel reports the master healthy with one replica.
func (st *Sentinel) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		repl, err1 := RedisCommand(st.Replica.Addr, "INFO", "replication")
		sent, err2 := RedisCommand(st.Sentinel.Addr, "INFO", "sentinel")
		if err1 == nil && err2 == nil &&
			strings.Contains(repl, "master_link_status:up") &&
			strings.Contains(sent, "status=ok") && strings.Contains(sent, "slaves=1") {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("testserver: sentinel setup not ready after %v (replica %q %v; sentinel %q %v)",
				timeout, repl, err1, sent, err2)
		}
		time.Sleep(50 * time.Millisecond) // polling external processes: no signal to wait on
	}
}
