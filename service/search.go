package service

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/fhir/search"
	"github.com/dccfhir/dccfhir/fhir/search/query"
	"github.com/dccfhir/dccfhir/store"
)

// SearchResponse is a page of search results with the query as the server
// understood it (for the self link) and the parameters it ignored.
type SearchResponse struct {
	// Query is the search as the client asked it, understood (the self
	// link encodes it); a compartment search's own clause is in
	// Plan.Compartment, not here.
	Query   *query.Query
	Result  *store.SearchResult
	Ignored []search.Unknown
	// Plan is how the search was answered.
	Plan *Plan
	// Explain is the plan as OperationOutcome issues when the client asked
	// for it (__explain=true), else nil.
	Explain []fhir.Issue
}

// ExplainParam asks a search for its plan (as Blaze's __explain does).
const ExplainParam = "__explain"

// Search runs a type search (typ set) or a system search (typ ""). Unknown
// parameters are ignored, or a 400 naming them when strict
// (Prefer: handling=strict).
func (s *Service) Search(ctx context.Context, typ string, params url.Values, strict bool) (*SearchResponse, error) {
	return s.SearchCompartment(ctx, "", "", typ, params, strict)
}

// SearchCompartment is a search within the compartment comp/compID
// (Patient/123/Observation; typ "*" or "" for every type the compartment
// holds). With comp empty it is a plain type or system search.
func (s *Service) SearchCompartment(ctx context.Context, comp, compID, typ string, params url.Values, strict bool) (*SearchResponse, error) {
	if typ == "*" {
		typ = ""
	}
	if comp != "" {
		if !search.HasCompartment(comp) {
			return nil, fhir.Errorf(404, "not-supported", "", "%s is not a compartment (Patient, Encounter, RelatedPerson, Practitioner, Device)", comp)
		}
		if !fhir.ValidID(compID) {
			return nil, fhir.Errorf(400, "value", "", "invalid id %q", compID)
		}
		if typ != "" && fhir.KnownType(typ) && !search.InCompartment(comp, typ) {
			return nil, fhir.Errorf(400, "not-supported", "", "%s resources are never in the %s compartment", typ, comp)
		}
	}
	if typ != "" {
		if err := checkTypeID(typ, ""); err != nil {
			return nil, err
		}
	}
	explain, err := explainFlag(params[ExplainParam])
	if err != nil {
		return nil, err
	}
	vals := make(url.Values, len(params))
	for k, v := range params {
		if k != PageParam && k != ExplainParam {
			vals[k] = v
		}
	}
	p := &search.Parser{Registry: s.Params, DefaultCount: s.DefaultCount, MaxCount: s.MaxCount}
	q, unknown, err := p.Parse(typ, vals)
	if err != nil {
		return nil, err
	}
	if strict && len(unknown) > 0 {
		return nil, unknownErr("the search uses", unknown)
	}
	q.Page = params.Get(PageParam)
	lim, kept, err := s.searchLimit(ctx, q, comp)
	if err != nil {
		return nil, err
	}
	pq := q
	if kept != nil { // the compartment's types the caller may search
		c := *q
		c.Types = kept
		pq = &c
	}
	plan, err := s.planNarrowed(ctx, s.Store, pq, comp, compID, lim)
	if err != nil {
		return nil, storeErr(err) // its inner searches ran on the engine
	}
	res, err := s.execute(ctx, s.Store, plan)
	if err != nil {
		return nil, storeErr(err)
	}
	resp := &SearchResponse{Query: q, Result: res, Ignored: unknown, Plan: plan}
	if explain {
		if resp.Explain, err = s.explain(ctx, plan); err != nil {
			return nil, storeErr(err)
		}
	}
	return resp, nil
}

// explainFlag reads __explain: true or false.
func explainFlag(vs []string) (bool, error) {
	on := false
	for _, v := range vs {
		switch v {
		case "true":
			on = true
		case "false", "":
		default:
			return false, fhir.Errorf(400, "invalid", ExplainParam, "%s=%q: the value must be true or false", ExplainParam, v)
		}
	}
	return on, nil
}

// unknownErr is the 400 for parameters the server does not know or support.
func unknownErr(what string, unknown []search.Unknown) *fhir.Error {
	e := &fhir.Error{Status: 400}
	for _, u := range unknown {
		msg := fmt.Sprintf("%s parameter %q, which this server does not know or support", what, u.Name)
		if u.Reason != "" {
			msg += ": " + u.Reason
		}
		e.Issues = append(e.Issues, fhir.Issue{Severity: "error", Code: "not-supported", Diagnostics: msg, Expression: []string{strings.SplitN(u.Name, ":", 2)[0]}})
	}
	return e
}

// compartmentTypes is the types of a compartment search: those of _type
// that can be in the compartment, or all of them.
func compartmentTypes(comp string, asked []string) []string {
	if len(asked) == 0 {
		ts := search.CompartmentTypes(comp)
		sort.Strings(ts)
		return ts
	}
	var out []string
	for _, t := range asked {
		if search.InCompartment(comp, t) {
			out = append(out, t)
		}
	}
	if out == nil { // nothing can match; keep the search well-formed
		out = []string{comp}
	}
	return out
}
