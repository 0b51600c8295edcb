package store

import "strconv"

// Op names a store operation. Its String method gives the lowercase name
// that errors carry in [Error.Op] ("get", "get_many", ...), so backends
// name their operations with these constants instead of spelling them.
type Op uint8

// The operations of [Store], in the order of its methods, then those
// outside the hooked set. The zero Op is not a valid operation.
const (
	OpGet Op = iota + 1
	OpGetMany
	OpSet
	OpSetMany
	OpAdd
	OpDelete
	OpExists
	OpIncrement
	OpExpire
	OpTTL
	OpClear

	// OpClose names [Store.Close] in errors. Middleware that observes
	// operations (cachet's plugins) does not report it.
	OpClose
	// OpCompareAndDelete names [CompareAndDeleter.CompareAndDelete] in
	// errors.
	OpCompareAndDelete
	// OpGetVersion and OpCompareAndSwap name the methods of [Swapper] in
	// errors.
	OpGetVersion
	OpCompareAndSwap
	// OpIncrementFloat names [FloatIncrementer.IncrementFloat] in errors.
	OpIncrementFloat

	// OpGetOrLoad, OpMemoize and OpMemoizeMany are not operations of a
	// Store but read-through calls of package cachet (Cache.GetOrLoad, a
	// memoized function, a memoized batch function), and OpLoad the call
	// of a loader they make. They name those calls in errors and to
	// cachet's observers.
	OpGetOrLoad
	OpMemoize
	OpMemoizeMany
	OpLoad

	numOps // one more than the largest Op
)

var opNames = [numOps]string{
	OpGet:              "get",
	OpGetMany:          "get_many",
	OpSet:              "set",
	OpSetMany:          "set_many",
	OpAdd:              "add",
	OpDelete:           "delete",
	OpExists:           "exists",
	OpIncrement:        "increment",
	OpExpire:           "expire",
	OpTTL:              "ttl",
	OpClear:            "clear",
	OpClose:            "close",
	OpCompareAndDelete: "compare_and_delete",
	OpGetVersion:       "get_version",
	OpCompareAndSwap:   "compare_and_swap",
	OpIncrementFloat:   "increment_float",
	OpGetOrLoad:        "get_or_load",
	OpMemoize:          "memoize",
	OpMemoizeMany:      "memoize_many",
	OpLoad:             "load",
}

// String returns the operation's lowercase name, the one store errors use,
// or "Op(n)" for an invalid Op.
func (o Op) String() string {
	if o > 0 && o < numOps {
		return opNames[o]
	}
	return badOp(o) // out of line, so that String inlines
}

//go:noinline
func badOp(o Op) string { return "Op(" + strconv.Itoa(int(o)) + ")" }
