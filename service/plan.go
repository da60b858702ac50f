package service

import (
	"cmp"
	"context"
	"math"
	"slices"

	"github.com/dccfhir/dccfhir/fhir/search"
	"github.com/dccfhir/dccfhir/fhir/search/query"
	"github.com/dccfhir/dccfhir/store"
)

// Plan is how the service answers one search, settled before the store is
// asked and shown by __explain. planSearch makes it from the parsed query,
// execute runs it. Every search a client asks for goes through both (type,
// system and compartment searches, a Bundle's GET entries, and the matches
// of conditional create, update, patch and delete), which makes them the
// place for what narrows every search: the caller's access (access.go).
// planNarrowed, in front of planSearch, adds the clauses of the caller's
// grant to Match as the compartment's are added, and narrows the inner
// searches of chains and _has (which a clause on Match alone would leave
// open: Observation?patient.name=X would still tell whether such a
// Patient exists); execute filters what the includes bring, level by
// level. Only the server's own scans ($reindex, loading the stored
// SearchParameters at start) and the membership checks of reads and
// writes (members, itself a narrowed search) read the store directly.
type Plan struct {
	// Asked is the search as the client wrote it, parsed.
	Asked *query.Query
	// Compartment is the clause a compartment search adds, nil outside one.
	Compartment *query.Clause
	// ValueSets are the :in / :not-in expansions made for Match.
	ValueSets []Expansion
	// Match is what the engine answers: Asked with its value sets expanded,
	// the compartment clause added and the clauses in evaluation order (the
	// driving one first, see Driving), without include directives.
	Match *query.Query
	// Include and RevInclude are the directives the service follows from
	// the page of matches, to at most Depth levels (store.IncludeDepth).
	Include, RevInclude []query.Include
	Depth               int
	// Access says what the caller's access added (clauses, resolved
	// chains, the include filter), for __explain; nil when nothing.
	Access []string
	// Nothing: the search matches nothing whatever is stored (a grant
	// confined to no patient at all), and execute answers without asking
	// the store.
	Nothing bool
}

// Driving is the clause the search starts from, the first of Match.Where,
// or nil when none can drive (every resource of the types is checked).
func (p *Plan) Driving() *query.Clause {
	if len(p.Match.Where) == 0 || store.DriveRank(&p.Match.Where[0]) < 0 {
		return nil
	}
	return &p.Match.Where[0]
}

// planSearch plans q within the compartment comp/compID (comp "": none).
// Every search the service answers is planned here.
func (s *Service) planSearch(q *query.Query, comp, compID string) (*Plan, error) {
	p := &Plan{Asked: q, Include: q.Include, RevInclude: q.RevInclude, Depth: store.IncludeDepth}
	m := *q
	m.Include, m.RevInclude = nil, nil
	if comp != "" {
		m.Types = compartmentTypes(comp, q.Types)
		cc := search.CompartmentClause(comp, compID)
		p.Compartment = &cc
		m.Where = append(slices.Clip(q.Where), cc)
	}
	x, err := s.expandValueSets(&m, &p.ValueSets)
	if err != nil {
		return nil, err
	}
	m = *x
	m.Where = evaluationOrder(m.Where)
	p.Match = &m
	return p, nil
}

// evaluationOrder sorts clauses by store.DriveRank, most selective first
// (ties keep the client's order), those that cannot drive last: the first
// drives, the others are checked on its candidates, cheap checks first.
func evaluationOrder(where []query.Clause) []query.Clause {
	rank := func(cl *query.Clause) int {
		if r := store.DriveRank(cl); r >= 0 {
			return r
		}
		return math.MaxInt
	}
	out := slices.Clone(where)
	slices.SortStableFunc(out, func(a, b query.Clause) int { return cmp.Compare(rank(&a), rank(&b)) })
	return out
}

// execute runs p on r: the engine's page of matches, then the includes,
// followed level by level with one batched store call per directive and
// level (store.Includes), each level filtered to what the caller may see
// (visible). It is the only way a client's search reaches the store (see
// Plan).
func (s *Service) execute(ctx context.Context, r store.Reader, p *Plan) (*store.SearchResult, error) {
	res, err := p.search(ctx, r)
	if err != nil {
		return nil, err
	}
	if len(p.Include)+len(p.RevInclude) > 0 && len(res.Resources) > 0 {
		spec := store.IncludeSpec{Include: p.Include, RevInclude: p.RevInclude, Depth: p.Depth}
		if AccessFrom(ctx) != nil {
			spec.Keep = func(ctx context.Context, level []*store.Resource) ([]*store.Resource, error) {
				return s.visible(ctx, r, level)
			}
		}
		if res.Included, err = store.Includes(ctx, r, res.Resources, spec); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// search is the engine's page of matches of p, or, when p matches
// Nothing, an empty page (a total of 0 when asked) without a query.
func (p *Plan) search(ctx context.Context, r store.Reader) (*store.SearchResult, error) {
	if !p.Nothing {
		return r.Search(ctx, p.Match)
	}
	res := &store.SearchResult{Total: -1}
	if p.Match.Total {
		res.Total = 0
	}
	return res, nil
}
