module github.com/cachet-go/cachet

go 1.24.0

require (
	github.com/maypok86/otter/v2 v2.4.0
	github.com/vmihailenco/msgpack/v5 v5.4.1
	golang.org/x/sync v0.19.0
)

require github.com/vmihailenco/tagparser/v2 v2.0.0 // indirect
