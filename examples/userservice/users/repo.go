package users

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// ErrNotFound is returned for an id the repository does not hold.
var ErrNotFound = errors.New("users: user not found")

// User is the record the service stores and caches.
type User struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
	// Version counts the updates of the record (1 when created), so that a
	// client can tell a fresh read from a stale one.
	Version int `json:"version"`
}

// Repo is a deliberately slow in-memory user repository, standing in for
// a database: every read takes the latency given to NewRepo (a batch read
// takes it once, as one query does), half of it before the data is read
// and half after, as over a network; a write commits after the latency
// and answers a tenth of it later. So a read that started before a write
// may answer the old data after the write has answered. It counts its calls, so
// that the cache's effect can be seen and tested.
//
// A Repo is safe for concurrent use by multiple goroutines.
type Repo struct {
	latency time.Duration

	mu    sync.Mutex
	users map[string]User
	loads map[string]int // id -> times read

	calls, batchCalls, keysRead, writes atomic.Int64
}

// NewRepo returns a repository holding n users, with ids "1" to "n", whose
// reads take latency.
func NewRepo(n int, latency time.Duration) *Repo {
	r := &Repo{latency: latency, users: make(map[string]User, n), loads: map[string]int{}}
	for i := 1; i <= n; i++ {
		id := strconv.Itoa(i)
		r.users[id] = User{ID: id, Name: "User " + id, Email: "user" + id + "@example.com", Version: 1}
	}
	return r
}

// wait sleeps d, or less if ctx ends first.
func wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Get returns the user id, or an error wrapping ErrNotFound.
func (r *Repo) Get(ctx context.Context, id string) (User, error) {
	r.calls.Add(1)
	r.keysRead.Add(1)
	if err := wait(ctx, r.latency/2); err != nil {
		return User{}, err
	}
	r.mu.Lock()
	r.loads[id]++
	u, ok := r.users[id]
	r.mu.Unlock()
	if err := wait(ctx, r.latency-r.latency/2); err != nil {
		return User{}, err
	}
	if !ok {
		return User{}, fmt.Errorf("get %q: %w", id, ErrNotFound)
	}
	return u, nil
}

// GetMany returns the users of ids that exist, in one query; ids it does
// not hold are absent from the map.
func (r *Repo) GetMany(ctx context.Context, ids []string) (map[string]User, error) {
	r.batchCalls.Add(1)
	r.keysRead.Add(int64(len(ids)))
	if err := wait(ctx, r.latency/2); err != nil {
		return nil, err
	}
	found := make(map[string]User, len(ids))
	r.mu.Lock()
	for _, id := range ids {
		r.loads[id]++
		if u, ok := r.users[id]; ok {
			found[id] = u
		}
	}
	r.mu.Unlock()
	if err := wait(ctx, r.latency-r.latency/2); err != nil {
		return nil, err
	}
	return found, nil
}

// Put creates or replaces the user u.ID with u's name and email, and
// returns the stored record with its new version.
func (r *Repo) Put(ctx context.Context, u User) (User, error) {
	r.writes.Add(1)
	if err := wait(ctx, r.latency); err != nil {
		return User{}, err
	}
	r.mu.Lock()
	u.Version = r.users[u.ID].Version + 1
	r.users[u.ID] = u
	r.mu.Unlock()
	// The write has committed: even if ctx ends now, it stays.
	wait(context.WithoutCancel(ctx), r.latency/10)
	return u, nil
}

// Loads returns how many times id was read (by Get or GetMany).
func (r *Repo) Loads(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.loads[id]
}

// AllLoads returns how many times each id was read.
func (r *Repo) AllLoads() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.loads)
}

// RepoStats are a Repo's call counters.
type RepoStats struct {
	Calls      int64 `json:"calls"`       // Get calls
	BatchCalls int64 `json:"batch_calls"` // GetMany calls
	KeysRead   int64 `json:"keys_read"`   // ids asked for by both
	Writes     int64 `json:"writes"`      // Put calls
}

// Stats returns the repository's counters.
func (r *Repo) Stats() RepoStats {
	return RepoStats{
		Calls:      r.calls.Load(),
		BatchCalls: r.batchCalls.Load(),
		KeysRead:   r.keysRead.Load(),
		Writes:     r.writes.Load(),
	}
}
