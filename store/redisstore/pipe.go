package redisstore

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachet-go/cachet/store"
)

// Implicit pipelining: on a standalone server, Gets and Sets go out on a
// few connections of the store's own (BatchOptions.Conns), each shared by
// every caller. A caller queues its command on one connection; whoever
// holds the connection's write lock (the first caller to find it free)
// writes every queued command into one buffer and flushes it when the
// queue is momentarily empty, so that concurrent callers share write
// syscalls, and the server reads and answers their commands together. A
// reader goroutine per connection parses the replies in order and hands
// each to its caller. Each caller waits on its own context: a caller that
// leaves before its command is written withdraws it (it is never sent); a
// caller that leaves after has its reply read and dropped.
//
// A connection that fails (a read or write error, a reply that cannot be
// parsed, a read timeout) fails every command written on it and not yet
// answered, and is dialled again for the commands queued after. No Set
// is ever resent: a command still queued was never written, and one
// written fails with the connection. A Get that failed because its
// connection broke (not a timeout) is sent once more on a new one: GET is
// idempotent, and a connection that the server closed (CLIENT KILL, a
// restart) is otherwise noticed only by the commands that raced the
// close. The connection is marked dead before any of its commands is
// failed, so that the retry never goes out on it.
//
// The connection's read deadline is the latest deadline of the commands
// written on it (each caller's context deadline, or the store's
// ContextTimeout from now): a server that stops answering breaks the
// connection only once every caller waiting on it has left. With
// Options.ReadTimeout set, a read also fails after that long, as in
// go-redis.

// DefaultBatchConns is BatchOptions.Conns' default: no pipelined
// connections, Gets and Sets go through the go-redis client with group
// commit. On a quiet 2-core machine, group commit over the client gave
// more Gets per second than one pipelined connection with 16 and with 64
// goroutines (see "Batching" in the package documentation).
const DefaultBatchConns = 0

// pipeline is a store's pipelined connections to one standalone server.
type pipeline struct {
	opt        *redis.Options
	ctxTimeout time.Duration // deadline for a context without one; <= 0: none
	conns      []*pconn
	next       atomic.Uint32
	closed     atomic.Bool
	// active counts the Gets and Sets under way; one that finds none
	// goes through the go-redis client, as without pipelining.
	active atomic.Int32
	// noDirect, set only by tests, sends every Get and Set over the
	// pipeline.
	noDirect bool
}

// errPipeClosed is the error of a command cut short by Close.
var errPipeClosed = fmt.Errorf("redisstore: pipelined connection: %w", redis.ErrClosed)

// pipeable reports whether c's Gets and Sets can go over a pipeline: a
// plain client to one server (not a Sentinel failover client, whose
// master moves) without an OnConnect callback or credentials that only
// go-redis knows how to apply.
func pipeable(c *redis.Client) (*redis.Options, bool) {
	opt := c.Options()
	if opt.Addr == "FailoverClient" || opt.OnConnect != nil || opt.Dialer == nil ||
		opt.CredentialsProviderContext != nil || opt.StreamingCredentialsProvider != nil {
		return nil, false
	}
	return opt, true
}

func newPipeline(opt *redis.Options, conns int, ctxTimeout time.Duration) *pipeline {
	p := &pipeline{opt: opt, ctxTimeout: ctxTimeout}
	for range conns {
		p.conns = append(p.conns, &pconn{p: p})
	}
	return p
}

// Request kinds and states.
const (
	opGet uint8 = iota
	opSet
)

const (
	pqQueued  int32 = iota
	pqWriting       // being encoded: its key and value are being read
	pqWritten
	pqWithdrawn
)

// preq is one caller's command on a pipelined connection.
type preq struct {
	op       uint8
	key      string
	value    []byte        // opSet
	ttl      time.Duration // opSet, already rounded (pttl)
	deadline int64         // unix nanoseconds; math.MaxInt64: none
	mget     int           // > 1: first of that many GETs sent as one MGET
	state    atomic.Int32

	val  []byte // opGet: the value, nil when missing
	err  error
	done chan struct{} // receives once val and err are set
}

