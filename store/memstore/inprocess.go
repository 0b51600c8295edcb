package memstore

// InProcess marks the store as one whose operations never wait on I/O
// (store.InProcess), so callers can skip per-operation timeouts.
func (*Store) InProcess() {}
