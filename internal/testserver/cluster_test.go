package testserver

import (
	"strings"
	"testing"
)

func TestRedisCluster_Start(t *testing.T) {
	c := RedisCluster(t)
	if got := len(c.Addrs()); got != 3 {
		t.Fatalf("len(Addrs()) = %d; want 3", got)
	}
	for _, addr := range c.Addrs() {
		info, err := RedisCommand(addr, "CLUSTER", "INFO")
		if err != nil {
			t.Fatalf("CLUSTER INFO on %s: %v", addr, err)
		}
		if !strings.Contains(info, "cluster_state:ok") {
			t.Errorf("CLUSTER INFO on %s = %q; want cluster_state:ok", addr, info)
		}
	}
	c.Close()
	for _, addr := range c.Addrs() {
		if err := RedisPing(addr); err == nil {
			t.Errorf("ping %s after Close succeeded; want an error", addr)
		}
	}
}

func TestRedisSentinel_Start(t *testing.T) {
	st := RedisSentinel(t)
	addr, err := st.MasterAddr()
	if err != nil {
		t.Fatal(err)
	}
	if addr != st.Master.Addr {
		t.Errorf("MasterAddr() = %s; want the master %s", addr, st.Master.Addr)
	}
	if got := st.Addrs(); len(got) != 1 || got[0] != st.Sentinel.Addr {
		t.Errorf("Addrs() = %v; want [%s]", got, st.Sentinel.Addr)
	}
}
