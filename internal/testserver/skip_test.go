package testserver

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// fakeTB records how a test ended: Skip and Fatal end the calling
// goroutine as testing.T's do. Any other method of testing.TB panics
// (the embedded interface is nil), so SkipOrFail may use only these.
type fakeTB struct {
	testing.TB
	skipped, failed bool
	msg             string
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Fatal(args ...any) {
	f.failed, f.msg = true, fmt.Sprint(args...)
	runtime.Goexit()
}

func (f *fakeTB) Skip(args ...any) {
	f.skipped, f.msg = true, fmt.Sprint(args...)
	runtime.Goexit()
}

// run calls SkipOrFail on a fake in its own goroutine and reports whether
// SkipOrFail returned (it must not).
func (f *fakeTB) run(err error, pkgs string) (returned bool) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		SkipOrFail(f, err, pkgs)
		returned = true
	}()
	<-done
	return returned
}

func TestSkipOrFail(t *testing.T) {
	missing := fmt.Errorf("%w: memcached", ErrNoBinary)
	broken := errors.New("testserver: starting memcached: exited early: bad option")
	tests := []struct {
		name       string
		ci         string
		err        error
		skip, fail bool
		msgHas     []string
	}{
		{"missing binary skips", "", missing, true, false, []string{"memcached", "apt-get install memcached redis-tools"}},
		{"missing binary skips unless CI is exactly true", "1", missing, true, false, []string{"apt-get install"}},
		{"missing binary fails in CI", "true", missing, false, true, []string{"memcached", "apt-get install memcached redis-tools"}},
		{"a broken server fails", "", broken, false, true, []string{"exited early"}},
		{"a broken server fails in CI", "true", broken, false, true, []string{"exited early"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("CI", tt.ci)
			f := new(fakeTB)
			if f.run(tt.err, "memcached redis-tools") {
				t.Fatalf("SkipOrFail returned; want it to end the test")
			}
			if f.skipped != tt.skip || f.failed != tt.fail {
				t.Errorf("got skipped=%v failed=%v; want skipped=%v failed=%v", f.skipped, f.failed, tt.skip, tt.fail)
			}
			for _, s := range tt.msgHas {
				if !strings.Contains(f.msg, s) {
					t.Errorf("message %q; want it to contain %q", f.msg, s)
				}
			}
		})
	}
}

func TestSkipExamplesWithout(t *testing.T) {
	f := flag.Lookup("test.skip")
	old := f.Value.String()
	t.Cleanup(func() { f.Value.Set(old) })
	t.Setenv("PATH", t.TempDir()) // no binary is found

	t.Setenv("CI", "true")
	SkipExamplesWithout("memcached", "memcached")
	if got := f.Value.String(); got != old {
		t.Errorf("CI=true: -test.skip = %q; want it unchanged (%q)", got, old)
	}

	t.Setenv("CI", "")
	f.Value.Set("^TestNothing$")
	SkipExamplesWithout("memcached", "memcached")
	if got, want := f.Value.String(), "^TestNothing$|^Example"; got != want {
		t.Errorf("binary missing: -test.skip = %q; want %q", got, want)
	}

	// With the binary on PATH the examples run.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "memcached"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
	f.Value.Set("")
	SkipExamplesWithout("memcached", "memcached")
	if got := f.Value.String(); got != "" {
		t.Errorf("binary present: -test.skip = %q; want it unchanged (empty)", got)
	}
}
