package bench

import "github.com/cachet-go/cachet/internal/benchdata"

// The values cached and encoded here are the codec package's benchmark
// values (internal/benchdata): a six-field User (about 150 bytes of JSON)
// and a 75-line Order (about 9 KB).
type (
	User  = benchdata.User
	Item  = benchdata.Item
	Order = benchdata.Order
)

var (
	ada   = benchdata.NewUser()
	order = benchdata.NewOrder()
)
