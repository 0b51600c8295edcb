package caches

import (
	"fmt"
	"reflect"

	"github.com/cachet-go/cachet"
)

// checkValueType returns an error if the alias already has caches of a
// value type other than vt: their values share one namespace, so a cache
// of vt would read values of the other type (an undecodable value at
// best, a wrong one at worst). e.mu is held.
func (e *aliasEntry) checkValueType(kt, vt reflect.Type) error {
	for _, b := range e.caches {
		if b.v != vt {
			return fmt.Errorf("%w: caches: alias %q holds %v values (built by Alias[%v, %v]); Alias[%v, %v] asks for %v values: use another alias, or caches.Create with its own namespace",
				cachet.ErrInvalidOption, e.name, b.v, b.k, b.v, kt, vt, vt)
		}
	}
	return nil
}
