package promcachet_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/cachet-go/cachet"
	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/contrib/promcachet"
	"github.com/cachet-go/cachet/store"
	"github.com/cachet-go/cachet/store/memstore"
	"github.com/cachet-go/cachet/store/storetest"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

var bg = context.Background()

func newMem(t testing.TB) *memstore.Store {
	t.Helper()
	s, err := memstore.New(nil)
	if err != nil {
		t.Fatalf("memstore.New: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	mw, err := promcachet.Metrics(&promcachet.Options{Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	storetest.RunMiddleware(t, func(t *testing.T) store.Store { return newMem(t) }, mw, nil)
}

// values gathers reg and returns every non-zero series as
// "name{label=value,...}" -> counter value, or histogram sample count.
func values(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	m := map[string]float64{}
	for _, mf := range mfs {
		for _, met := range mf.GetMetric() {
			var labels []string
			for _, lp := range met.GetLabel() {
				labels = append(labels, lp.GetName()+"="+lp.GetValue())
			}
			sort.Strings(labels)
			name := mf.GetName() + "{" + strings.Join(labels, ",") + "}"
			var v float64
			switch {
			case met.GetCounter() != nil:
				v = met.GetCounter().GetValue()
			case met.GetHistogram() != nil:
				h := met.GetHistogram()
				v = float64(h.GetSampleCount())
				if v > 0 && h.GetSampleSum() <= 0 {
					t.Errorf("%s: sample sum %v; want > 0", name, h.GetSampleSum())
				}
			}
			if v != 0 {
				m[name] = v
			}
		}
	}
	return m
}

func TestRecorder_Metrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	mw, err := promcachet.Metrics(&promcachet.Options{
		Registerer:  reg,
		ConstLabels: prometheus.Labels{"cache": "users"},
	})
	if err != nil {
		t.Fatal(err)
	}
	mem := newMem(t)
	s := mw(mem)
	s.Set(bg, "a", []byte("1"), 0)
	s.Set(bg, "b", []byte("2"), 0)
	s.Get(bg, "a")
	s.Get(bg, "zz")
	s.GetMany(bg, []string{"a", "b", "c"})
	s.Add(bg, "a", []byte("x"), 0) // ErrExists: not a failure
	s.Increment(bg, "a", 1)        // "1" + 1 = 2
	s.Set(bg, "s", []byte("text"), 0)
	s.Increment(bg, "s", 1) // not an integer: a failure
	mem.Close()
	s.Get(bg, "a") // closed: a failure and a miss

	want := map[string]float64{
		"cachet_operation_duration_seconds{cache=users,op=set}":                     3,
		"cachet_operation_duration_seconds{cache=users,op=get}":                     3,
		"cachet_operation_duration_seconds{cache=users,op=get_many}":                1,
		"cachet_operation_duration_seconds{cache=users,op=add}":                     1,
		"cachet_operation_duration_seconds{cache=users,op=increment}":               2,
		"cachet_hits_total{cache=users,op=get}":                                     1,
		"cachet_hits_total{cache=users,op=get_many}":                                2,
		"cachet_misses_total{cache=users,op=get}":                                   2,
		"cachet_misses_total{cache=users,op=get_many}":                              1,
		"cachet_operation_errors_total{cache=users,error=not_integer,op=increment}": 1,
		"cachet_operation_errors_total{cache=users,error=closed,op=get}":            1,
	}
	got := values(t, reg)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("series:\ngot  %v\nwant %v", got, want)
	}

	// The same, through the client library's own test helper.
	const errorsText = `
# HELP cachet_operation_errors_total Failed cachet store operations (misses excluded).
# TYPE cachet_operation_errors_total counter
cachet_operation_errors_total{cache="users",error="closed",op="get"} 1
cachet_operation_errors_total{cache="users",error="not_integer",op="increment"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(errorsText), "cachet_operation_errors_total"); err != nil {
		t.Error(err)
	}
	if n, err := testutil.GatherAndCount(reg, "cachet_hits_total"); err != nil || n != len(cachet.Ops()) {
		t.Errorf("cachet_hits_total series: got %d, %v; want one per op (%d)", n, err, len(cachet.Ops()))
	}
}

func TestNewRecorder_Registration(t *testing.T) {
	reg := prometheus.NewRegistry()
	// Something else already owns one of the names.
	clash := prometheus.NewCounter(prometheus.CounterOpts{Name: "cachet_hits_total", Help: "not ours"})
	reg.MustRegister(clash)
	if _, err := promcachet.NewRecorder(&promcachet.Options{Registerer: reg}); err == nil {
		t.Fatal("NewRecorder with a clashing metric: got nil error")
	}
	// Nothing of the failed Recorder stayed registered.
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(mfs) != 1 || mfs[0].GetName() != "cachet_hits_total" || mfs[0].GetHelp() != "not ours" {
		var names []string
		for _, mf := range mfs {
			names = append(names, mf.GetName())
		}
		t.Errorf("after a failed NewRecorder: registry holds %v; want only the clashing counter", names)
	}

	reg = prometheus.NewRegistry()
	r, err := promcachet.NewRecorder(&promcachet.Options{Registerer: reg})
	if err != nil {
		t.Fatalf("NewRecorder: %v", err)
	}
	// A second Recorder with the same names is refused; another
	// namespace is fine.
	var are prometheus.AlreadyRegisteredError
	if _, err := promcachet.NewRecorder(&promcachet.Options{Registerer: reg}); !errors.As(err, &are) {
		t.Errorf("second NewRecorder: got %v; want AlreadyRegisteredError", err)
	}
	if _, err := promcachet.NewRecorder(&promcachet.Options{Registerer: reg, Namespace: "other"}); err != nil {
		t.Errorf("NewRecorder in another namespace: %v", err)
	}
	r.Unregister(reg)
	if _, err := promcachet.NewRecorder(&promcachet.Options{Registerer: reg}); err != nil {
		t.Errorf("NewRecorder after Unregister: %v", err)
	}
}

func TestErrorType(t *testing.T) {
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
		{fmt.Errorf("%w: boom", cachet.ErrPluginPanic), "plugin_panic"},
		{store.ErrNotFound, "not_found"},
		{store.ErrExists, "exists"},
		{errors.New("connection refused"), "other"},
	}
	for _, tt := range tests {
		if got := promcachet.ErrorType(tt.err); got != tt.want {
			t.Errorf("ErrorType(%v): got %q; want %q", tt.err, got, tt.want)
		}
	}
}

func BenchmarkGet(b *testing.B) {
	run := func(b *testing.B, s store.Store) {
		defer s.Close()
		if err := s.Set(bg, "key", []byte("value"), 0); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if _, err := s.Get(bg, "key"); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("bare", func(b *testing.B) { run(b, newMem(b)) })
	b.Run("Metrics", func(b *testing.B) {
		mw, err := promcachet.Metrics(&promcachet.Options{Registerer: prometheus.NewRegistry()})
		if err != nil {
			b.Fatal(err)
		}
		run(b, mw(newMem(b)))
	})
}

func TestRecorder_ReadThrough(t *testing.T) {
	reg := prometheus.NewRegistry()
	mw, err := promcachet.Metrics(&promcachet.Options{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	mem := newMem(t)
	defer mem.Close()
	c := cachet.Must(cachet.New[string](mem, codec.String(), &cachet.Options[string]{Namespace: "p", Middleware: []cachet.Middleware{mw}}))
	errDB := errors.New("db down")
	f := cachet.Memoize(c, func(ctx context.Context, k string) (string, error) {
		if k == "bad" {
			return "", errDB
		}
		return "v" + k, nil
	}, nil)
	f(bg, "1")   // miss: load
	f(bg, "1")   // hit
	f(bg, "bad") // miss: the load fails
	load := func(context.Context) (string, error) { return "x", nil }
	c.GetOrLoad(bg, "g", load) // miss
	c.GetOrLoad(bg, "g", load) // hit

	got := values(t, reg)
	for name, want := range map[string]float64{
		"cachet_hits_total{op=memoize}":                          1,
		"cachet_misses_total{op=memoize}":                        2,
		"cachet_read_through_total{op=memoize,result=hit}":       1,
		"cachet_read_through_total{op=memoize,result=miss}":      2,
		"cachet_read_through_total{op=get_or_load,result=hit}":   1,
		"cachet_read_through_total{op=get_or_load,result=miss}":  1,
		"cachet_operation_duration_seconds{op=memoize}":          3,
		"cachet_operation_duration_seconds{op=get_or_load}":      2,
		"cachet_operation_duration_seconds{op=load}":             3,
		"cachet_operation_errors_total{error=other,op=load}":     1,
		"cachet_operation_errors_total{error=other,op=memoize}":  1,
		"cachet_hits_total{op=get}":                              2, // the store reads of the hits, under their own op
		"cachet_read_through_total{op=memoize,result=joined}":    0,
		"cachet_refreshes_total{op=memoize}":                     0,
		"cachet_operation_duration_seconds{op=get}":              8, // 2 reads per miss, 1 per hit
		"cachet_operation_duration_seconds{op=set}":              2, // the bad key is not written
		"cachet_read_through_total{op=memoize_many,result=miss}": 0,
	} {
		if got[name] != want {
			t.Errorf("%s: got %v; want %v", name, got[name], want)
		}
	}
}
