// Package bench holds benchmarks that compare cachet with its Go peers:
// codecs, in-process caches (hits, hit ratio under a bound, memory per
// entry), Redis- and memcached-backed caches (latency, throughput under
// 16 and 64 goroutines, growth with key count and value size), local-tier
// peers, and memoization. It is a separate module so that the peers never
// enter cachet's own go.mod; it has no API, only benchmarks and the
// cmd/charts program that draws them (see README.md for how to run them
// and the latest numbers and charts).
package bench
