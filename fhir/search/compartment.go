package search

import (
	"fmt"
	"sync"

	"github.com/dccfhir/dccfhir/fhir/search/query"
)

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

// addCompartments records the compartments the resource belongs to, by
// the R4 parameters the CompartmentDefinitions name: from the reference
// values already extracted when reg answers the parameter with its R4
// definition, else by evaluating that definition here. A custom
// SearchParameter replacing one (Observation.performer redefined as a
// constant Patient/p1) changes that parameter's searches, never which
// compartments a resource is in: patient/ scopes confine by compartment,
// so whoever may write a SearchParameter could otherwise put every
// patient's resources in one patient's compartment, or take them out.
func addCompartments(idx *query.Index, reg *Registry, typ string, res map[string]any, base string) error {
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
		for _, p := range byType[typ] {
			refs := idx.Refs[:n]
			if !reg.BuiltIn(typ, p) {
				var err error
				if refs, err = r4Refs(typ, p, res, base); err != nil {
					return err
				}
			}
			for _, r := range refs {
				if r.Param == p && r.Type == comp {
					add(comp, r.ID)
				}
			}
		}
	}
	return nil
}

// BuiltIn reports whether reg answers typ's parameter code with its R4
// definition (the same type and expression, compiled), rather than with
// one a custom SearchParameter replaced it by, or not at all. What rests
// on a parameter's meaning for access (the compartments, the patient
// parameter patient/ scopes confine Task and Device by) asks it.
func (reg *Registry) BuiltIn(typ, code string) bool {
	p, b := reg.Lookup(typ, code), r4Def(typ, code)
	return p != nil && b != nil && p.eval != nil && p.Type == b.Type && p.Expression == b.Expression
}

// r4Defs caches compiled copies of the R4 parameters, by [type, code]
// (nil when R4 has none), for the compartments of resources whose
// registry replaced them.
var r4Defs sync.Map

func r4Def(typ, code string) *Param {
	k := [2]string{typ, code}
	if p, ok := r4Defs.Load(k); ok {
		return p.(*Param)
	}
	p := r4Param(typ, code)
	r4Defs.Store(k, p)
	return p
}

// r4Refs evaluates the R4 reference parameter typ/code on res: its
// entries as the extractor makes them, localized to base.
func r4Refs(typ, code string, res map[string]any, base string) ([]query.RefEntry, error) {
	b := r4Def(typ, code)
	if b == nil || b.eval == nil || b.Type != query.TypeReference {
		return nil, nil
	}
	nodes, err := b.eval.eval(node{v: res, t: typ}, res, true, nil)
	if err != nil {
		return nil, fmt.Errorf("search parameter %s (R4, for compartments): %w", code, err)
	}
	var x query.Index
	for _, n := range nodes {
		addNode(&x, code, b.Type, n, res)
	}
	localizeRefs(&x, base)
	return x.Refs, nil
}
