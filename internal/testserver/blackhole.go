package testserver

import (
	"fmt"
	"net"
	"syscall"
	"testing"
	"time"
)

// Unanswered returns a loopback address at which connecting times out: a
// socket that listens with a backlog of 0 and never accepts, whose one
// queue slot is taken at once, so that the kernel drops every later
// connection attempt (as a server behind a black-holing firewall would).
// The socket is closed when t ends.
func Unanswered(t testing.TB) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatalf("testserver: socket: %v", err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatalf("testserver: bind: %v", err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatalf("testserver: listen: %v", err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatalf("testserver: getsockname: %v", err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
	// Fill the queue until a connection attempt goes unanswered.
	for i := 0; ; i++ {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				return addr
			}
			t.Fatalf("testserver: filling the queue of %s: %v", addr, err)
		}
		t.Cleanup(func() { c.Close() })
		if i == 8 {
			t.Fatalf("testserver: %s still accepts connections after %d", addr, i+1)
		}
	}
}
