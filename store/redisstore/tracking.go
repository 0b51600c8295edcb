package redisstore

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachet-go/cachet/store"
)

// Server-assisted client tracking (store.Invalidator).
//
// A Store keeps a connection of its own to each server that owns keys,
// shared by all its subscriptions (see Subscribe), dialled with the
// client's dialer (so TLS, credentials and the address come from the
// client's options); it speaks RESP3 on it, turns on CLIENT TRACKING in
// broadcast mode for the subscriptions' prefixes, and reads the server's
// invalidation pushes continuously. Each connection is pinged every
// trackingPing; a connection that answers nothing for three pings, that the
// server closes (CLIENT KILL, restart) or that fails in any way is reported
// as a flush with Live false, and redialled with a growing backoff; once
// tracking is on again a flush with Live true is reported.
//
// A standalone server (a *redis.Client) has one such connection. A
// failover client (Sentinel) has one to the master the sentinels name,
// checked with ROLE when it is made: a failover kills it (the sentinel
// kills the demoted master's clients, or the master is gone), and it is
// redialled to the new master. A Redis Cluster has one per master, each
// reporting the keys that master owns; the set of masters is read again
// every clusterTopologyCheck, and any change (a new master, a failover, a
// node restart on another address) ends the stream (flush, Live false)
// until a connection to every master of the new topology is up. A Ring
// has one per live shard, followed the same way: the set of shards its
// heartbeat holds live is read again every ringTopologyCheck, and any
// change (Ring.SetAddrs, a shard marked down or up) ends the stream until
// every shard of the new set is tracked (see ringShards for why the tier
// cannot then serve a value a store read would not).

var _ store.Invalidator = (*Store)(nil)

// trackingPing is how often a tracking connection is checked.
const trackingPing = time.Second

// clusterTopologyCheck is how often a Cluster subscription compares the
// cluster's masters with those it tracks. A master's failure is seen at
// once (its connection drops); this bounds how long a master that is new
// to the cluster (resharding, or a replica promoted while its old master
// keeps its connection) can take writes unseen.
const clusterTopologyCheck = 250 * time.Millisecond

// ringTopologyCheck is how often a Ring subscription compares the Ring's
// live shards with those it tracks. The check reads the Ring's own state
// (no round trip), so it can be frequent: it bounds how long a shard that
// joins the Ring (SetAddrs, or marked up again by the heartbeat) can take
// reads and writes unseen.
const ringTopologyCheck = 50 * time.Millisecond

// Subscribe implements store.Invalidator over a standalone Redis 6 or
// later, a Sentinel failover client, a Redis Cluster or a Ring (see the
// package documentation).
//
// The subscriptions of one Store share its tracking connections (one per
// server, whatever the number of subscriptions): each connection tracks
// the prefixes of every subscription (a prefix that another one starts
// with is covered by it; Redis refuses overlapping prefixes on one
// connection), and each key is reported to the subscriptions whose prefix
// it starts with. A subscription whose prefix is already tracked is live
// at once if the stream is; one with a new prefix makes the connections
// start again, tracking it too, which the other subscriptions see as an
// interruption (a flush with Live false, then with Live true).
func (s *Store) Subscribe(ctx context.Context, prefix string, fn func(store.Invalidation)) (func(), error) {
	var run func(t *tracker)
	switch c := s.client.(type) {
	case *redis.Client:
		opt := c.Options()
		run = func(t *tracker) { t.runSingle(opt) }
	case *redis.ClusterClient:
		run = func(t *tracker) { t.runShards(clusterShards(c)) }
	case *redis.Ring:
		run = func(t *tracker) { t.runShards(ringShards(c)) }
	default:
		return nil, fmt.Errorf("%w: redisstore: invalidations need a *redis.Client, a failover client, a *redis.ClusterClient or a *redis.Ring, not a %T", store.ErrNotSupported, s.client)
	}
	sub := &subscriber{prefix: prefix, fn: fn}
	trackersMu.Lock()
	t := trackers[s]
	if t == nil {
		tctx, cancel := context.WithCancel(context.Background())
		t = &tracker{ctx: tctx, cancel: cancel, subs: map[*subscriber]struct{}{}, conns: map[net.Conn]struct{}{}}
		trackers[s] = t
		t.add(sub)
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			run(t)
		}()
	} else {
		t.add(sub)
	}
	trackersMu.Unlock()

	var once sync.Once
	stop := func() {
		once.Do(func() {
			trackersMu.Lock()
			t.fnMu.Lock()
			delete(t.subs, sub)
			last := len(t.subs) == 0
			t.fnMu.Unlock()
			if last {
				delete(trackers, s)
			}
			trackersMu.Unlock()
			if last {
				t.shutdown()
			}
		})
	}
	stopCtx := context.AfterFunc(ctx, stop)
	return func() {
		stopCtx()
		stop()
	}, nil
}

