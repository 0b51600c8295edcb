package testserver

import (
	"errors"
	"strconv"
	"syscall"
	"testing"
)

// MemcachedPing checks that a memcached server at addr answers "version".
func MemcachedPing(addr string) error { return pingLine(addr, "version\r\n", "VERSION") }

// StartMemcached starts memcached on a free loopback port with a 64 MiB
// memory limit and an item size limit of 4 MiB (so that 1 MiB values fit).
// Extra arguments are appended to the command line.
func StartMemcached(extra ...string) (*Server, error) {
	return start("memcached", func(port int, _ string) []string {
		args := []string{
			"-l", "127.0.0.1",
			"-p", strconv.Itoa(port),
			"-U", "0", // no UDP
			"-m", "64",
			"-I", "4m",
			"-u", "root", // ignored unless running as root, required then
		}
		return append(args, extra...)
	}, MemcachedPing, "")
}

// Memcached starts a memcached for the test and stops it when the test
// ends. A missing binary skips the test (fails it when CI=true).
func Memcached(tb testing.TB, extra ...string) *Server {
	tb.Helper()
	s, err := StartMemcached(extra...)
	if err != nil {
		skipOrFail(tb, err, "memcached")
	}
	tb.Cleanup(s.Close)
	return s
}

// Pause stops the server process with SIGSTOP: its port still accepts
// connections (the kernel queues them) but nothing answers, as with a hung
// server, until [Server.Resume]. Stop and Close work on a paused server.
func (s *Server) Pause() error { return s.signal(syscall.SIGSTOP) }

// Resume continues a server stopped by [Server.Pause].
func (s *Server) Resume() error { return s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig syscall.Signal) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return errors.New("testserver: server is not running")
	}
	return s.cmd.Process.Signal(sig)
}
