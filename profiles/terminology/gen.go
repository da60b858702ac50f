package terminology

// r4text.json.gz is generated from hl7.fhir.r4.examples@4.0.1 (fetched with npm pack into the user cache).
//go:generate go run ./internal/gen -out .