// trackers holds each Store's tracker while it has subscriptions.
var (
	trackersMu sync.Mutex
	trackers   = map[*Store]*tracker{}
)

// subscriber is one subscription of a tracker.
type subscriber struct {
	prefix string
	fn     func(store.Invalidation)
	live   bool // it was told the stream is live (and not since that it is lost)
}

// tracker is the stream of one Store: its connections and subscriptions.
type tracker struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	fnMu sync.Mutex // one fn call at a time, and guards the fields below
	subs map[*subscriber]struct{}
	// gen counts the subscriptions whose prefix the tracked prefixes did
	// not cover: a session whose prefixes were read at another gen does
	// not go live.
	gen uint64
	// tracked is what the connections of the session under way track (set
	// when they are being made); live reports that they all do.
	tracked []string
	live    bool

	mu    sync.Mutex
	conns map[net.Conn]struct{} // open connections, closed by stop
}

// shutdown ends the stream: no connection, no goroutine, no event after.
func (t *tracker) shutdown() {
	t.cancel()
	t.closeConns()
	t.wg.Wait()
}

// closeConns closes every open connection: the session under way ends.
func (t *tracker) closeConns() {
	t.mu.Lock()
	for c := range t.conns {
		c.Close()
	}
	t.mu.Unlock()
}

// covers reports whether tracking prefixes reports the keys of prefix.
func covers(prefixes []string, prefix string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(prefix, p) {
			return true
		}
	}
	return false
}

// add adds sub: live at once if the session under way tracks its prefix
// and is live; else the session starts again if it does not track it.
func (t *tracker) add(sub *subscriber) {
	t.fnMu.Lock()
	defer t.fnMu.Unlock()
	t.subs[sub] = struct{}{}
	if covers(t.tracked, sub.prefix) {
		if t.live {
			sub.live = true
			sub.fn(store.Invalidation{Flush: true, Live: true})
		}
		return
	}
	t.gen++
	t.closeConns()
}

// session starts a session: the prefixes its connections must track
// (sorted, none starting with another), and the gen they were read at.
func (t *tracker) session() (prefixes []string, gen uint64) {
	t.fnMu.Lock()
	defer t.fnMu.Unlock()
	for s := range t.subs {
		prefixes = append(prefixes, s.prefix)
	}
	slices.Sort(prefixes) // a prefix sorts before the strings it starts
	var cover []string
	for _, p := range prefixes {
		if !covers(cover, p) {
			cover = append(cover, p)
		}
	}
	t.tracked = cover
	t.live = false
	return cover, t.gen
}

// goLive reports the stream live to every subscription, if no
// subscription needing another prefix came since gen, and reports whether
// it did.
func (t *tracker) goLive(gen uint64) bool {
	t.fnMu.Lock()
	defer t.fnMu.Unlock()
	if t.gen != gen {
		return false
	}
	t.live = true
	for s := range t.subs {
		s.live = true
		s.fn(store.Invalidation{Flush: true, Live: true})
	}
	return true
}

// lost reports the stream interrupted to every subscription told it was
// live.
func (t *tracker) lost() {
	t.fnMu.Lock()
	defer t.fnMu.Unlock()
	t.live = false
	for s := range t.subs {
		if s.live {
			s.live = false
			s.fn(store.Invalidation{Flush: true, Live: false})
		}
	}
}

