package testserver

import "testing"

func TestRedis_StopRestart(t *testing.T) {
	s := Redis(t)
	if err := RedisPing(s.Addr); err != nil {
		t.Fatalf("ping after start: %v", err)
	}
	s.Stop()
	if err := RedisPing(s.Addr); err == nil {
		t.Fatal("ping after Stop succeeded; want an error")
	}
	if err := s.Restart(); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	if err := RedisPing(s.Addr); err != nil {
		t.Fatalf("ping after Restart: %v", err)
	}
}

func TestMemcached_Start(t *testing.T) {
	s := Memcached(t)
	if err := MemcachedPing(s.Addr); err != nil {
		t.Fatalf("ping: %v", err)
	}
	s.Stop()
	if err := MemcachedPing(s.Addr); err == nil {
		t.Fatal("ping after Stop succeeded; want an error")
	}
}
