package cachet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"expvar"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachet-go/cachet/store"
)

func TestHitMissRatio_Concurrent(t *testing.T) {
	var hm HitMissRatio
	var other Timing
	s := WithPlugins(&hm, &other)(newMem(t))
	defer s.Close()
	if err := s.Set(bg, "hit", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	const workers, rounds = 8, 500
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				s.Get(bg, "hit")
				s.Get(bg, "miss")
				s.GetMany(bg, []string{"hit", "miss", "miss2"})
				s.Set(bg, "other", []byte("x"), 0) // not counted
			}
		}()
	}
	wg.Wait()
	const hits, misses = workers * rounds * 2, workers * rounds * 3
	st := hm.Stats()
	want := HitMissStats{Total: hits + misses, Hits: hits, Misses: misses, Ratio: float64(hits) / float64(hits+misses)}
	if st != want {
		t.Errorf("Stats: got %+v; want %+v", st, want)
	}
	if hm.Hits() != hits || hm.Misses() != misses || hm.Total() != hits+misses || hm.Ratio() != want.Ratio {
		t.Errorf("accessors: got %d %d %d %v; want %+v", hm.Hits(), hm.Misses(), hm.Total(), hm.Ratio(), want)
	}
	if got := other.Stats(OpSet).Count; got != workers*rounds+1 {
		t.Errorf("Timing set count: got %d; want %d", got, workers*rounds+1)
	}
}

func TestHitMissRatio_FailedReadsAreMisses(t *testing.T) {
	var hm HitMissRatio
	mem := newMem(t)
	s := WithPlugins(&hm)(mem)
	mem.Close()
	s.Get(bg, "a")
	s.GetMany(bg, []string{"a", "b"})
	if st := hm.Stats(); st.Misses != 3 || st.Hits != 0 || st.Ratio != 0 {
		t.Errorf("Stats after failed reads: got %+v; want 3 misses", st)
	}
	var empty HitMissRatio
	if st := empty.Stats(); st != (HitMissStats{}) {
		t.Errorf("zero HitMissRatio: got %+v; want zeros", st)
	}
}

func TestTiming_MinMax(t *testing.T) {
	var tm Timing
	for _, d := range []time.Duration{5 * time.Millisecond, time.Millisecond, 9 * time.Millisecond, 0} {
		tm.After(bg, Call{Op: OpGet, Duration: d})
	}
	tm.After(bg, Call{Op: OpSet, Duration: time.Second})
	want := TimingStats{Count: 4, Total: 15 * time.Millisecond, Avg: 3750 * time.Microsecond, Min: 0, Max: 9 * time.Millisecond}
	if got := tm.Stats(OpGet); got != want {
		t.Errorf("Stats(OpGet): got %+v; want %+v", got, want)
	}
	if got := tm.Stats(OpSet); got.Min != time.Second || got.Max != time.Second || got.Count != 1 {
		t.Errorf("Stats(OpSet): got %+v; want one call of 1s", got)
	}
	if got := tm.Stats(OpClear); got != (TimingStats{}) {
		t.Errorf("Stats(OpClear): got %+v; want zeros", got)
	}
	if got := tm.Stats(0); got != (TimingStats{}) {
		t.Errorf("Stats(0): got %+v; want zeros", got)
	}
	tm.After(bg, Call{Op: 0, Duration: time.Hour}) // ignored, no panic
}

func TestTiming_Concurrent(t *testing.T) {
	var tm Timing
	const workers, n = 8, 1000
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Worker w records w+1, w+1+workers, ... so that together
			// they record 1..workers*n exactly once.
			for i := range n {
				tm.After(bg, Call{Op: OpExists, Duration: time.Duration(w + 1 + i*workers)})
			}
		}()
	}
	wg.Wait()
	const last = workers * n
	want := TimingStats{Count: last, Total: last * (last + 1) / 2, Min: 1, Max: last}
	want.Avg = want.Total / last
	if got := tm.Stats(OpExists); got != want {
		t.Errorf("Stats: got %+v; want %+v", got, want)
	}
}