// deliver reports ev, read from a connection of a live session, to every
// live subscription: a flush to all, keys to those whose prefix they
// start with.
func (t *tracker) deliver(ev store.Invalidation) {
	t.fnMu.Lock()
	defer t.fnMu.Unlock()
	for s := range t.subs {
		if !s.live {
			continue
		}
		if ev.Flush || s.prefix == "" {
			s.fn(ev)
			continue
		}
		n := 0
		for _, k := range ev.Keys {
			if strings.HasPrefix(k, s.prefix) {
				n++
			}
		}
		switch {
		case n == len(ev.Keys): // the usual case: one key, one subscription
			s.fn(ev)
		case n > 0:
			keys := make([]string, 0, n)
			for _, k := range ev.Keys {
				if strings.HasPrefix(k, s.prefix) {
					keys = append(keys, k)
				}
			}
			s.fn(store.Invalidation{Keys: keys})
		}
	}
}

// retry sleeps for the backoff, doubled up to a second, and reports
// whether the subscription is still running.
func (t *tracker) retry(backoff *time.Duration) bool {
	select {
	case <-t.ctx.Done():
		return false
	case <-time.After(*backoff):
	}
	*backoff = min(2**backoff, time.Second)
	return true
}

// runSingle is the stream of a *redis.Client: one server, or the master
// of a failover client.
func (t *tracker) runSingle(opt *redis.Options) {
	backoff := 10 * time.Millisecond
	failover := opt.Addr == failoverAddr
	for t.ctx.Err() == nil {
		prefixes, gen := t.session()
		conn, r, err := t.connect(opt, failover, prefixes)
		if err == nil && !t.goLive(gen) {
			t.release(conn)
			err = errors.New("redisstore: a new prefix to track")
		}
		if err == nil {
			backoff = 10 * time.Millisecond
			t.read(conn, r) // until the connection fails
			t.release(conn)
			if t.ctx.Err() != nil {
				return
			}
			t.lost()
		}
		if !t.retry(&backoff) {
			return
		}
	}
}

// failoverAddr is the Addr go-redis gives the options of a failover
// client (its dialer asks the sentinels for the master's address).
const failoverAddr = "FailoverClient"

// shardSet is a deployment whose keys are spread over several servers (a
// Cluster's masters, a Ring's shards), each tracked by a connection of its
// own.
type shardSet struct {
	// topology names the servers that own keys, sorted: two answers
	// differ when the placement of keys may have changed.
	topology func(context.Context) ([]string, error)
	// servers returns the topology and the options of a client of each
	// of its servers.
	servers func(context.Context) ([]string, []*redis.Options, error)
	check   time.Duration // how often the topology is read again
	master  bool          // check with ROLE that each server is a master
}

// runShards is the stream of a shardSet: one connection per server, all
// up or the stream is not live.
func (t *tracker) runShards(set shardSet) {
	backoff := 10 * time.Millisecond
	for t.ctx.Err() == nil {
		if t.shardSession(set) {
			backoff = 10 * time.Millisecond
		}
		if !t.retry(&backoff) {
			return
		}
	}
}

// clusterShards is the shardSet of a Redis Cluster: its masters.
func clusterShards(cc *redis.ClusterClient) shardSet {
	topology := func(ctx context.Context) ([]string, error) { return clusterTopology(ctx, cc) }
	return shardSet{
		topology: topology,
		servers: func(ctx context.Context) ([]string, []*redis.Options, error) {
			before, err := topology(ctx)
			if err != nil {
				return nil, nil, err
			}
			masters, err := clusterMasters(ctx, cc)
			if err != nil {
				return nil, nil, err
			}
			if len(masters) != len(before) {
				return nil, nil, errors.New("redisstore: the cluster's masters changed")
			}
			return before, masters, nil
		},
		check:  clusterTopologyCheck,
		master: true,
	}
}

