package memstore

import "sync"

// notifier delivers OnRemove calls in the order the entries left the
// store, on one goroutine at a time, without ever making the operation
// that removed an entry wait: the engine's atomic deletion hook only
// appends the event to a queue (under a mutex no callback ever holds), and
// a single drain goroutine, started when the queue becomes non-empty and
// gone when it is empty again, calls OnRemove. A callback that blocks
// delays the later calls (the queue grows by one small record per removal
// meanwhile) but no operation of the store.
//
// The engine's own per-event goroutines (its OnDeletion with the default
// executor) would run the calls concurrently and in any order, and start
// one goroutine per removal, which under heavy eviction is a goroutine per
// Set.
type notifier struct {
	f func(key string, reason RemovalReason)

	mu      sync.Mutex
	queue   []pending
	running bool
}

// pending is one OnRemove call not made yet.
type pending struct {
	key    string
	reason RemovalReason
}

// add queues a call; it runs under the engine's bucket lock, so it does
// nothing but append.
func (n *notifier) add(key string, reason RemovalReason) {
	n.mu.Lock()
	n.queue = append(n.queue, pending{key, reason})
	start := !n.running
	n.running = true
	n.mu.Unlock()
	if start {
		go n.drain()
	}
}

// drain calls f for every queued pending, oldest first, until the queue
// is empty.
func (n *notifier) drain() {
	var batch []pending
	for {
		n.mu.Lock()
		if len(n.queue) == 0 {
			n.running = false
			n.mu.Unlock()
			return
		}
		batch, n.queue = n.queue, batch[:0]
		n.mu.Unlock()
		for i, r := range batch {
			n.call(r)
			batch[i] = pending{} // let the key go
		}
	}
}

// call runs f, recovering and discarding a panic so that the calls after
// it still run.
func (n *notifier) call(r pending) {
	defer func() { _ = recover() }()
	n.f(r.key, r.reason)
}
