package memcachestore_test

import (
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cachet-go/cachet/internal/testserver"
)

// TestStore_CompareAndDeleteContention has many goroutines release the
// same lease at once: exactly one of them deletes it, round after round.
func TestStore_CompareAndDeleteContention(t *testing.T) {
	srv := testserver.Memcached(t)
	s := fresh(t, srv, nil)
	const rounds, n = 20, 16
	for r := 0; r < rounds; r++ {
		key := "lease:" + strconv.Itoa(r)
		mustSet(t, s, key, "token", 0)
		var deleted atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				ok, err := s.CompareAndDelete(bg, key, []byte("token"))
				if err != nil {
					t.Errorf("CompareAndDelete: %v", err)
				}
				if ok {
					deleted.Add(1)
				}
			}()
		}
		close(start)
		wg.Wait()
		if got := deleted.Load(); got != 1 {
			t.Fatalf("round %d: %d of %d concurrent CompareAndDeletes reported deleting; want exactly 1", r, got, n)
		}
		wantMissing(t, s, key)
	}
}
