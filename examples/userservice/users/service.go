// Package users is the user service of examples/userservice: a net/http
// JSON API with a cachet cache in front of a slow repository.
//
//	GET /users/{id}        one user, memoized (a Memoizer over the cache)
//	GET /users?ids=1,2,3   a batch, on a ManyMemoizer: one repository
//	                       query for the ids that missed
//	PUT /users/{id}        update the repository, then write through to
//	                       the cache
//	GET /stats             hits and misses (HitMissRatio), store timings
//	                       (Timing), repository calls and requests served
//	GET /metrics           per-operation counters of an ExpvarRecorder
package users

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachet-go/cachet"
	"github.com/cachet-go/cachet/codec"
)

// Options configures Open. The zero value of each field is its default.
type Options struct {
	// TTL of cached users. Default: 5 minutes.
	TTL time.Duration
	// NotFoundTTL is how long an unknown id is remembered as unknown
	// (negative caching). Default: 30 seconds.
	NotFoundTTL time.Duration
}

// Service serves the user API. Create one with Open; its Handler serves
// the routes. A Service is safe for concurrent use.
type Service struct {
	repo   *Repo
	cache  *cachet.Cache[string, User]
	one    *cachet.Memoizer[string, User]
	many   *cachet.ManyMemoizer[string, User]
	hits   *cachet.HitMissRatio
	timing *cachet.Timing
	rec    *cachet.ExpvarRecorder

	// locks order an update against the reads of its id in this process:
	// a read (cache and repository) holds its stripe's read lock, an
	// update its write lock, so that no load that read the repository
	// before an update can write its old value to the cache after it.
	seed  maphash.Seed
	locks [64]sync.RWMutex

	gets, batches, puts atomic.Int64
}

// Open opens the cache that cacheURL names (memory://, redis://,
// memcached://: the schemes the program has registered) and returns a
// Service of repo's users behind it. The cache's store is the Service's:
// Close closes it.
func Open(cacheURL string, repo *Repo, o *Options) (*Service, error) {
	if o == nil {
		o = &Options{}
	}
	ttl, nf := o.TTL, o.NotFoundTTL
	if ttl == 0 {
		ttl = 5 * time.Minute
	}
	if nf == 0 {
		nf = 30 * time.Second
	}
	s := &Service{
		repo:   repo,
		hits:   new(cachet.HitMissRatio),
		timing: new(cachet.Timing),
		rec:    new(cachet.ExpvarRecorder),
		seed:   maphash.MakeSeed(),
	}
	c, err := cachet.OpenCache[string](cacheURL, codec.JSON[User](), &cachet.Options[string]{
		Namespace: "users",
		TTL:       ttl,
		Middleware: []cachet.Middleware{
			cachet.WithPlugins(s.hits, s.timing),
			cachet.Metrics(s.rec),
		},
	})
	if err != nil {
		return nil, err
	}
	mo := &cachet.MemoizeOptions[string, User]{NotFound: ErrNotFound, NotFoundTTL: nf}
	if s.one, err = cachet.NewMemoizer(c, repo.Get, mo); err == nil {
		s.many, err = cachet.NewManyMemoizer(c, repo.GetMany, mo)
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	s.cache = c
	return s, nil
}

// Cache returns the service's cache.
func (s *Service) Cache() *cachet.Cache[string, User] { return s.cache }

// Repo returns the service's repository.
func (s *Service) Repo() *Repo { return s.repo }

// Close closes the cache and its store.
func (s *Service) Close() error { return s.cache.Close() }

// Handler returns the service's routes.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /users/{id}", s.getUser)
	mux.HandleFunc("GET /users", s.getUsers)
	mux.HandleFunc("PUT /users/{id}", s.putUser)
	mux.HandleFunc("GET /stats", s.stats)
	mux.HandleFunc("GET /metrics", s.metrics)
	return mux
}

// stripes returns the lock stripes of ids, sorted and without repeats, so
// that a batch takes its locks in one order and never one twice.
func (s *Service) stripes(ids ...string) []int {
	st := make([]int, 0, len(ids))
	for _, id := range ids {
		st = append(st, int(maphash.String(s.seed, id)%uint64(len(s.locks))))
	}
	slices.Sort(st)
	return slices.Compact(st)
}

func (s *Service) rlock(ids ...string) (unlock func()) {
	st := s.stripes(ids...)
	for _, i := range st {
		s.locks[i].RLock()
	}
	return func() {
		for _, i := range st {
			s.locks[i].RUnlock()
		}
	}
}

// validID accepts 1 to 64 letters, digits, '-' and '_'.
func validID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

func (s *Service) getUser(w http.ResponseWriter, r *http.Request) {
	s.gets.Add(1)
	id := r.PathValue("id")
	if !validID(id) {
		writeError(w, http.StatusBadRequest, fmt.Errorf("invalid id %q", id))
		return
	}
	unlock := s.rlock(id)
	u, err := s.one.Call(r.Context(), id)
	unlock()
	switch {
	case errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, fmt.Errorf("user %q not found", id))
	case err != nil:
		writeError(w, http.StatusInternalServerError, err)
	default:
		writeJSON(w, http.StatusOK, u)
	}
}

