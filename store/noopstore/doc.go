// Package noopstore provides a [store.Store] that keeps nothing.
package noopstore
