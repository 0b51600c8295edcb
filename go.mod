module github.com/cachet-go/cachet

go 1.24
