// Package testserver starts real redis-server and memcached processes on
// free loopback ports for tests, and stops them when the tests end.
//
// When a server binary is missing, the helpers that take a testing.TB skip
// the test with a message telling how to install it, except when the
// environment variable CI is "true": there a missing server fails the test.
// [SkipOrFail] is that rule, for tests that start servers themselves.
package testserver

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ErrNoBinary is returned when the server's binary is not on PATH.
var ErrNoBinary = errors.New("testserver: server binary not found")

// Server is one running server process listening on a loopback port.
// Its methods are safe for concurrent use.
type Server struct {
	// Addr is "127.0.0.1:port".
	Addr string
	// Port is the port the server listens on.
	Port int
	// Dir is the server's private working directory.
	Dir string

	name  string
	args  []string
	ping  func(addr string) error
	mu    sync.Mutex
	cmd   *exec.Cmd
	done  chan struct{}
	owned bool // Dir was created by us and is removed by Close
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// start runs the server once on a fresh free port, retrying a few times
// in case another process took the port between probe and bind.
func start(name string, args func(port int, dir string) []string, ping func(string) error, dir string) (*Server, error) {
	bin, err := exec.LookPath(name)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrNoBinary, name)
	}
	owned := false
	if dir == "" {
		dir, err = os.MkdirTemp("", "cachet-"+name+"-")
		if err != nil {
			return nil, err
		}
		owned = true
	}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := FreePort()
		if err != nil {
			return nil, err
		}
		s := &Server{
			Addr:  net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
			Port:  port,
			Dir:   dir,
			name:  bin,
			args:  args(port, dir),
			ping:  ping,
			owned: owned,
		}
		if lastErr = s.run(); lastErr == nil {
			return s, nil
		}
	}
	if owned {
		os.RemoveAll(dir)
	}
	return nil, fmt.Errorf("testserver: starting %s: %w", name, lastErr)
}

// run starts the process and waits until it answers.
func (s *Server) run() error {
	cmd := exec.Command(s.name, s.args...)
	cmd.Dir = s.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var out strings.Builder
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := s.ping(s.Addr); err == nil {
			break
		}
		select {
		case <-done:
			return fmt.Errorf("exited early: %s", strings.TrimSpace(out.String()))
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-done
			return fmt.Errorf("did not answer on %s within 10s", s.Addr)
		}
	}
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	return nil
}

// Stop kills the server process and waits for it to exit. The port and
// directory are kept so that [Server.Restart] can bring it back.
func (s *Server) Stop() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd, s.done = nil, nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Kill()
	<-done
}

// Restart starts a stopped server again on the same port.
func (s *Server) Restart() error {
	s.Stop()
	var err error
	for attempt := 0; attempt < 50; attempt++ {
		if err = s.run(); err == nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond) // the port may linger briefly
	}
	return err
}

// Close stops the server and removes its directory.
func (s *Server) Close() {
	s.Stop()
	if s.owned {
		os.RemoveAll(s.Dir)
	}
}

// pingLine dials addr, writes req and checks that the first reply line
// starts with want.
func pingLine(addr, req, want string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte(req)); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, want) {
		return fmt.Errorf("unexpected reply %q", line)
	}
	return nil
}
