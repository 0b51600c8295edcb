package store_test

import (
	"testing"

	"github.com/cachet-go/cachet/store"
)

func TestOp_String(t *testing.T) {
	for op, want := range map[store.Op]string{
		store.OpGet:              "get",
		store.OpGetMany:          "get_many",
		store.OpSet:              "set",
		store.OpSetMany:          "set_many",
		store.OpAdd:              "add",
		store.OpDelete:           "delete",
		store.OpExists:           "exists",
		store.OpIncrement:        "increment",
		store.OpExpire:           "expire",
		store.OpTTL:              "ttl",
		store.OpClear:            "clear",
		store.OpClose:            "close",
		store.OpCompareAndDelete: "compare_and_delete",
		store.OpGetVersion:       "get_version",
		store.OpCompareAndSwap:   "compare_and_swap",
		store.OpIncrementFloat:   "increment_float",
		store.OpGetOrLoad:        "get_or_load",
		store.OpMemoize:          "memoize",
		store.OpMemoizeMany:      "memoize_many",
		store.OpLoad:             "load",
		0:                        "Op(0)",
		200:                      "Op(200)",
	} {
		if got := op.String(); got != want {
			t.Errorf("Op(%d).String(): got %q; want %q", uint8(op), got, want)
		}
	}
}
