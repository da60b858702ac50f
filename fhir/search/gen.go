package search

//go:generate go run ./internal/spgen -out .
