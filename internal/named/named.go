// Package named holds the process-wide tables of registered names that
// the module keeps: URL schemes (store/storeurl) and plugins (caches).
package named

import (
	"slices"
	"sync"
)

// Table maps registered names to values. It is safe for concurrent use.
type Table[T any] struct {
	mu sync.RWMutex
	m  map[string]T
}

// New returns a table holding initial (which it keeps; nil for none).
func New[T any](initial map[string]T) *Table[T] {
	if initial == nil {
		initial = map[string]T{}
	}
	return &Table[T]{m: initial}
}

// Add registers v under name and reports false if name was taken.
func (t *Table[T]) Add(name string, v T) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, dup := t.m[name]; dup {
		return false
	}
	t.m[name] = v
	return true
}

// Get returns the value registered under name, and whether there is one.
func (t *Table[T]) Get(name string) (T, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	v, ok := t.m[name]
	return v, ok
}

// Names returns the registered names, sorted.
func (t *Table[T]) Names() []string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	names := make([]string, 0, len(t.m))
	for name := range t.m {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}
