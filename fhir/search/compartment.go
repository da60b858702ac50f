package search

import "github.com/dccfhir/dccfhir/fhir/search/query"

// CompartmentParam is the virtual reference parameter under which the
// extractor records a resource's compartment memberships (Patient/123,
// Encounter/9...), so a compartment search (Patient/123/Observation) is one
// indexed reference lookup on every engine instead of an OR over the
// parameters the CompartmentDefinition lists.
const CompartmentParam = "_compartment"

// HasCompartment reports whether comp is a compartment type (Patient,
// Encounter, RelatedPerson, Practitioner, Device).
func HasCompartment(comp string) bool { _, ok := compartmentParams[comp]; return ok }

// InCompartment reports whether resources of typ can belong to compartment
// comp: the compartment's own type, or a type its definition lists.
func InCompartment(comp, typ string) bool {
	if comp == typ {
		return true
	}
	_, ok := compartmentParams[comp][typ]
	return ok
}

// CompartmentTypes lists the resource types that can be in comp.
func CompartmentTypes(comp string) []string {
	out := []string{comp}
	for t := range compartmentParams[comp] {
		if t != comp {
			out = append(out, t)
		}
	}
	return out
}

// CompartmentClause selects the members of compartment comp/id.
func CompartmentClause(comp, id string) query.Clause {
	return query.Clause{Param: CompartmentParam, Type: query.TypeReference, Values: []query.Value{{Prefix: query.EQ, RefType: comp, RefID: id, Raw: comp + "/" + id}}}
}

// addCompartments records the compartments the resource belongs to, from
// the reference values already extracted.
func addCompartments(idx *query.Index, typ string, res map[string]any) {
	seen := map[[2]string]bool{}
	add := func(comp, id string) {
		k := [2]string{comp, id}
		if id == "" || seen[k] {
			return
		}
		seen[k] = true
		idx.Refs = append(idx.Refs, query.RefEntry{Param: CompartmentParam, Type: comp, ID: id})
	}
	if _, ok := compartmentParams[typ]; ok {
		if id, _ := res["id"].(string); id != "" {
			add(typ, id)
		}
	}
	n := len(idx.Refs)
	for comp, byType := range compartmentParams {
		params := byType[typ]
		if len(params) == 0 {
			continue
		}
		for i := 0; i < n; i++ {
			r := idx.Refs[i]
			if r.Type != comp {
				continue
			}
			for _, p := range params {
				if r.Param == p {
					add(comp, r.ID)
					break
				}
			}
		}
	}
}
