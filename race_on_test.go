//go:build race

package cachet_test

// raceEnabled reports whether the race detector is on: sync.Pool then
// drops some of what it is given, so that pooled paths allocate now and
// then, and allocation counts are not exact.
const raceEnabled = true
