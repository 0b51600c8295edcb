package memcachestore

import (
	"sync"
	"time"
)

// maxHints bounds the number of namespaces whose generation a Store
// remembers; when it is reached the memory is emptied and refilled.
const maxHints = 4096

// hints remembers the last generation seen for each namespace. A hint
// younger than ttl (when ttl is positive) is trusted without asking
// memcached; an older one is used only while the namespace's counter
// cannot be read (its server is down). It is safe for concurrent use.
type hints struct {
	ttl   time.Duration
	mu    sync.RWMutex
	m     map[string]hint
	epoch uint64 // bumped by reset, so that reads begun before it do not store stale hints
}

type hint struct {
	gen uint64
	at  time.Time // when gen was read; zero when ttl is 0
}

// get returns the hint for ns, whether there is one, whether it may be
// trusted without checking, and the current epoch.
func (h *hints) get(ns string) (gen uint64, ok, fresh bool, epoch uint64) {
	h.mu.RLock()
	e, ok := h.m[ns]
	epoch = h.epoch
	h.mu.RUnlock()
	if !ok {
		return 0, false, false, epoch
	}
	fresh = h.ttl > 0 && time.Since(e.at) < h.ttl
	return e.gen, true, fresh, epoch
}

// put records gen for ns as read during epoch. Generations only grow (see
// Store.createGen), so an older generation never replaces a newer one; a
// put from before a reset is dropped.
func (h *hints) put(ns string, gen uint64, epoch uint64) {
	var at time.Time
	if h.ttl > 0 {
		at = time.Now()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if epoch != h.epoch {
		return
	}
	if e, ok := h.m[ns]; ok && e.gen > gen {
		return
	}
	if h.m == nil || len(h.m) >= maxHints {
		h.m = make(map[string]hint)
	}
	h.m[ns] = hint{gen: gen, at: at}
}

// touch marks the hint for ns, if it still holds gen, as read now, so that
// it is trusted for another ttl.
func (h *hints) touch(ns string, gen uint64) {
	if h.ttl <= 0 {
		return
	}
	h.mu.Lock()
	if e, ok := h.m[ns]; ok && e.gen == gen {
		h.m[ns] = hint{gen: gen, at: time.Now()}
	}
	h.mu.Unlock()
}

// drop forgets ns (its generation counter is gone).
func (h *hints) drop(ns string) {
	h.mu.Lock()
	delete(h.m, ns)
	h.mu.Unlock()
}

// reset forgets every namespace (after flush_all).
func (h *hints) reset() {
	h.mu.Lock()
	h.m = nil
	h.epoch++
	h.mu.Unlock()
}