func TestTiming_ThroughStore(t *testing.T) {
	var tm Timing
	inner := &ctxStore{Store: newMem(t), block: true}
	defer inner.Close()
	s := Chain(WithPlugins(&tm), Timeout(20*time.Millisecond))(inner)
	s.Get(bg, "k")
	s.Set(bg, "k", []byte("v"), 0)
	if st := tm.Stats(OpGet); st.Count != 1 || st.Min < 20*time.Millisecond || st.Max != st.Min {
		t.Errorf("Stats(OpGet) of a call that timed out after 20ms: got %+v", st)
	}
	if st := tm.Stats(OpSet); st.Count != 1 || st.Max <= 0 {
		t.Errorf("Stats(OpSet): got %+v; want one call", st)
	}
}

type panickyRecorder struct{}

func (panickyRecorder) Record(context.Context, Call) { panic("recorder bug") }

func TestMetrics_RecorderPanic(t *testing.T) {
	s := Metrics(panickyRecorder{})(newMem(t))
	defer s.Close()
	err := s.Set(bg, "k", []byte("v"), 0)
	if !errors.Is(err, ErrPluginPanic) || !strings.Contains(err.Error(), "cachet.panickyRecorder.Record: recorder bug") {
		t.Errorf("Set through a panicking recorder: got %v; want ErrPluginPanic naming cachet.panickyRecorder.Record", err)
	}
}

// logLines decodes the JSON lines logged to buf.
func logLines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var lines []map[string]any
	dec := json.NewDecoder(buf)
	for dec.More() {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("decoding log: %v", err)
		}
		lines = append(lines, m)
	}
	return lines
}

func TestLogging_RedactsKeys(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	mem := newMem(t)
	s := Logging(logger, nil)(mem)
	const secret = "user:alice@example.com"

	s.Set(bg, secret, []byte("v"), time.Minute)
	s.Get(bg, secret)
	s.Get(bg, "missing")
	s.GetMany(bg, []string{secret, "missing"})
	s.Clear(bg, "user:")
	mem.Close() // beneath the middleware: the next read fails
	s.Get(bg, secret)

	out := buf.String()
	if strings.Contains(out, "alice") || strings.Contains(out, "missing") || strings.Contains(out, `"user:"`) {
		t.Errorf("log shows a key or prefix:\n%s", out)
	}
	lines := logLines(t, &buf)
	if len(lines) != 6 {
		t.Fatalf("got %d log lines; want 6:\n%s", len(lines), out)
	}
	want := []struct {
		level, msg string
		attrs      map[string]any
	}{
		{"DEBUG", "cachet set", map[string]any{"op": "set", "key": "[redacted]", "ttl": float64(time.Minute)}},
		{"DEBUG", "cachet get", map[string]any{"op": "get", "key": "[redacted]", "hits": 1.0, "misses": 0.0}},
		{"DEBUG", "cachet get", map[string]any{"op": "get", "key": "[redacted]", "hits": 0.0, "misses": 1.0}},
		{"DEBUG", "cachet get_many", map[string]any{"op": "get_many", "keys": 2.0, "hits": 1.0, "misses": 1.0}},
		{"DEBUG", "cachet clear", map[string]any{"op": "clear", "prefix": "[redacted]"}},
		{"WARN", "cachet get", map[string]any{"op": "get", "key": "[redacted]", "hits": 0.0, "misses": 1.0}},
	}
	for i, w := range want {
		l := lines[i]
		if l["level"] != w.level || l["msg"] != w.msg {
			t.Errorf("line %d: got level %v msg %v; want %s %s", i, l["level"], l["msg"], w.level, w.msg)
		}
		for k, v := range w.attrs {
			if l[k] != v {
				t.Errorf("line %d: got %s=%v; want %v", i, k, l[k], v)
			}
		}
		if _, ok := l["duration"]; !ok {
			t.Errorf("line %d: no duration", i)
		}
		_, hasErr := l["error"]
		if hasErr != (i == 5) {
			t.Errorf("line %d: error attribute present = %v; want %v (%v)", i, hasErr, i == 5, l["error"])
		}
	}
	if e, _ := lines[5]["error"].(string); !strings.Contains(e, "closed") || !strings.Contains(e, "[redacted]") {
		t.Errorf("error attribute %q: want the cause with the key redacted", e)
	}
}