// Batch is the answer of GET /users?ids=...: the users found, in the
// order asked, and the ids not found.
type Batch struct {
	Users   []User   `json:"users"`
	Missing []string `json:"missing"`
}

func (s *Service) getUsers(w http.ResponseWriter, r *http.Request) {
	s.batches.Add(1)
	raw := r.URL.Query().Get("ids")
	if raw == "" {
		writeError(w, http.StatusBadRequest, errors.New("ids is required: /users?ids=1,2,3"))
		return
	}
	ids := strings.Split(raw, ",")
	if len(ids) > 100 {
		writeError(w, http.StatusBadRequest, fmt.Errorf("%d ids; at most 100", len(ids)))
		return
	}
	for _, id := range ids {
		if !validID(id) {
			writeError(w, http.StatusBadRequest, fmt.Errorf("invalid id %q", id))
			return
		}
	}
	unlock := s.rlock(ids...)
	found, err := s.many.Call(r.Context(), ids)
	unlock()
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	b := Batch{Users: []User{}, Missing: []string{}}
	for _, id := range ids {
		if u, ok := found[id]; ok {
			b.Users = append(b.Users, u)
		} else {
			b.Missing = append(b.Missing, id)
		}
	}
	writeJSON(w, http.StatusOK, b)
}

func (s *Service) putUser(w http.ResponseWriter, r *http.Request) {
	s.puts.Add(1)
	id := r.PathValue("id")
	if !validID(id) {
		writeError(w, http.StatusBadRequest, fmt.Errorf("invalid id %q", id))
		return
	}
	var in User
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("body: %w", err))
		return
	}
	if in.ID != "" && in.ID != id {
		writeError(w, http.StatusBadRequest, fmt.Errorf("body id %q differs from path id %q", in.ID, id))
		return
	}
	in.ID = id
	u, err := s.update(r.Context(), in)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	writeJSON(w, http.StatusOK, u)
}

// update writes u to the repository, then to the cache (write-through),
// holding the id's lock so that no read of the id runs meanwhile. Should
// the cache write fail, the cached entry is deleted instead; should that
// fail too, the error is returned (the repository holds the update, the
// cache may serve the old value until its ttl).
func (s *Service) update(ctx context.Context, u User) (User, error) {
	i := s.stripes(u.ID)[0]
	s.locks[i].Lock()
	defer s.locks[i].Unlock()
	u, err := s.repo.Put(ctx, u)
	if err != nil {
		return User{}, err
	}
	// The write must happen even if the client has gone: detach it.
	ctx = context.WithoutCancel(ctx)
	if err := s.cache.Set(ctx, u.ID, u); err != nil {
		if ierr := s.one.Invalidate(ctx, u.ID); ierr != nil {
			return User{}, fmt.Errorf("updated, but the cache may serve the old value: %w", errors.Join(err, ierr))
		}
	}
	return u, nil
}

// Stats is the answer of GET /stats.
type Stats struct {
	// Requests served, by route.
	Requests struct {
		Get   int64 `json:"get"`
		Batch int64 `json:"batch"`
		Put   int64 `json:"put"`
	} `json:"requests"`
	// Cache counts the keys read from the cache's store (HitMissRatio).
	Cache struct {
		Hits   int64   `json:"hits"`
		Misses int64   `json:"misses"`
		Ratio  float64 `json:"ratio"`
	} `json:"cache"`
	// Repo counts the loader's (the repository's) calls.
	Repo RepoStats `json:"repo"`
	// Timing is per store operation (Timing), for the operations used.
	Timing map[string]OpTiming `json:"timing"`
}

// OpTiming is one store operation's timing, in microseconds.
type OpTiming struct {
	Count int64   `json:"count"`
	AvgUS float64 `json:"avg_us"`
	MaxUS float64 `json:"max_us"`
}

// Stats returns the service's statistics, as GET /stats does.
func (s *Service) Stats() Stats {
	var st Stats
	st.Requests.Get, st.Requests.Batch, st.Requests.Put = s.gets.Load(), s.batches.Load(), s.puts.Load()
	hm := s.hits.Stats()
	st.Cache.Hits, st.Cache.Misses, st.Cache.Ratio = hm.Hits, hm.Misses, hm.Ratio
	st.Repo = s.repo.Stats()
	st.Timing = map[string]OpTiming{}
	for _, op := range []cachet.Op{cachet.OpGet, cachet.OpGetMany, cachet.OpSet, cachet.OpSetMany, cachet.OpDelete} {
		t := s.timing.Stats(op)
		if t.Count == 0 {
			continue
		}
		st.Timing[op.String()] = OpTiming{
			Count: t.Count,
			AvgUS: float64(t.Avg) / float64(time.Microsecond),
			MaxUS: float64(t.Max) / float64(time.Microsecond),
		}
	}
	return st
}

func (s *Service) stats(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.Stats())
}

// metrics serves the ExpvarRecorder's counters. It is served here rather
// than through expvar.Publish so that several services can live in one
// process (tests); a program may also publish s.rec on /debug/vars. A
// Prometheus exposition would use contrib/promcachet, a module of its own
// that this example, inside cachet's root module, does not import: that
// would make cachet itself depend on the Prometheus client.
func (s *Service) metrics(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintln(w, s.rec.String())
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, map[string]string{"error": err.Error()})
}
