package testserver

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Cluster is a three-master Redis Cluster (no replicas) running on
// loopback ports, every node in its own temporary directory. Its methods
// are safe for concurrent use.
type Cluster struct {
	// Nodes are the three masters, in the order they were started.
	Nodes []*Server
}

// clusterMasters is the number of masters StartRedisCluster creates, the
// smallest number redis-cli --cluster create accepts.
const clusterMasters = 3

// StartRedisCluster starts three redis-server processes in cluster mode,
// joins them with "redis-cli --cluster create" (16384 slots spread over
// the three masters, no replicas) and waits until every node reports
// cluster_state:ok and knows all three nodes. The cluster bus of each node
// gets its own free port (cluster-port), so client ports of any value
// work.
func StartRedisCluster() (*Cluster, error) {
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		return nil, fmt.Errorf("%w: redis-cli", ErrNoBinary)
	}
	c := &Cluster{}
	for i := 0; i < clusterMasters; i++ {
		bus, err := FreePort()
		if err != nil {
			c.Close()
			return nil, err
		}
		s, err := StartRedis("",
			"--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf", // relative to the node's own dir
			"--cluster-port", strconv.Itoa(bus),
			"--cluster-node-timeout", "5000",
		)
		if err != nil {
			c.Close()
			return nil, err
		}
		c.Nodes = append(c.Nodes, s)
	}
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	out, err := exec.Command(cli, args...).CombinedOutput()
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("testserver: redis-cli --cluster create: %v: %s", err, strings.TrimSpace(string(out)))
	}
	if err := c.waitReady(30 * time.Second); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// RedisCluster starts a three-master Redis Cluster for the test and stops
// it when the test ends. A missing redis-server or redis-cli binary skips
// the test (fails it when CI=true); any other start failure fails it.
func RedisCluster(tb testing.TB) *Cluster {
	tb.Helper()
	c, err := StartRedisCluster()
	if err != nil {
		SkipOrFail(tb, err, "redis-server redis-tools")
	}
	tb.Cleanup(c.Close)
	return c
}

// Addrs returns the "127.0.0.1:port" address of every master, suitable for
// redis.ClusterOptions.Addrs.
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.Nodes))
	for i, s := range c.Nodes {
		addrs[i] = s.Addr
	}
	return addrs
}

// Close stops every node and removes their directories.
func (c *Cluster) Close() {
	for _, s := range c.Nodes {
		s.Close()
	}
}

// waitReady polls CLUSTER INFO on every node until all of them report a
// healthy cluster that covers every slot and knows every node.
func (c *Cluster) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	want := []string{
		"cluster_state:ok",
		"cluster_slots_ok:16384",
		"cluster_known_nodes:" + strconv.Itoa(len(c.Nodes)),
	}
	for _, s := range c.Nodes {
		for {
			info, err := RedisCommand(s.Addr, "CLUSTER", "INFO")
			if err == nil && containsAll(info, want) {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("testserver: cluster node %s not ready after %v (last reply %q, error %v)", s.Addr, timeout, info, err)
			}
			time.Sleep(50 * time.Millisecond) // polling an external process: no signal to wait on
		}
	}
	return nil
}

func containsAll(s string, subs []string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// RedisCommand sends one command to the Redis server at addr on a fresh
// connection and returns its reply when it is a simple string, an integer
// or a bulk string (other reply types give an error). It exists for test
// setup where pulling in a client library would be circular.
func RedisCommand(addr string, args ...string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := io.WriteString(c, b.String()); err != nil {
		return "", err
	}
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("testserver: empty reply")
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", fmt.Errorf("testserver: %s", line[1:])
	case '$', '=': // bulk string, RESP3 verbatim string
		n, err := strconv.Atoi(line[1:])
		if err != nil {
			return "", err
		}
		if n < 0 {
			return "", errors.New("testserver: nil reply")
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
	return "", fmt.Errorf("testserver: unsupported reply %q", line)
}