var preqPool = sync.Pool{New: func() any { return &preq{done: make(chan struct{}, 1)} }}

// do runs one command, r, on one of p's connections and waits for its
// reply or for ctx to end. The caller must not use r after do returns
// with a context error; otherwise it may recycle it (release).
func (p *pipeline) do(ctx context.Context, r *preq) (answered bool, err error) {
	if p.closed.Load() {
		return true, errPipeClosed
	}
	r.deadline = math.MaxInt64
	if d, ok := ctx.Deadline(); ok {
		r.deadline = d.UnixNano()
	} else if p.ctxTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.ctxTimeout)
		defer cancel()
		d, _ := ctx.Deadline()
		r.deadline = d.UnixNano()
	}
	c := p.conns[0]
	if len(p.conns) > 1 {
		c = p.conns[p.next.Add(1)%uint32(len(p.conns))]
	}
	c.qmu.Lock()
	c.queue = append(c.queue, r)
	c.qmu.Unlock()
	c.flush()
	if p.closed.Load() {
		// Close may have failed the queue before r joined it.
		c.wmu.Lock()
		c.failQueued(errPipeClosed)
		c.wmu.Unlock()
	}
	select {
	case <-r.done:
		return true, r.err
	case <-ctx.Done():
	}
	if r.state.CompareAndSwap(pqQueued, pqWithdrawn) {
		return false, ctx.Err() // never written
	}
	// The caller may reuse a Set's value once Set returns: wait until the
	// writer has copied it (nanoseconds, unless the buffer is being
	// flushed).
	for r.state.Load() == pqWriting {
		runtime.Gosched()
	}
	select {
	case <-r.done: // answered as ctx ended: keep the answer
		return true, r.err
	default: // written: its outcome is unknown
		return false, ctx.Err()
	}
}

func newPreq(op uint8, key string) *preq {
	r := preqPool.Get().(*preq)
	r.op, r.key = op, key
	r.state.Store(pqQueued)
	return r
}

// release recycles r; only for a request whose answer its caller received.
func releasePreq(r *preq) {
	*r = preq{done: r.done}
	preqPool.Put(r)
}

func (p *pipeline) close() {
	if !p.closed.CompareAndSwap(false, true) {
		return
	}
	for _, c := range p.conns {
		c.wmu.Lock()
		c.closed = true
		if c.cur != nil {
			c.cur.fail(errPipeClosed) // its reader fails what is in flight
			c.cur = nil
		}
		c.failQueued(errPipeClosed)
		c.wmu.Unlock()
	}
}

// pconn is one pipelined connection, redialled when it fails.
type pconn struct {
	p *pipeline

	qmu   sync.Mutex
	queue []*preq // commands not yet taken by a writer
	spare []*preq

	// wmu is held by whoever writes; it guards the fields below.
	wmu     sync.Mutex
	cur     *wconn // nil when not connected
	dialing bool
	closed  bool
	batch   []*preq
}

// flush writes every queued command unless another goroutine holds the
// write lock (it will write them). It returns once the queue is empty or
// the lock is someone else's.
func (c *pconn) flush() {
	if !c.wmu.TryLock() {
		return
	}
	for {
		if c.cur != nil && c.cur.dead.Load() {
			c.cur = nil // its reader is failing what it holds: dial again
		}
		if c.cur == nil && !c.dialing && !c.closed {
			c.dialing = true
			go c.dial()
		}
		if c.cur == nil {
			// Not connected: the dialler writes the queue when done.
			c.wmu.Unlock()
			return
		}
		c.qmu.Lock()
		batch := c.queue
		c.queue, c.spare = c.spare[:0], nil
		c.qmu.Unlock()
		if len(batch) > 0 && c.cur.dead.Load() {
			// It died since the check above: nothing of batch was
			// written; put it back for the next connection.
			c.qmu.Lock()
			c.queue = append(batch, c.queue...)
			c.qmu.Unlock()
			continue
		}
		if len(batch) > 0 {
			c.write(batch)
			clear(batch)
			c.spare = batch[:0]
			continue
		}
		if c.cur.w.Buffered() > 0 {
			c.flushOut()
			continue
		}
		c.wmu.Unlock()
		// A command queued after the queue was found empty and before
		// the unlock found the lock held: write it now, unless someone
		// else has taken the lock meanwhile.
		c.qmu.Lock()
		empty := len(c.queue) == 0
		c.qmu.Unlock()
		if empty || !c.wmu.TryLock() {
			return
		}
	}
}

