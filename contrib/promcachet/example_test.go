package promcachet_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/cachet-go/cachet"
	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/contrib/promcachet"
	"github.com/cachet-go/cachet/store/memstore"
	"github.com/prometheus/client_golang/prometheus"
)

// Recording a cache's operations as Prometheus metrics. A program would
// leave Registerer unset (the default registry, served by promhttp); the
// example uses its own registry to read the counters back.
func ExampleMetrics() {
	reg := prometheus.NewRegistry()
	mw, err := promcachet.Metrics(&promcachet.Options{
		ConstLabels: prometheus.Labels{"cache": "users"},
		Registerer:  reg,
	})
	if err != nil {
		panic(err)
	}
	users, err := cachet.New[string](memstore.Must(nil), codec.String(), &cachet.Options[string]{
		Middleware: []cachet.Middleware{mw},
	})
	if err != nil {
		panic(err)
	}
	defer users.Close()

	ctx := context.Background()
	users.Set(ctx, "42", "Ada")
	users.Get(ctx, "42") // a hit
	users.Get(ctx, "7")  // a miss

	// What a scrape would show: the non-zero hit and miss counters.
	mfs, err := reg.Gather()
	if err != nil {
		panic(err)
	}
	for _, mf := range mfs {
		if !strings.HasSuffix(mf.GetName(), "hits_total") && !strings.HasSuffix(mf.GetName(), "misses_total") {
			continue
		}
		for _, m := range mf.GetMetric() {
			if v := m.GetCounter().GetValue(); v > 0 {
				var labels []string
				for _, l := range m.GetLabel() {
					labels = append(labels, l.GetName()+"="+l.GetValue())
				}
				fmt.Printf("%s{%s} %v\n", mf.GetName(), strings.Join(labels, ","), v)
			}
		}
	}
	// Output:
	// cachet_hits_total{cache=users,op=get} 1
	// cachet_misses_total{cache=users,op=get} 1
}

// The form of the package documentation: a program leaves Registerer
// unset, so the metrics go to the default registry that promhttp serves.
// (The example has no Output, so go test compiles it but does not run
// it: it would register the metrics in the process' default registry.)
func Example_defaultRegistry() {
	s := memstore.Must(nil)
	defer s.Close()

	mw, err := promcachet.Metrics(&promcachet.Options{
		ConstLabels: prometheus.Labels{"cache": "users"},
	})
	if err != nil {
		panic(err)
	}
	users, err := cachet.New[string](s, codec.String(), &cachet.Options[string]{
		Namespace:  "users",
		Middleware: []cachet.Middleware{mw},
	})
	if err != nil {
		panic(err)
	}
	defer users.Close()
}
