package service

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/dccfhir/dccfhir/fhir"
)

// The interactions a GET entry of a Bundle may name.
const (
	GetRead    = "read"
	GetVRead   = "vread"
	GetSearch  = "search"
	GetHistory = "history"
)

// GetEntry is the URL of a Bundle's GET entry read as the interaction it
// names, the way the HTTP routes read the same URL. The HTTP layer renders
// its answer from it exactly as it renders that interaction on its own
// (self and paging links, _summary and _elements).
type GetEntry struct {
	Interaction string // GetRead, GetVRead, GetSearch or GetHistory
	// Compartment and CompartmentID are set for a compartment search
	// (Patient/123/Observation; Type "*" for Patient/123/*).
	Compartment, CompartmentID string
	// Type is "" at the system level.
	Type, ID, Version string
	Params            url.Values
}

// parseGet reads a GET entry's request.url (relative to the base). at
// locates it in the Bundle, for the errors.
func parseGet(raw, at string) (*GetEntry, error) {
	p, q, _ := strings.Cut(strings.TrimPrefix(raw, "/"), "?")
	params, err := url.ParseQuery(q)
	if err != nil {
		return nil, fhir.Errorf(400, "invalid", at, "query of %q: %v", raw, err)
	}
	p = strings.TrimSuffix(p, "/")
	g := &GetEntry{Params: params}
	seg := strings.Split(p, "/")
	for _, s := range seg {
		if strings.HasPrefix(s, "$") || (s == "metadata" && len(seg) == 1) {
			return nil, fhir.Errorf(400, "not-supported", at, "GET %q: a Bundle entry may read, vread, search or read history; operations and metadata are answered only as requests of their own", raw)
		}
	}
	switch {
	case p == "":
		g.Interaction = GetSearch
	case len(seg) == 1 && seg[0] == "_history":
		g.Interaction = GetHistory
	case len(seg) == 1:
		g.Interaction, g.Type = GetSearch, seg[0]
	case len(seg) == 2 && seg[1] == "_history":
		g.Interaction, g.Type = GetHistory, seg[0]
	case len(seg) == 2:
		g.Interaction, g.Type, g.ID = GetRead, seg[0], seg[1]
	case len(seg) == 3 && seg[2] == "_history":
		g.Interaction, g.Type, g.ID = GetHistory, seg[0], seg[1]
	case len(seg) == 4 && seg[2] == "_history":
		g.Interaction, g.Type, g.ID, g.Version = GetVRead, seg[0], seg[1], seg[3]
	case len(seg) == 3:
		g.Interaction, g.Compartment, g.CompartmentID, g.Type = GetSearch, seg[0], seg[1], seg[2]
	default:
		return nil, fhir.Errorf(404, "not-found", at, "GET %q names no interaction", raw)
	}
	return g, nil
}

// get answers a GET (or HEAD) entry with the service's own read, vread,
// search or history, after the writes of the Bundle committed. A failure
// stays in its entry, in a transaction too.
func (s *Service) get(ctx context.Context, e *entry, opts BundleOptions) EntryResult {
	at := fmt.Sprintf("Bundle.entry[%d].request.url", e.index)
	g, err := parseGet(e.req.URL, at)
	if err != nil {
		return failed(&e.req, err)
	}
	r := EntryResult{Request: e.req, Status: 200, Get: g}
	switch g.Interaction {
	case GetRead:
		r.Resource, err = s.Read(ctx, g.Type, g.ID)
	case GetVRead:
		r.Resource, err = s.VRead(ctx, g.Type, g.ID, g.Version)
	case GetSearch:
		r.Search, err = s.SearchCompartment(ctx, g.Compartment, g.CompartmentID, g.Type, g.Params, opts.Strict)
	case GetHistory:
		r.History, err = s.History(ctx, g.Type, g.ID, g.Params)
	}
	if err != nil {
		f := failed(&e.req, err)
		f.Resource = r.Resource // a 410 keeps the tombstone, for its ETag
		return f
	}
	return r
}