// write encodes batch into c.cur's buffer and hands the commands to its
// reader; it flushes when no command queued meanwhile or the buffer is
// large (wmu held).
func (c *pconn) write(batch []*preq) {
	wc := c.cur
	written := c.batch[:0]
	var latest int64
	for _, r := range batch {
		if !r.state.CompareAndSwap(pqQueued, pqWriting) {
			continue // withdrawn
		}
		latest = max(latest, r.deadline)
		written = append(written, r)
	}
	// A large value makes the buffer write out before the flush.
	wc.bufLatest = max(wc.bufLatest, latest)
	for i := 0; i < len(written); {
		r := written[i]
		if r.op == opSet {
			writeSet(wc.w, r.key, r.value, r.ttl)
			i++
			continue
		}
		// A run of GETs goes out as one MGET (cheaper for the server).
		n := 1
		for pipeMGet && i+n < len(written) && written[i+n].op == opGet {
			n++
		}
		if n == 1 {
			writeArgs(wc.w, "GET", r.key)
		} else {
			r.mget = n
			writeBulkHeader(wc.w, '*', n+1)
			wc.w.WriteString("$4\r\nMGET\r\n")
			for _, g := range written[i : i+n] {
				writeBulkHeader(wc.w, '$', len(g.key))
				wc.w.WriteString(g.key)
				wc.w.WriteString("\r\n")
			}
		}
		i += n
	}
	for _, r := range written {
		r.state.Store(pqWritten)
	}
	if len(written) > 0 {
		wc.bufLatest = max(wc.bufLatest, latest)
		wc.push(written, latest)
		clear(written)
		c.batch = written[:0]
	}
	c.qmu.Lock()
	more := len(c.queue) > 0
	c.qmu.Unlock()
	if more && wc.w.Buffered() < 32<<10 {
		return // flush with the commands queued meanwhile
	}
	if wc.w.Buffered() > 0 {
		c.flushOut()
	}
}

// flushOut writes c.cur's buffer out; on an error the connection is closed
// (its reader fails what was written) and dropped (wmu held).
func (c *pconn) flushOut() {
	wc := c.cur
	err := wc.w.Flush()
	wc.bufLatest = 0
	if err != nil {
		wc.fail(err)
		c.cur = nil
	}
}

// dial connects and initialises a connection, then writes what queued
// meanwhile; when it fails, every queued command fails with its error.
func (c *pconn) dial() {
	wc, err := dialPipe(c.p.opt)
	c.wmu.Lock()
	c.dialing = false
	switch {
	case c.closed:
		if wc != nil {
			wc.nc.Close()
		}
		c.failQueued(errPipeClosed)
	case err != nil:
		c.failQueued(err)
	default:
		c.cur = wc
		go wc.read(c)
	}
	c.wmu.Unlock()
	if err == nil {
		c.flush()
	}
}

// failQueued answers every queued command with err (wmu held).
func (c *pconn) failQueued(err error) {
	c.qmu.Lock()
	q := c.queue
	c.queue = nil
	c.qmu.Unlock()
	for _, r := range q {
		if r.state.CompareAndSwap(pqQueued, pqWritten) {
			r.err = err
			r.done <- struct{}{}
		}
	}
}

// connBroken is called by a connection's reader when it fails: the next
// flush redials.
func (c *pconn) connBroken(wc *wconn) {
	c.wmu.Lock()
	if c.cur == wc {
		c.cur = nil
	}
	c.wmu.Unlock()
	// Commands may have queued behind the broken connection with no one
	// left to write them.
	c.qmu.Lock()
	pending := len(c.queue) > 0
	c.qmu.Unlock()
	if pending {
		c.flush()
	}
}