// clusterTopology returns the masters of the cluster's slot map (CLUSTER
// SLOTS), each as "node-id address", sorted: two answers differ when a
// master was added, removed, replaced or moved.
func clusterTopology(ctx context.Context, cc *redis.ClusterClient) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	//lint:ignore SA1019 CLUSTER SHARDS needs Redis 7; CLUSTER SLOTS answers on Redis 6 as well
	slots, err := cc.ClusterSlots(ctx).Result()
	if err != nil {
		return nil, err
	}
	var masters []string
	for _, s := range slots {
		if len(s.Nodes) > 0 {
			masters = append(masters, s.Nodes[0].ID+" "+s.Nodes[0].Addr)
		}
	}
	slices.Sort(masters)
	masters = slices.Compact(masters)
	if len(masters) == 0 {
		return nil, errors.New("redisstore: the cluster has no master")
	}
	return masters, nil
}

// clusterMasters returns the options of the cluster client's client of
// every master (after the cluster client reloaded its slot map).
func clusterMasters(ctx context.Context, cc *redis.ClusterClient) ([]*redis.Options, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var mu sync.Mutex
	var opts []*redis.Options
	err := cc.ForEachMaster(ctx, func(_ context.Context, c *redis.Client) error {
		mu.Lock()
		opts = append(opts, c.Options())
		mu.Unlock()
		return nil
	})
	return opts, err
}

