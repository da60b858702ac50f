package store

import "github.com/dccfhir/dccfhir/fhir/search/query"

// DriveRank is a static guess of how selective a clause is, lower being
// more selective: the service orders a search's clauses by it (the first
// drives, the others are checks on its candidates) and the SQLite engine
// starts its SQL from the best one. -1: the clause cannot drive, because
// it must look at every candidate (negations, :missing, :text, :contains,
// and _lastUpdated, which is a range over every resource of the type).
// The engines keep no statistics on FHIR value distributions, so this
// guess stands in for them.
func DriveRank(cl *query.Clause) int {
	switch {
	case cl.Missing != nil || cl.Modifier == "not" || cl.Modifier == "text" || cl.Modifier == "contains":
		return -1
	case cl.Has != nil || cl.Chain != nil:
		return 5
	case cl.Param == "_id" && cl.Modifier == "":
		return 0 // the (type, id) key: the best driver there is
	case cl.Param == "_id" || cl.Param == "_lastUpdated":
		return -1
	case cl.Type == query.TypeReference:
		return 1
	case cl.Type == query.TypeToken:
		return 2
	case cl.Type == query.TypeURI || (cl.Type == query.TypeString && cl.Modifier == "exact"):
		return 3
	case cl.Type == query.TypeString:
		return 4
	case cl.Type == query.TypeDate || cl.Type == query.TypeNumber || cl.Type == query.TypeQuantity:
		return 6
	}
	return -1
}
