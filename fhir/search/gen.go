package search

//go:generate go run ./internal/spgen -out .
//go:generate go run ./internal/compgen -out .