// wconn is one live connection: its writer side (guarded by the pconn's
// wmu) and the FIFO of commands written and not yet answered.
type wconn struct {
	nc           net.Conn
	w            *bufio.Writer
	br           *bufio.Reader
	readTimeout  time.Duration // Options.ReadTimeout when > 0
	writeTimeout time.Duration
	writeSet     int64 // the write deadline set (wmu held)
	bufLatest    int64 // latest deadline of the commands in w (wmu held)

	dead atomic.Bool // set, before any command fails with it, once the connection failed

	fmu     sync.Mutex
	fifo    []*preq
	err     error // set once the connection failed
	want    int64 // latest deadline of the commands pushed; 0: none
	readSet int64 // the read deadline set; 0: none
	idle    bool  // the reader waits with nothing in flight
}

// push hands written commands to the reader, in order, and moves the read
// deadline to the latest of their deadlines.
func (wc *wconn) push(rs []*preq, latest int64) {
	wc.fmu.Lock()
	if wc.err != nil {
		err := wc.err
		wc.fmu.Unlock()
		for _, r := range rs {
			r.err = err
			r.done <- struct{}{}
		}
		return
	}
	wc.fifo = append(wc.fifo, rs...)
	wc.want = max(wc.want, latest)
	wc.armRead()
	wc.fmu.Unlock()
}

// deadlineGrain is how much later than needed a read deadline may be
// set, so that it moves once per grain, not once per command.
const deadlineGrain = int64(20 * time.Millisecond)

// armRead sets the read deadline from want (fmu held): never earlier than
// want, at most deadlineGrain later; with a ReadTimeout, now plus that.
func (wc *wconn) armRead() {
	d := wc.want
	if wc.readTimeout > 0 {
		d = min(d, time.Now().Add(wc.readTimeout).UnixNano())
	} else if d <= wc.readSet || (wc.readSet == 0 && d == 0) {
		return // the deadline set is late enough
	} else if d != math.MaxInt64 {
		d += deadlineGrain - d%deadlineGrain
	}
	wc.readSet = d
	wc.nc.SetReadDeadline(deadlineTime(d))
}

// fail closes the connection; its reader then fails every command in
// flight.
func (wc *wconn) fail(err error) {
	wc.fmu.Lock()
	if wc.err == nil {
		wc.err = err
	}
	wc.dead.Store(true)
	wc.fmu.Unlock()
	wc.nc.Close()
}

// connWriter is what a wconn's buffer writes out to: the connection,
// with the write deadline moved to the latest deadline of the commands in
// the buffer (wmu held).
type connWriter struct{ wc *wconn }

func (cw connWriter) Write(p []byte) (int, error) {
	wc := cw.wc
	d := wc.bufLatest
	if wc.writeTimeout > 0 {
		d = min(d, time.Now().Add(wc.writeTimeout).UnixNano())
	}
	if d != wc.writeSet {
		wc.writeSet = d
		wc.nc.SetWriteDeadline(deadlineTime(d))
	}
	return wc.nc.Write(p)
}

