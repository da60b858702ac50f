// Package layers holds the import rules of the module, checked by its test
// over the packages' sources (non-test files, read with go/build): imports
// run one way, handlers → capabilities (access, audit) → service → store → fhir, the pure
// FHIR libraries under fhir/ import no storage, service or HTTP code, and
// neither the service nor the engines import net/http or Echo.
// docs/architecture.md explains the layers.
package layers
