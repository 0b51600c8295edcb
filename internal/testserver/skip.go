package testserver

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// InCI reports whether the environment variable CI is "true": there a
// missing server binary fails the tests that need it instead of skipping
// them, so that a CI run never passes without having run them.
func InCI() bool { return os.Getenv("CI") == "true" }

// SkipOrFail reports err, the error of starting a server the test needs.
// When err wraps [ErrNoBinary] it skips tb with a message naming the
// system packages pkgs to install (apt-get names, such as "redis-server
// redis-tools"), or fails tb with that message when [InCI]. Any other
// error fails tb: a server that is installed but does not start is never
// hidden behind a skip. SkipOrFail does not return.
func SkipOrFail(tb testing.TB, err error, pkgs string) {
	tb.Helper()
	if !errors.Is(err, ErrNoBinary) {
		tb.Fatal(err)
		return // a fake tb may return from Fatal
	}
	msg := fmt.Sprintf("%v; install it with: apt-get install %s (or run make test)", err, pkgs)
	if InCI() {
		tb.Fatal(msg)
		return
	}
	tb.Skip(msg)
}

// SkipExamplesWithout is for the TestMain of a package whose examples run
// against servers: examples cannot skip themselves, so when one of the
// binaries is not on PATH it adds the examples to the -test.skip pattern
// and says so on standard error, naming the system packages pkgs to
// install. Under [InCI] it does nothing: the examples then run and fail.
// The package's tests are unaffected (they skip or fail through
// [SkipOrFail]). Call it after flag.Parse and before m.Run.
func SkipExamplesWithout(pkgs string, binaries ...string) {
	var missing []string
	for _, b := range binaries {
		if _, err := exec.LookPath(b); err != nil {
			missing = append(missing, b)
		}
	}
	if len(missing) == 0 || InCI() {
		return
	}
	f := flag.Lookup("test.skip")
	if f == nil {
		return // not a test binary
	}
	pattern := "^Example"
	if old := f.Value.String(); old != "" {
		pattern = old + "|" + pattern
	}
	if err := f.Value.Set(pattern); err != nil {
		return
	}
	fmt.Fprintf(os.Stderr, "testserver: %s not found: skipping the examples; install with: apt-get install %s (or run make test)\n",
		strings.Join(missing, ", "), pkgs)
}
