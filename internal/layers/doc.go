// Package layers holds the import rules of the module, checked by its test
// over `go list -deps`: imports run one way, handlers → capabilities →
// service → store → fhir, and the pure FHIR libraries under fhir/ import no
// storage, service or HTTP code. docs/architecture.md explains the layers.
package layers
