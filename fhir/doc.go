// Package fhir holds the FHIR R4 core the rest of dccfhir builds on: the
// resource types the server knows, id rules, OperationOutcome errors and the
// raw-JSON helpers that let a resource be stored as it arrived.
package fhir

//go:generate go run ./internal/r4gen -out .
