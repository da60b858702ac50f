// Package model is the FHIR R4 type model: for every resource, complex
// datatype, primitive and nested BackboneElement, its elements with their
// types, cardinality and summary/modifier flags. It is generated from the
// official R4 StructureDefinitions so _summary, FHIRPath typing and
// validation all agree with the specification instead of hand-kept lists.
package model

//go:generate go run ./internal/gen -out .
