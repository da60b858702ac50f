package main

import (
	"testing"

	"github.com/dccfhir/dccfhir/internal/gentest"
)

// TestGeneratedUpToDate checks that the committed output is what the
// generator writes today, so hand edits and stale output are caught.
func TestGeneratedUpToDate(t *testing.T) {
	gentest.Fresh(t, "../..", "go generate ./fhir/search")
}
