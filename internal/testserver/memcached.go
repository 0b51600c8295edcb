package testserver

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"
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
		SkipOrFail(tb, err, "memcached")
	}
	tb.Cleanup(s.Close)
	return s
}

// Pause stops the server process with SIGSTOP: its port still accepts
// connections (the kernel queues them) but nothing answers, as with a hung
// server, until [Server.Resume]. Stop and Close work on a paused server.
func (s *Server) Pause() error {
	if err := s.signal(syscall.SIGSTOP); err != nil {
		return err
	}
	// A signal is delivered asynchronously: wait until every thread of
	// the process is stopped, so that no request sent after Pause returns
	// can still be answered.
	s.mu.Lock()
	pid := s.cmd.Process.Pid
	s.mu.Unlock()
	deadline := time.Now().Add(5 * time.Second)
	for !allThreadsStopped(pid) {
		if time.Now().After(deadline) {
			return fmt.Errorf("testserver: process %d not stopped 5s after SIGSTOP", pid)
		}
		time.Sleep(time.Millisecond) // polling the kernel's process state
	}
	return nil
}

// allThreadsStopped reports whether every thread of pid is in state T
// (stopped), as /proc shows it.
func allThreadsStopped(pid int) bool {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil || len(tasks) == 0 {
		return false
	}
	for _, task := range tasks {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stat", pid, task.Name()))
		if err != nil {
			return false
		}
		// The state follows the command name, which is in parentheses.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 || i+2 >= len(stat) || (stat[i+2] != 'T' && stat[i+2] != 't') {
			return false
		}
	}
	return true
}

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