// ringShards is the shardSet of a Ring: the shards its heartbeat holds
// live, which are the shards its consistent hash places keys on.
//
// Why the tier over a Ring serves no value that a read of the store would
// not: a local value was read from the shard that owned its key, and that
// shard's connection has tracked every key of the prefix (BCAST) since
// before the read, so any later write of the key on that shard, by any
// client, invalidates it. The placement of keys changes only with the set
// of live shards (Ring.SetAddrs adding or removing a shard, the heartbeat
// marking one down or up again), and every such change ends the session:
// the tier is flushed and stays off until every shard of the new set is
// tracked. So after a shard goes down and its keys re-hash to other
// shards, no local value read from the old owner survives, and the new
// owners are tracked before the tier serves again; this matters even when
// a new owner holds no value (a DEL of an absent key sends no
// invalidation). The one window is the time between the Ring's change
// and this poll (ringTopologyCheck, plus a connect): a read in it may go
// to a shard not yet tracked, and what it installs is flushed when the
// poll sees the change. A shard that dies is seen at once (its
// connection drops) and the tier is off until the heartbeat takes it out
// of the Ring.
//
// Not followed: Ring.SetAddrs giving the same addresses under other
// names, which re-hashes keys without changing the set of addresses; the
// Ring's API does not expose shard names. Close and reopen the caches
// after such a call.
func ringShards(ring *redis.Ring) shardSet {
	servers := func(ctx context.Context) ([]string, []*redis.Options, error) {
		var mu sync.Mutex
		var opts []*redis.Options
		// ForEachShard calls fn on the shards that are not down.
		err := ring.ForEachShard(ctx, func(_ context.Context, c *redis.Client) error {
			mu.Lock()
			opts = append(opts, c.Options())
			mu.Unlock()
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
		if len(opts) == 0 {
			return nil, nil, errors.New("redisstore: the ring has no live shard")
		}
		slices.SortFunc(opts, func(a, b *redis.Options) int { return strings.Compare(a.Addr, b.Addr) })
		addrs := make([]string, len(opts))
		for i, o := range opts {
			addrs[i] = o.Addr
		}
		return addrs, opts, nil
	}
	return shardSet{
		topology: func(ctx context.Context) ([]string, error) {
			addrs, _, err := servers(ctx)
			return addrs, err
		},
		servers: servers,
		check:   ringTopologyCheck,
	}
}

// shardSession connects to every server of the set, reports the stream
// live, and reads every connection until one fails or the topology
// changes, then reports the stream lost. It reports whether the stream was
// live.
func (t *tracker) shardSession(set shardSet) bool {
	prefixes, gen := t.session()
	before, servers, err := set.servers(t.ctx)
	if err != nil {
		return false
	}
	type tracked struct {
		conn net.Conn
		r    *bufio.Reader
	}
	var conns []tracked
	closeAll := func() {
		for _, c := range conns {
			t.release(c.conn)
		}
	}
	for _, opt := range servers {
		conn, r, err := t.connect(opt, set.master, prefixes)
		if err != nil {
			closeAll()
			return false
		}
		conns = append(conns, tracked{conn, r})
	}
	// A change of topology from before until now may have escaped the
	// connections: go live only if there was none. Any later change is
	// seen by the watch below.
	if now, err := set.topology(t.ctx); err != nil || !slices.Equal(now, before) || !t.goLive(gen) {
		closeAll()
		return false
	}

	ended := make(chan struct{})
	var once sync.Once
	end := func() { once.Do(func() { close(ended) }) }
	var readers sync.WaitGroup
	for _, c := range conns {
		readers.Add(1)
		go func() {
			defer readers.Done()
			defer end()
			t.read(c.conn, c.r)
		}()
	}
	watchCtx, stopWatch := context.WithCancel(t.ctx)
	watchDone := make(chan struct{})
	go func() { // any change of the topology ends the session
		defer close(watchDone)
		tick := time.NewTicker(set.check)
		defer tick.Stop()
		for {
			select {
			case <-watchCtx.Done():
				return
			case <-tick.C:
			}
			if now, err := set.topology(watchCtx); err == nil && !slices.Equal(now, before) {
				end()
				return
			}
		}
	}()
	select {
	case <-ended:
	case <-t.ctx.Done():
	}
	closeAll()
	readers.Wait()
	if t.ctx.Err() == nil {
		t.lost()
	}
	stopWatch()
	<-watchDone
	return true
}

// release closes conn and forgets it.
func (t *tracker) release(conn net.Conn) {
	t.mu.Lock()
	delete(t.conns, conn)
	t.mu.Unlock()
	conn.Close()
}

// connect dials the server of opt, authenticates with HELLO 3, checks
// that it is a master if master is set, and turns tracking on for
// prefixes (none of which starts with another).
func (t *tracker) connect(opt *redis.Options, master bool, prefixes []string) (net.Conn, *bufio.Reader, error) {
	ctx, cancel := context.WithTimeout(t.ctx, 5*time.Second)
	defer cancel()
	conn, err := opt.Dialer(ctx, opt.Network, opt.Addr)
	if err != nil {
		return nil, nil, err
	}
	t.mu.Lock()
	if t.ctx.Err() != nil {
		t.mu.Unlock()
		conn.Close()
		return nil, nil, t.ctx.Err()
	}
	t.conns[conn] = struct{}{}
	t.mu.Unlock()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(conn)
	hello := []string{"HELLO", "3"}
	user, pass := opt.Username, opt.Password
	if opt.CredentialsProvider != nil {
		user, pass = opt.CredentialsProvider()
	}
	if pass != "" {
		if user == "" {
			user = "default"
		}
		hello = append(hello, "AUTH", user, pass)
	}
	cmds := [][]string{hello}
	if master {
		cmds = append(cmds, []string{"ROLE"})
	}
	tracking := []string{"CLIENT", "TRACKING", "ON", "BCAST"}
	for _, p := range prefixes {
		if p != "" { // "" covers every key: no PREFIX
			tracking = append(tracking, "PREFIX", p)
		}
	}
	cmds = append(cmds, tracking)
	for _, cmd := range cmds {
		if err := writeCommand(conn, cmd...); err != nil {
			t.release(conn)
			return nil, nil, err
		}
		v, err := readRESP(r)
		if err == nil {
			if e, ok := v.(respError); ok {
				err = fmt.Errorf("redisstore: %s: %s", cmd[0], string(e))
			}
		}
		if err == nil && cmd[0] == "ROLE" {
			if role, ok := v.([]any); !ok || len(role) == 0 || role[0] != "master" {
				err = fmt.Errorf("redisstore: %s is not a master (ROLE %v)", conn.RemoteAddr(), v)
			}
		}
		if err != nil {
			t.release(conn)
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
			t.deliver(store.Invalidation{Flush: true, Live: true})
		case []any:
			ks := make([]string, 0, len(keys))
			for _, k := range keys {
				if s, ok := k.(string); ok {
					ks = append(ks, s)
				}
			}
			t.deliver(store.Invalidation{Keys: ks})
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