func TestLogging_Options(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	mem := newMem(t)
	defer mem.Close()
	s := Logging(logger, &LoggingOptions{Level: slog.LevelInfo, ShowKeys: true, Ops: []Op{OpGet, OpSetMany}})(mem)

	s.Set(bg, "k1", []byte("v"), 0) // not in Ops
	s.SetMany(bg, []store.Entry{{Key: "k2", Value: []byte("v")}, {Key: "k3", Value: []byte("v")}}, 0)
	s.Get(bg, "k1")
	s.Delete(bg, "k1") // not in Ops

	lines := logLines(t, &buf)
	if len(lines) != 2 {
		t.Fatalf("got %d lines; want 2 (set_many, get): %v", len(lines), lines)
	}
	if lines[0]["op"] != "set_many" || lines[0]["level"] != "INFO" {
		t.Errorf("line 0: got %v; want an INFO set_many", lines[0])
	}
	if keys, _ := lines[0]["keys"].([]any); len(keys) != 2 || keys[0] != "k2" || keys[1] != "k3" {
		t.Errorf("set_many keys: got %v; want [k2 k3]", lines[0]["keys"])
	}
	if lines[1]["op"] != "get" || lines[1]["key"] != "k1" {
		t.Errorf("line 1: got %v; want get of k1 shown", lines[1])
	}

	// Below the handler's level nothing is logged.
	buf.Reset()
	quiet := Logging(logger, nil)(mem) // default level: debug
	quiet.Get(bg, "k1")
	if buf.Len() != 0 {
		t.Errorf("debug record logged by an info handler: %s", buf.String())
	}
}

var expvarRuns atomic.Int32

func TestMetrics_Expvar(t *testing.T) {
	var rec ExpvarRecorder
	// expvar names live for the process: a fresh one per run keeps the
	// test repeatable with -count.
	name := fmt.Sprintf("cachet_test_metrics_%d", expvarRuns.Add(1))
	expvar.Publish(name, &rec)
	mem := newMem(t)
	s := Metrics(&rec)(mem)
	s.Set(bg, "a", []byte("1"), 0)
	s.Set(bg, "b", []byte("2"), 0)
	s.Get(bg, "a")
	s.Get(bg, "zz")
	s.GetMany(bg, []string{"a", "b", "c"})
	s.Add(bg, "a", []byte("x"), 0) // ErrExists: not a failure
	mem.Close()
	s.Exists(bg, "a") // fails: closed

	check := func(op Op, want ExpvarStats) {
		t.Helper()
		got := rec.Stats(op)
		got.Total = 0
		if got != want {
			t.Errorf("Stats(%v): got %+v; want %+v", op, got, want)
		}
	}
	check(OpSet, ExpvarStats{Calls: 2})
	check(OpGet, ExpvarStats{Calls: 2, Hits: 1, Misses: 1})
	check(OpGetMany, ExpvarStats{Calls: 1, Hits: 2, Misses: 1})
	check(OpAdd, ExpvarStats{Calls: 1})
	check(OpExists, ExpvarStats{Calls: 1, Errors: 1})
	check(OpDelete, ExpvarStats{})

	var vars map[string]map[string]int64
	if err := json.Unmarshal([]byte(expvar.Get(name).String()), &vars); err != nil {
		t.Fatalf("expvar String is not JSON: %v\n%s", err, rec.String())
	}
	if len(vars) != len(Ops()) {
		t.Errorf("expvar has %d ops; want %d", len(vars), len(Ops()))
	}
	if g := vars["get_many"]; g["calls"] != 1 || g["hits"] != 2 || g["misses"] != 1 {
		t.Errorf("expvar get_many: got %v; want calls 1, hits 2, misses 1", g)
	}
	if vars["get"]["total_ns"] <= 0 {
		t.Errorf("expvar get total_ns: got %d; want > 0", vars["get"]["total_ns"])
	}
}

