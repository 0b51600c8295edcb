package redisstore

// QueueAll makes every Get and Set of s go through the batching queue, or
// through the pipelined connections when s has them, even a lone caller's,
// so that tests exercise the shared round trips. It must be called before
// s is used.
func QueueAll(s *Store) {
	if s.pipe != nil {
		s.pipe.noDirect = true
	}
	if s.gets != nil {
		s.gets.QueueAll = true
		s.sets.QueueAll = true
	}
}

// Pending reports how many Gets and how many Sets are queued.
func Pending(s *Store) (gets, sets int) {
	if s.gets == nil {
		return 0, 0
	}
	return s.gets.Pending(), s.sets.Pending()
}

// Pipelined reports whether s's Gets and Sets go over pipelined
// connections.
func Pipelined(s *Store) bool { return s.pipe != nil }
