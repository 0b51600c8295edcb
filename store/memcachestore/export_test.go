package memcachestore

// QueueAll makes every single-key get of s go through the batching
// queue, even a lone caller's, so that tests exercise the shared
// GetMultis. It must be called before s is used.
func QueueAll(s *Store) {
	if s.gets != nil {
		s.gets.QueueAll = true
	}
}

// Pending returns the number of gets queued in s's batcher.
func Pending(s *Store) int {
	if s.gets == nil {
		return 0
	}
	return s.gets.Pending()
}

// NoMaxWait lifts the bound on a queued get's wait (for the paired
// benchmark of what the bound costs).
func NoMaxWait(s *Store) {
	if s.gets != nil {
		s.gets.MaxWait = 0
	}
}