func TestMetrics_NilRecorder(t *testing.T) {
	mem := newMem(t)
	defer mem.Close()
	if s := Metrics(nil)(mem); s != store.Store(mem) {
		t.Errorf("Metrics(nil): got %T; want the store unchanged", s)
	}
}

func TestErrorKind(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{nil, ""},
		{store.Errorf("get", "k", context.DeadlineExceeded), "timeout"},
		{fmt.Errorf("x: %w", context.Canceled), "canceled"},
		{store.Errorf("get", "k", store.ErrClosed), "closed"},
		{store.ErrInvalidKey, "invalid_key"},
		{store.ErrInvalidValue, "invalid_value"},
		{store.ErrNotInteger, "not_integer"},
		{store.ErrOverflow, "overflow"},
		{store.ErrNotSupported, "not_supported"},
		{fmt.Errorf("%w: boom", ErrPluginPanic), "plugin_panic"},
		{store.ErrNotFound, "not_found"},
		{store.ErrExists, "exists"},
		{errors.New("connection refused"), "other"},
		{fmt.Errorf("%w: last: %w", store.ErrUnavailable, context.DeadlineExceeded), "unavailable"},
	}
	for _, tt := range tests {
		if got := ErrorKind(tt.err); got != tt.want {
			t.Errorf("ErrorKind(%v): got %q; want %q", tt.err, got, tt.want)
		}
	}
}

// TestLogging_RedactsHostileKeys checks that keys which error messages
// quote (holding '"', '\', control bytes or invalid UTF-8) and stored
// values quoted by an error never reach the log with default options.
func TestLogging_RedactsHostileKeys(t *testing.T) {
	keys := []string{
		`SECRETKEY"quote`,
		`SECRETKEY\backslash`,
		"SECRETKEY\x00\x01\ncontrol",
		"SECRETKEY\xff\xfeinvalid",
		"SECRETKEY\u00e9\u2028unicode",
	}
	for _, key := range keys {
		t.Run(fmt.Sprintf("%q", key), func(t *testing.T) {
			var buf bytes.Buffer
			logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
			mem := newMem(t)
			s := Logging(logger, nil)(mem)
			if err := s.Set(bg, key, []byte("SECRETVALUE not a number"), 0); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Increment(bg, key, 1); !errors.Is(err, store.ErrNotInteger) {
				t.Fatalf("Increment: got %v; want ErrNotInteger", err)
			}
			if err := s.Set(bg, key, nil, 0); !errors.Is(err, store.ErrInvalidValue) {
				t.Fatalf("Set(nil): got %v; want ErrInvalidValue", err)
			}
			mem.Close()
			s.Get(bg, key)
			s.GetMany(bg, []string{"other", key})
			s.Delete(bg, key, "other")
			s.SetMany(bg, []store.Entry{{Key: key, Value: []byte("v")}}, 0)

			out := buf.String()
			if strings.Contains(out, "SECRET") {
				t.Errorf("log shows a key or a value:\n%s", out)
			}
			lines := logLines(t, &buf)
			if len(lines) != 7 {
				t.Fatalf("got %d log lines; want 7:\n%s", len(lines), out)
			}
			wantErr := []string{"", "not an integer", "invalid value", "closed", "closed", "closed", "closed"}
			for i, w := range wantErr {
				e, _ := lines[i]["error"].(string)
				if w == "" {
					continue
				}
				if !strings.Contains(e, w) || !strings.Contains(e, "[redacted]") || !strings.HasPrefix(e, "cachet: ") {
					t.Errorf("line %d: error %q; want the cause (%q) with the key redacted", i, e, w)
				}
			}
		})
	}
}
