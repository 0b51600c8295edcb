module github.com/cachet-go/cachet

go 1.24.0

require golang.org/x/sync v0.19.0
