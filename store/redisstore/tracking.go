package redisstore

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachet-go/cachet/store"
)

// Server-assisted client tracking (store.Invalidator).
//
// Subscribe keeps one connection of its own to the server (dialled with
// the client's dialer, so TLS and the address come from the client's
// options), speaks RESP3 on it, turns on CLIENT TRACKING in broadcast mode
// for the prefix, and reads the server's invalidation pushes continuously.
// The connection is pinged every trackingPing; a connection that answers
// nothing for three pings, that the server closes (CLIENT KILL, restart)
// or that fails in any way is reported as a flush with Live false, and
// redialled with a growing backoff; once tracking is on again a flush with
// Live true is reported.
//
// Only a standalone server (a *redis.Client) is supported. A Cluster needs
// one such connection per master, re-established on every topology change,
// which is not built: Subscribe returns ErrNotSupported for it and for a
// Ring.

var _ store.Invalidator = (*Store)(nil)

// trackingPing is how often the tracking connection is checked.
const trackingPing = time.Second

// Subscribe implements store.Invalidator over a standalone Redis 6 or
// later (see the package documentation).
func (s *Store) Subscribe(ctx context.Context, prefix string, fn func(store.Invalidation)) (func(), error) {
	c, ok := s.client.(*redis.Client)
	if !ok {
		return nil, fmt.Errorf("%w: redisstore: invalidations need a standalone *redis.Client (a Cluster needs one tracking connection per master, not implemented)", store.ErrNotSupported)
	}
	opt := c.Options()
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	t := &tracker{opt: opt, prefix: prefix, fn: fn, ctx: ctx}
	t.wg.Add(1)
	go t.run()
	return func() {
		cancel()
		t.mu.Lock()
		if t.conn != nil {
			t.conn.Close()
		}
		t.mu.Unlock()
		t.wg.Wait()
	}, nil
}

type tracker struct {
	opt    *redis.Options
	prefix string
	fn     func(store.Invalidation)
	ctx    context.Context
	wg     sync.WaitGroup
	mu     sync.Mutex
	conn   net.Conn
}

func (t *tracker) run() {
	defer t.wg.Done()
	backoff := 10 * time.Millisecond
	for t.ctx.Err() == nil {
		conn, r, err := t.connect()
		if err == nil {
			backoff = 10 * time.Millisecond
			t.fn(store.Invalidation{Flush: true, Live: true})
			t.read(conn, r) // until the connection fails
			conn.Close()
			if t.ctx.Err() != nil {
				return
			}
			t.fn(store.Invalidation{Flush: true, Live: false})
		}
		select {
		case <-t.ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
}

// connect dials, authenticates with HELLO 3 and turns tracking on.
func (t *tracker) connect() (net.Conn, *bufio.Reader, error) {
	ctx, cancel := context.WithTimeout(t.ctx, 5*time.Second)
	defer cancel()
	conn, err := t.opt.Dialer(ctx, t.opt.Network, t.opt.Addr)
	if err != nil {
		return nil, nil, err
	}
	t.mu.Lock()
	if t.ctx.Err() != nil {
		t.mu.Unlock()
		conn.Close()
		return nil, nil, t.ctx.Err()
	}
	t.conn = conn
	t.mu.Unlock()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(conn)
	hello := []string{"HELLO", "3"}
	user, pass := t.opt.Username, t.opt.Password
	if t.opt.CredentialsProvider != nil {
		user, pass = t.opt.CredentialsProvider()
	}
	if pass != "" {
		if user == "" {
			user = "default"
		}
		hello = append(hello, "AUTH", user, pass)
	}
	tracking := []string{"CLIENT", "TRACKING", "ON", "BCAST"}
	if t.prefix != "" {
		tracking = append(tracking, "PREFIX", t.prefix)
	}
	for _, cmd := range [][]string{hello, tracking} {
		if err := writeCommand(conn, cmd...); err != nil {
			conn.Close()
			return nil, nil, err
		}
		v, err := readRESP(r)
		if err == nil {
			if e, ok := v.(respError); ok {
				err = fmt.Errorf("redisstore: %s: %s", cmd[0], string(e))
			}
		}
		if err != nil {
			conn.Close()
			return nil, nil, err
		}
	}
	conn.SetDeadline(time.Time{})
	return conn, r, nil
}

// read delivers the invalidation pushes read from conn until it fails.
func (t *tracker) read(conn net.Conn, r *bufio.Reader) {
	done := make(chan struct{})
	defer close(done)
	go func() { // keepalive: a silent peer fails the read deadline
		tick := time.NewTicker(trackingPing)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				if writeCommand(conn, "PING") != nil {
					return
				}
			}
		}
	}()
	for {
		conn.SetReadDeadline(time.Now().Add(3 * trackingPing))
		v, err := readRESP(r)
		if err != nil {
			return
		}
		p, ok := v.(respPush)
		if !ok || len(p) < 2 {
			continue // PONG
		}
		if kind, _ := p[0].(string); kind != "invalidate" {
			continue
		}
		switch keys := p[1].(type) {
		case nil: // FLUSHALL / FLUSHDB
			t.fn(store.Invalidation{Flush: true, Live: true})
		case []any:
			ks := make([]string, 0, len(keys))
			for _, k := range keys {
				if s, ok := k.(string); ok {
					ks = append(ks, s)
				}
			}
			t.fn(store.Invalidation{Keys: ks})
		}
	}
}

func writeCommand(w io.Writer, args ...string) error {
	b := make([]byte, 0, 64)
	b = append(b, '*')
	b = strconv.AppendInt(b, int64(len(args)), 10)
	b = append(b, '\r', '\n')
	for _, a := range args {
		b = append(b, '$')
		b = strconv.AppendInt(b, int64(len(a)), 10)
		b = append(b, '\r', '\n')
		b = append(b, a...)
		b = append(b, '\r', '\n')
	}
	_, err := w.Write(b)
	return err
}

type (
	respError string
	respPush  []any
)

var errRESP = errors.New("redisstore: malformed RESP3 reply on the tracking connection")

// readRESP reads one RESP3 value: strings (simple, bulk, verbatim) as
// string, integers as int64, nulls as nil, arrays, sets and maps as []any
// (a map's keys and values alternating), pushes as respPush, errors as
// respError; attributes are skipped.
func readRESP(r *bufio.Reader) (any, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return nil, errRESP
	}
	typ, body := line[0], line[1:len(line)-2]
	switch typ {
	case '+', ',', '(', '#':
		return body, nil
	case '-':
		return respError(body), nil
	case ':':
		return strconv.ParseInt(body, 10, 64)
	case '_':
		return nil, nil
	case '$', '=', '!':
		n, err := strconv.Atoi(body)
		if err != nil {
			return nil, errRESP
		}
		if n < 0 {
			return nil, nil
		}
		b := make([]byte, n+2)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, err
		}
		if typ == '!' {
			return respError(b[:n]), nil
		}
		return string(b[:n]), nil
	case '*', '~', '>', '%', '|':
		n, err := strconv.Atoi(body)
		if err != nil {
			return nil, errRESP
		}
		if n < 0 {
			return nil, nil
		}
		if typ == '%' || typ == '|' {
			n *= 2
		}
		vs := make([]any, n)
		for i := range vs {
			if vs[i], err = readRESP(r); err != nil {
				return nil, err
			}
		}
		switch typ {
		case '>':
			return respPush(vs), nil
		case '|':
			return readRESP(r) // the value the attribute describes
		}
		return vs, nil
	}
	return nil, errRESP
}
