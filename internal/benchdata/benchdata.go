// Package benchdata holds the realistic values that cachet's benchmarks
// encode and cache, so that the codec package and the bench module measure
// the same shapes.
package benchdata

import (
	"fmt"
	"time"
)

// User is the small value: a typical cached row of six fields (about 150
// bytes of JSON).
type User struct {
	ID      int64     `json:"id" msgpack:"id"`
	Name    string    `json:"name" msgpack:"name"`
	Email   string    `json:"email" msgpack:"email"`
	Tags    []string  `json:"tags" msgpack:"tags"`
	Created time.Time `json:"created" msgpack:"created"`
	Active  bool      `json:"active" msgpack:"active"`
}

// Item is one line of an Order.
type Item struct {
	SKU   string   `json:"sku" msgpack:"sku"`
	Title string   `json:"title" msgpack:"title"`
	Price float64  `json:"price" msgpack:"price"`
	Qty   int      `json:"qty" msgpack:"qty"`
	Tags  []string `json:"tags" msgpack:"tags"`
}

// Order is the large value: 75 line items, about 9 KB of JSON.
type Order struct {
	ID       int64     `json:"id" msgpack:"id"`
	Customer User      `json:"customer" msgpack:"customer"`
	Items    []Item    `json:"items" msgpack:"items"`
	Note     string    `json:"note" msgpack:"note"`
	Placed   time.Time `json:"placed" msgpack:"placed"`
}

// NewUser returns the benchmarks' User.
func NewUser() User {
	return User{
		ID:      1234567,
		Name:    "Ada Lovelace",
		Email:   "ada@example.com",
		Tags:    []string{"admin", "beta", "newsletter"},
		Created: time.Date(2024, 3, 1, 12, 30, 45, 123456789, time.UTC),
		Active:  true,
	}
}

// NewOrder returns the benchmarks' Order, placed by NewUser().
func NewOrder() Order {
	u := NewUser()
	o := Order{ID: 98765, Customer: u, Note: "leave at the door", Placed: u.Created}
	for i := range 75 {
		o.Items = append(o.Items, Item{
			SKU:   fmt.Sprintf("SKU-%06d", i*7919),
			Title: fmt.Sprintf("Item number %d, a fine product", i),
			Price: float64(i*100+99) / 100,
			Qty:   1 + i%5,
			Tags:  []string{"catalog", fmt.Sprintf("aisle-%d", i%12)},
		})
	}
	return o
}