// read answers the commands written on wc in order until wc fails, then
// fails those left. With nothing in flight it waits in a read without a
// deadline, so that a connection the server closes is noticed at once.
func (wc *wconn) read(c *pconn) {
	var local []*preq
	var err error
	for {
		wc.fmu.Lock()
		if wc.err != nil {
			err = wc.err
			wc.fmu.Unlock()
			break
		}
		local, wc.fifo = wc.fifo, local[:0]
		if len(local) == 0 {
			// Idle: the deadline left set is cleared if it fires
			// (connReader).
			wc.idle = true
			wc.fmu.Unlock()
			_, err = wc.br.Peek(1)
			wc.fmu.Lock()
			wc.idle = false
			wc.fmu.Unlock()
			if err != nil {
				break
			}
			continue
		}
		if wc.readTimeout > 0 {
			wc.armRead()
		}
		wc.fmu.Unlock()
		for i := 0; i < len(local); {
			if wc.readTimeout > 0 && i > 0 {
				wc.fmu.Lock()
				wc.armRead()
				wc.fmu.Unlock()
			}
			n := max(local[i].mget, 1)
			if n == 1 {
				err = readReply(wc.br, local[i])
			} else {
				err = readMGet(wc.br, local[i:i+n])
			}
			if err != nil {
				// Dead before any caller hears of it, so that a Get
				// retried at once goes out on a new connection.
				wc.dead.Store(true)
				for _, r := range local[i:] {
					r.err = err
					r.done <- struct{}{}
				}
				break
			}
			for _, r := range local[i : i+n] {
				r.done <- struct{}{}
			}
			i += n
		}
		clear(local)
		if err != nil {
			break
		}
	}
	err = fmt.Errorf("redisstore: pipelined connection: %w", err)
	wc.fmu.Lock()
	if wc.err == nil {
		wc.err = err
	}
	wc.dead.Store(true)
	err = wc.err
	rest := wc.fifo
	wc.fifo = nil
	wc.fmu.Unlock()
	wc.nc.Close()
	for _, r := range rest {
		r.err = err
		r.done <- struct{}{}
	}
	c.connBroken(wc)
}

// connReader is what a wconn's reader reads from: the connection, where a
// read that timed out while a later deadline was being set is read again.
type connReader struct{ wc *wconn }

func (cr connReader) Read(p []byte) (int, error) {
	wc := cr.wc
	for {
		n, err := wc.nc.Read(p)
		var ne net.Error
		if n != 0 || err == nil || !errors.As(err, &ne) || !ne.Timeout() {
			return n, err
		}
		wc.fmu.Lock()
		later := wc.readSet == 0 || wc.readSet > time.Now().UnixNano()
		if !later && wc.idle && len(wc.fifo) == 0 {
			// Nothing in flight: wait on without a deadline.
			wc.readSet, wc.want = 0, 0
			wc.nc.SetReadDeadline(time.Time{})
			later = true
		}
		wc.fmu.Unlock()
		if !later {
			return n, err
		}
	}
}

func deadlineTime(ns int64) time.Time {
	if ns == math.MaxInt64 || ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// dialPipe dials opt's server with its dialer (TLS included) and
// initialises the connection: AUTH, SELECT, CLIENT SETNAME as opt says.
func dialPipe(opt *redis.Options) (*wconn, error) {
	timeout := opt.DialTimeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	nc, err := opt.Dialer(ctx, opt.Network, opt.Addr)
	if err != nil {
		return nil, fmt.Errorf("redisstore: pipelined connection: dial %s: %w", opt.Addr, err)
	}
	wc := &wconn{nc: nc}
	wc.br = bufio.NewReaderSize(connReader{wc}, 64<<10)
	wc.w = bufio.NewWriterSize(connWriter{wc}, 64<<10)
	if opt.ReadTimeout > 0 {
		wc.readTimeout = opt.ReadTimeout
	}
	if opt.WriteTimeout > 0 {
		wc.writeTimeout = opt.WriteTimeout
	}
	var init [][]string
	user, pass := opt.Username, opt.Password
	if opt.CredentialsProvider != nil {
		user, pass = opt.CredentialsProvider()
	}
	switch {
	case pass != "" && user != "":
		init = append(init, []string{"AUTH", user, pass})
	case pass != "":
		init = append(init, []string{"AUTH", pass})
	}
	if opt.DB != 0 {
		init = append(init, []string{"SELECT", strconv.Itoa(opt.DB)})
	}
	if opt.ClientName != "" {
		init = append(init, []string{"CLIENT", "SETNAME", opt.ClientName})
	}
	if len(init) == 0 {
		return wc, nil
	}
	nc.SetDeadline(time.Now().Add(timeout))
	wc.writeSet = time.Now().Add(timeout).UnixNano()
	wc.bufLatest, wc.readSet = wc.writeSet, wc.writeSet
	for _, args := range init {
		writeArgs(wc.w, args...)
	}
	err = wc.w.Flush()
	for i := 0; err == nil && i < len(init); i++ {
		r := &preq{op: opSet}
		if err = readReply(wc.br, r); err == nil && r.err != nil {
			err = fmt.Errorf("%s: %w", init[i][0], r.err)
		}
	}
	nc.SetDeadline(time.Time{})
	wc.writeSet, wc.bufLatest, wc.readSet = 0, 0, 0
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("redisstore: pipelined connection to %s: %w", opt.Addr, err)
	}
	return wc, nil
}

