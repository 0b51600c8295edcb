package main

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/cachet-go/cachet/internal/testserver"
)

// TestMain makes the test binary a child process when the parent (the
// smoke test) runs it again.
func TestMain(m *testing.M) {
	if cfg := os.Getenv(childEnv); cfg != "" {
		if err := child(cfg, os.Stdout); err != nil {
			os.Stderr.WriteString("stampede child: " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestSmoke runs the harness briefly (make bench runs it in full): two
// processes, every strategy, one unpaced run each (make bench-stampede
// runs a paced one too).
func TestSmoke(t *testing.T) {
	srv := testserver.Redis(t)
	var out bytes.Buffer
	err := parent([]string{"-redis", srv.Addr, "-procs", "2", "-workers", "2", "-rates", "0",
		"-ttl", "200ms", "-recompute", "20ms", "-duration", "400ms"}, &out)
	if err != nil {
		t.Fatalf("%v\n%s", err, &out)
	}
	t.Log("\n" + out.String())
	rows := 0
	for _, line := range strings.Split(out.String(), "\n") {
		if f := strings.Split(line, "|"); len(f) > 2 && strategyOptions[strings.TrimSpace(f[1])] != nil {
			rows++
			if f := strings.Split(line, "|"); strings.TrimSpace(f[2]) == "0" {
				t.Errorf("no calls: %s", line)
			}
		}
	}
	if want := len(strategyOptions); rows != want {
		t.Fatalf("%d result rows; want %d\n%s", rows, want, &out)
	}
}

func TestPerWindow(t *testing.T) {
	const ms = int64(1e6)
	starts := []int64{-5 * ms, 10 * ms, 90 * ms, 150 * ms, 350 * ms}
	mean, most, n := perWindow(starts, 0, 100_000_000, 300_000_000)
	if mean != 1 || most != 2 || n != 3 {
		t.Fatalf("perWindow = %v, %d, %d; want 1, 2, 3 (3 windows, the first with 2; starts outside the run ignored)", mean, most, n)
	}
}
