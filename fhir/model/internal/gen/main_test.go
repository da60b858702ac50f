package main

import (
	"bytes"
	"os"
	"testing"
)

// TestGeneratedUpToDate checks that the committed model_gen.go is what the
// generator writes today, so hand edits and stale output are caught.
func TestGeneratedUpToDate(t *testing.T) {
	want, err := generate()
	if err != nil {
		t.Skipf("R4 package unavailable: %v", err)
	}
	got, err := os.ReadFile("../../model_gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("model_gen.go is stale: run go generate ./fhir/model")
	}
}