// RESP encoding.

func writeBulkHeader(w *bufio.Writer, prefix byte, n int) {
	var buf [24]byte
	b := append(buf[:0], prefix)
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, '\r', '\n')
	w.Write(b)
}

func writeArgs(w *bufio.Writer, args ...string) {
	writeBulkHeader(w, '*', len(args))
	for _, a := range args {
		writeBulkHeader(w, '$', len(a))
		w.WriteString(a)
		w.WriteString("\r\n")
	}
}

func writeSet(w *bufio.Writer, key string, value []byte, ttl time.Duration) {
	n := 3
	var ms [20]byte
	var px []byte
	if ttl > 0 {
		n = 5
		px = strconv.AppendInt(ms[:0], int64(ttl/time.Millisecond), 10)
	}
	writeBulkHeader(w, '*', n)
	w.WriteString("$3\r\nSET\r\n")
	writeBulkHeader(w, '$', len(key))
	w.WriteString(key)
	w.WriteString("\r\n")
	writeBulkHeader(w, '$', len(value))
	w.Write(value)
	w.WriteString("\r\n")
	if px != nil {
		w.WriteString("$2\r\nPX\r\n")
		writeBulkHeader(w, '$', len(px))
		w.Write(px)
		w.WriteString("\r\n")
	}
}

// RESP decoding.

// pipeMGet makes a run of GETs written together go out as one MGET.
var pipeMGet = true

// readMGet reads the reply of the MGET of rs' keys into each of rs; an
// error reply is each one's error.
func readMGet(br *bufio.Reader, rs []*preq) error {
	line, err := readLine(br)
	if err != nil {
		return err
	}
	switch line[0] {
	case '-':
		for _, r := range rs {
			r.err = serverError(line[1:])
		}
		return nil
	case '*':
		if n, err := parseLen(line[1:]); err != nil || n != len(rs) {
			return errProtocol
		}
		for _, r := range rs {
			if err := readReply(br, r); err != nil {
				return err
			}
		}
		return nil
	}
	return errProtocol
}

// serverError is an error reply; it wraps nothing and reads as go-redis
// prints such replies.
type serverError string

func (e serverError) Error() string { return string(e) }

// RedisError marks it as a reply of the server, as go-redis' errors are.
func (e serverError) RedisError() {}

var errProtocol = errors.New("redisstore: pipelined connection: malformed reply")

// readLine returns one reply line without its CRLF.
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		if err == bufio.ErrBufferFull {
			return nil, errProtocol
		}
		return nil, err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return nil, errProtocol
	}
	return line[:len(line)-2], nil
}

func parseLen(b []byte) (int, error) {
	n, err := strconv.Atoi(string(b))
	if err != nil || n < -1 {
		return 0, errProtocol
	}
	return n, nil
}

