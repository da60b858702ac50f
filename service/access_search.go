package service

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/fhir/search"
	"github.com/dccfhir/dccfhir/fhir/search/query"
	"github.com/dccfhir/dccfhir/store"
)

// searchLimit is the one limit the caller's access sets on a search of
// the types q names (q.Types), within the compartment comp when set, or
// its refusal. Every type searched needs 's'; a search naming no type
// (a system search without _type, a compartment search of every type)
// needs a wildcard grant (*.s). One search carries one set of clauses,
// so the types must all be narrowed alike: a confined grant on a system
// search without _type, or types the scopes narrow differently
// (Observation confined, Medication not; two restrictions), are refused
// with a 403 asking for one type at a time or for _type.
//
// A compartment search naming no type (Patient/x/*, $everything) asks
// the grant of each type of the compartment too, and searches only the
// types it allows: kept is then those types (nil: q's own), so what the
// wildcard allows never reaches a type refused on its own (an AuditEvent
// to a non-auditor). When it allows none, the first refusal.
func (s *Service) searchLimit(ctx context.Context, q *query.Query, comp string) (first *limit, kept []string, err error) {
	a := AccessFrom(ctx)
	if a == nil {
		return nil, nil, nil
	}
	types, named := q.Types, len(q.Types) > 0
	if comp != "" {
		types = compartmentTypes(comp, q.Types)
	}
	var wild *limit
	if !named {
		g, err := a.Grant('s', "*")
		if err != nil {
			return nil, nil, err
		}
		if len(types) == 0 {
			if g.Confined {
				return nil, nil, forbidden("confine search to %s, which a search of every resource type cannot be (some types are shared, outside any compartment): name the types with _type", compartmentsText(patientSet(g.Patients)))
			}
			l, err := s.limitOf(g, 's', "*")
			return l, nil, err
		}
		if wild, err = s.limitOf(g, 's', "*"); err != nil {
			return nil, nil, err
		}
	}
	var refused error
	for _, t := range types {
		g, err := a.Grant('s', t)
		if fe, ok := isClientErr(err); ok && fe.Status == 403 && !named {
			refused = cmp.Or(refused, err)
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		l, err := s.limitOf(g, 's', t)
		if err != nil {
			return nil, nil, err
		}
		if !named && (l == nil || l.equal(wild)) {
			// the wildcard narrows every type of the compartment alike;
			// a type's own grant unnarrowed (a user/ scope beside
			// patient/*.s) is not widened to
			l = wild
		}
		switch {
		case len(kept) == 0:
			first = l
		case !first.equal(l):
			return nil, nil, forbidden("narrow search of %s (%s) and of %s (%s) differently, which one search cannot: search them one type at a time",
				kept[0], limitText(first), t, limitText(l))
		}
		kept = append(kept, t)
	}
	if len(kept) == 0 {
		return nil, nil, refused
	}
	if named || refused == nil {
		kept = nil
	}
	return first, kept, nil
}

func limitText(l *limit) string {
	if l == nil {
		return "not narrowed"
	}
	return "to " + l.String()
}

// planNarrowed is planSearch narrowed by the caller's access (nothing to
// do without an Access in ctx): the clauses of each of lims (confinement,
// restriction; a conditional write's match is narrowed by two grants)
// ANDed to the search, the inner searches of chains and _has narrowed to
// the caller's grants on their types (narrowInner), and what was added
// recorded in Plan.Access for __explain. execute then filters what the
// includes bring (visible). r is what the inner searches read: the store,
// or the transaction of a conditional write.
func (s *Service) planNarrowed(ctx context.Context, r store.Reader, q *query.Query, comp, compID string, lims ...*limit) (*Plan, error) {
	var ls []*limit
	for _, l := range lims {
		if l != nil && !slices.ContainsFunc(ls, l.equal) {
			ls = append(ls, l)
		}
	}
	if AccessFrom(ctx) == nil || (ls == nil && !hasInner(q.Where) && len(q.Include)+len(q.RevInclude) == 0) {
		return s.planSearch(q, comp, compID)
	}
	m := *q
	m.Where = slices.Clone(q.Where)
	var notes []string
	types := q.Types
	if comp != "" {
		types = compartmentTypes(comp, q.Types)
	}
	for i := range m.Where {
		cl, ns, err := s.narrowInner(ctx, r, &m.Where[i], types, false)
		if err != nil {
			return nil, err
		}
		m.Where[i] = *cl
		notes = append(notes, ns...)
	}
	for _, l := range ls {
		cls, err := s.clauses(l, types)
		if err != nil {
			return nil, err
		}
		ds := make([]string, len(cls))
		for i := range cls {
			ds[i] = describe(&cls[i])
		}
		m.Where = append(m.Where, cls...)
		notes = append(notes, fmt.Sprintf("narrowed to %s by the token's scopes, as the clause(s) %s", l, strings.Join(ds, " and ")))
	}
	if len(q.Include)+len(q.RevInclude) > 0 {
		notes = append(notes, "_include and _revinclude keep only the resources the token's scopes let the caller read or search, within their compartment and restriction (one search per type and level)")
	}
	p, err := s.planSearch(&m, comp, compID)
	if err != nil {
		return nil, err
	}
	p.Asked, p.Access = q, notes
	if slices.ContainsFunc(ls, (*limit).none) {
		p.Nothing = true
		p.Access = append(p.Access, "the token's scopes confine the search to no patient at all: nothing matches, the store is not asked")
	}
	return p, nil
}

// hasInner reports whether a clause has a chain or _has.
func hasInner(where []query.Clause) bool {
	return slices.ContainsFunc(where, func(c query.Clause) bool { return c.Chain != nil || c.Has != nil })
}

// noID is no resource's id (FHIR ids have no '_'): the value of a
// resolved chain or _has that found nothing.
const noID = "_none_"

// narrowInner narrows the inner search of a chain or _has on base types
// to the caller's access, since its answer is an oracle on the resources
// it reaches (Practitioner?_has:Observation:performer:code=X tells whether
// some Observation of any patient has that code). A chain follows only
// the target types the caller may search ('s'; none: the refusal), and a
// _has needs 's' on its type. When the grant on an inner type narrows it
// (confined, restricted), the inner search is run narrowed, here, and the
// clause replaced by what it found: a chain by the references it may
// follow (param=Type/id,...), a _has by the ids of the base resources
// the matches refer to (_id=...), each bounded by the values one clause
// may hold (search.ValueBound; over it, a 400 asking to narrow the
// search). Inner searches unnarrowed are left to the engine as they are.
// It returns cl itself when nothing changed, and notes for __explain.
func (s *Service) narrowInner(ctx context.Context, r store.Reader, cl *query.Clause, types []string, chained bool) (*query.Clause, []string, error) {
	switch {
	case cl.Chain != nil:
		return s.narrowChain(ctx, r, cl, chained)
	case cl.Has != nil:
		return s.narrowHas(ctx, r, cl, types, chained)
	}
	return cl, nil, nil
}

func (s *Service) narrowChain(ctx context.Context, r store.Reader, cl *query.Clause, chained bool) (*query.Clause, []string, error) {
	var kept []string
	var lims []*limit
	var refused error
	for _, t := range cl.TargetTypes {
		l, err := s.grant(ctx, 's', t)
		if err != nil {
			if refused == nil {
				refused = err
			}
			continue
		}
		kept, lims = append(kept, t), append(lims, l)
	}
	if len(kept) == 0 {
		return nil, nil, refused
	}
	if !slices.ContainsFunc(lims, func(l *limit) bool { return l != nil }) {
		inner, notes, err := s.narrowInner(ctx, r, cl.Chain, kept, true)
		if err != nil {
			return nil, nil, err
		}
		if notes == nil && len(kept) == len(cl.TargetTypes) {
			return cl, nil, nil
		}
		if len(kept) < len(cl.TargetTypes) {
			notes = append(notes, fmt.Sprintf("the chain %s follows only %s, the types the token's scopes let the caller search", describe(cl), strings.Join(kept, ", ")))
		}
		cp := *cl
		cp.Chain, cp.TargetTypes = inner, kept
		return &cp, notes, nil
	}
	max, name := search.ValueBound(chained)
	out := query.Clause{Param: cl.Param, Type: query.TypeReference}
	for i, t := range kept {
		found, err := s.resolve(ctx, r, &query.Query{Types: []string{t}, Where: []query.Clause{*cl.Chain}}, lims[i], max+1-len(out.Values))
		if err != nil {
			return nil, nil, err
		}
		for _, f := range found {
			out.Values = append(out.Values, query.Value{RefType: t, RefID: f.ID, Raw: t + "/" + f.ID})
		}
		if len(out.Values) > max {
			return nil, nil, fhir.Errorf(400, "too-costly", cl.Param, "within the token's scopes the chain %s reaches more than %d resources (%s), more than one search may follow: narrow it", describe(cl), max, name)
		}
	}
	note := fmt.Sprintf("the chain %s is resolved within the token's scopes to %d reference(s)", describe(cl), len(out.Values))
	if len(out.Values) == 0 {
		out.Values = []query.Value{{RefType: kept[0], RefID: noID, Raw: kept[0] + "/" + noID}}
	}
	return &out, []string{note + ", as the clause " + describe(&out)}, nil
}

func (s *Service) narrowHas(ctx context.Context, r store.Reader, cl *query.Clause, types []string, chained bool) (*query.Clause, []string, error) {
	h := cl.Has
	l, err := s.grant(ctx, 's', h.Type)
	if err != nil {
		return nil, nil, err
	}
	if l == nil {
		inner, notes, err := s.narrowInner(ctx, r, &h.Where, []string{h.Type}, true)
		if err != nil || notes == nil {
			return cl, nil, err
		}
		cp, hc := *cl, *h
		hc.Where = *inner
		cp.Has = &hc
		return &cp, notes, nil
	}
	found, err := s.resolve(ctx, r, &query.Query{Types: []string{h.Type}, Where: []query.Clause{h.Where}}, l, s.MaxCount+1)
	if err != nil {
		return nil, nil, err
	}
	if len(found) > s.MaxCount {
		return nil, nil, fhir.Errorf(400, "too-costly", "_has", "within the token's scopes %s matches more than %d %s resources: narrow it", describe(cl), s.MaxCount, h.Type)
	}
	refs := make([]store.Ref, len(found))
	for i, f := range found {
		refs[i] = store.Ref{Type: f.Type, ID: f.ID}
	}
	var targets []*store.Resource
	if len(refs) > 0 {
		if targets, err = r.Targets(ctx, refs, h.RefParam, ""); err != nil {
			return nil, nil, err
		}
	}
	max, name := search.ValueBound(chained)
	out := query.Clause{Param: "_id", Type: query.TypeToken}
	seen := map[string]bool{}
	for _, t := range targets {
		if (len(types) > 0 && !slices.Contains(types, t.Type)) || seen[t.ID] {
			continue
		}
		seen[t.ID] = true
		out.Values = append(out.Values, query.Value{Code: t.ID, Raw: t.ID})
	}
	if len(out.Values) > max {
		return nil, nil, fhir.Errorf(400, "too-costly", "_has", "within the token's scopes %s selects more than %d resources (%s): narrow it", describe(cl), max, name)
	}
	note := fmt.Sprintf("%s is resolved within the token's scopes (%s narrowed to %s) to %d resource(s)", describe(cl), h.Type, l, len(out.Values))
	if len(out.Values) == 0 {
		out.Values = []query.Value{{Code: noID, Raw: noID}}
	}
	return &out, []string{note + ", as the clause " + describe(&out)}, nil
}

// resolve runs an inner search narrowed to l (and, recursively, its own
// chains) on r, for up to n matches.
func (s *Service) resolve(ctx context.Context, r store.Reader, q *query.Query, l *limit, n int) ([]*store.Resource, error) {
	q.Count = n
	p, err := s.planNarrowed(ctx, r, q, "", "", l)
	if err != nil {
		return nil, err
	}
	res, err := p.search(ctx, r)
	if err != nil {
		return nil, err
	}
	return res.Resources, nil
}

// visible keeps, of what one level of _include/_revinclude brought, the
// resources the caller may see: of a type it may search or read ('s' or
// 'r'), and, when that grant narrows it, within its compartment and
// restriction — checked with one membership search per type (members),
// never one per resource. It runs on every level before the next
// (store.IncludeSpec.Keep), so :iterate never walks on from a resource
// the caller may not see.
func (s *Service) visible(ctx context.Context, r store.Reader, rs []*store.Resource) ([]*store.Resource, error) {
	a := AccessFrom(ctx)
	byType := map[string][]string{}
	var order []string
	for _, x := range rs {
		if _, ok := byType[x.Type]; !ok {
			order = append(order, x.Type)
		}
		byType[x.Type] = append(byType[x.Type], x.ID)
	}
	open := map[string]bool{}
	keep := map[string]map[string]bool{}
	for _, t := range order {
		var lims []*limit
		for _, letter := range []byte{'s', 'r'} {
			g, err := a.Grant(letter, t)
			if err != nil {
				continue
			}
			l, err := s.limitOf(g, letter, t)
			if err != nil {
				continue
			}
			if l == nil {
				open[t] = true
				break
			}
			if !slices.ContainsFunc(lims, l.equal) {
				lims = append(lims, l)
			}
		}
		if open[t] {
			continue
		}
		set := map[string]bool{}
		for _, l := range lims {
			m, err := s.members(ctx, r, t, byType[t], l)
			if err != nil {
				return nil, err
			}
			for id := range m {
				set[id] = true
			}
		}
		keep[t] = set
	}
	out := make([]*store.Resource, 0, len(rs))
	for _, x := range rs {
		if open[x.Type] || keep[x.Type][x.ID] {
			out = append(out, x)
		}
	}
	return out, nil
}
