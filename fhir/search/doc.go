// Package search is the front end of FHIR search: the registry of search
// parameters (the R4 table generated from the official package, plus custom
// SearchParameters), parsing a search URL into a query.Query, and extracting
// the query.Index of a resource on every write (a fast path for simple
// expressions, FHIRPath for the rest). The storage engines see only the
// types of package query, so they never depend on FHIRPath or the registry;
// both engines share one meaning of every parameter and differ only in how
// they store and look up values.
package search