// readReply reads one reply into r: a GET's bulk string or nil, a SET's
// status; an error reply becomes r.err. The error returned is the
// connection's (it cannot be used any more).
func readReply(br *bufio.Reader, r *preq) error {
	line, err := readLine(br)
	if err != nil {
		return err
	}
	switch line[0] {
	case '$':
		n, err := parseLen(line[1:])
		if err != nil {
			return err
		}
		if n < 0 {
			return nil // missing
		}
		if r.op != opGet {
			_, err = br.Discard(n + 2)
			return err
		}
		v := make([]byte, n+2)
		if _, err := io.ReadFull(br, v); err != nil {
			return err
		}
		if v[n] != '\r' || v[n+1] != '\n' {
			return errProtocol
		}
		r.val = v[:n:n]
		return nil
	case '+':
		if r.op == opGet {
			r.err = fmt.Errorf("redisstore: unexpected status reply %q to GET", line[1:])
		}
		return nil
	case '-':
		r.err = serverError(line[1:])
		return nil
	case ':':
		r.err = fmt.Errorf("redisstore: unexpected integer reply %q", line[1:])
		return nil
	case '*':
		n, err := parseLen(line[1:])
		if err != nil {
			return err
		}
		for range n {
			if err := readReply(br, &preq{op: opSet}); err != nil {
				return err
			}
		}
		r.err = errors.New("redisstore: unexpected array reply")
		return nil
	}
	return errProtocol
}

// storePipeline returns the pipeline s's Gets and Sets go through, or nil
// when they go through client: a store has one only when Conns is
// positive (DefaultBatchConns is none).
func storePipeline(client redis.UniversalClient, bo BatchOptions, opts *Options, owned bool) *pipeline {
	c, ok := client.(*redis.Client)
	if !ok || bo.Disabled || bo.Conns <= 0 {
		return nil
	}
	opt, ok := pipeable(c)
	if !ok {
		return nil
	}
	conns := bo.Conns
	ctxTimeout := DefaultContextTimeout
	if opts != nil && opts.ContextTimeout != 0 {
		ctxTimeout = opts.ContextTimeout
	}
	return newPipeline(opt, conns, ctxTimeout)
}

// pipeGet is Get over the pipeline.
func (s *Store) pipeGet(ctx context.Context, key string) ([]byte, error) {
	defer s.pipe.active.Add(-1)
	if s.pipe.active.Add(1) == 1 && !s.pipe.noDirect {
		// Alone: the client's own round trip is the quickest.
		str, err := s.client.Get(ctx, key).Result()
		switch {
		case err == redis.Nil:
			return nil, store.Errorf(store.OpGet.String(), key, store.ErrNotFound)
		case err != nil:
			return nil, s.fail(ctx, store.OpGet.String(), key, err)
		}
		return nonNil(owned(str)), nil
	}
	r := newPreq(opGet, key)
	answered, err := s.pipe.do(ctx, r)
	if answered && s.pipe.retryable(ctx, err) {
		// GET is idempotent: once more, on a new connection.
		releasePreq(r)
		r = newPreq(opGet, key)
		answered, err = s.pipe.do(ctx, r)
	}
	if !answered {
		return nil, s.fail(ctx, store.OpGet.String(), key, err)
	}
	v := r.val
	releasePreq(r)
	switch {
	case err != nil:
		return nil, s.fail(ctx, store.OpGet.String(), key, err)
	case v == nil:
		return nil, store.Errorf(store.OpGet.String(), key, store.ErrNotFound)
	}
	return v, nil
}

// retryable reports whether a Get that failed with err may be sent again:
// its connection broke (the server closed it, or writing to it failed),
// the pipeline is open, and ctx has not ended. A timeout is not retried
// (the caller's time is spent), nor a reply the server gave. Only Gets
// are retried, once: a Set that was written is never resent.
func (p *pipeline) retryable(ctx context.Context, err error) bool {
	if err == nil || p.closed.Load() || ctx.Err() != nil {
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// pipeSet is Set over the pipeline; ttl is already PX's (pttl).
func (s *Store) pipeSet(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	defer s.pipe.active.Add(-1)
	if s.pipe.active.Add(1) == 1 && !s.pipe.noDirect {
		if err := s.client.Set(ctx, key, value, ttl).Err(); err != nil {
			return s.fail(ctx, store.OpSet.String(), key, err)
		}
		return nil
	}
	r := newPreq(opSet, key)
	r.value, r.ttl = value, ttl
	answered, err := s.pipe.do(ctx, r)
	if answered {
		releasePreq(r)
	}
	if err != nil {
		return s.fail(ctx, store.OpSet.String(), key, err)
	}
	return nil
}
