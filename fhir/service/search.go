package service

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/fhir/search"
	"github.com/dccfhir/dccfhir/store"
)

// SearchResponse is a page of search results with the query as the server
// understood it (for the self link) and the parameters it ignored.
type SearchResponse struct {
	Query   *search.Query
	Result  *store.SearchResult
	Ignored []search.Unknown
}

// Search runs a type search (typ set) or a system search (typ ""). Unknown
// parameters are ignored, or a 400 naming them when strict
// (Prefer: handling=strict).
func (s *Service) Search(ctx context.Context, typ string, params url.Values, strict bool) (*SearchResponse, error) {
	if typ != "" {
		if err := checkTypeID(typ, ""); err != nil {
			return nil, err
		}
	}
	vals := make(url.Values, len(params))
	for k, v := range params {
		if k != PageParam {
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
	res, err := s.Store.Search(ctx, q)
	if err != nil {
		return nil, storeErr(err, typ, "")
	}
	return &SearchResponse{Query: q, Result: res, Ignored: unknown}, nil
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
