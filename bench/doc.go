// Package bench holds benchmarks that compare cachet with its Go peers:
// codecs, in-process caches, Redis-backed caches and memoization. It is a
// separate module so that the peers never enter cachet's own go.mod; it
// has no API, only benchmarks (see README.md for how to run them and the
// latest numbers).
package bench
