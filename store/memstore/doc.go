// Package memstore provides a bounded in-process [store.Store].
package memstore
