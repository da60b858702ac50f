package service

import (
	"cmp"
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/fhir/search"
	"github.com/dccfhir/dccfhir/fhir/search/query"
	"github.com/dccfhir/dccfhir/store"
)

// limit is what a Grant narrows on resources of one type: the patients
// it confines them to and the restriction they must match. A nil *limit
// narrows nothing: no Access, or an unconfined and unrestricted grant —
// the path every request of the server's own, of protection off and of
// user/ and system/ scopes takes, at the cost of one Grant call.
type limit struct {
	// confined confines to the resources of the patients (ids, sorted,
	// without duplicates; none: no resource at all); false when the
	// grant is not confined, or the type is reference data a confined
	// grant reads unconfined (sharedTypes).
	confined bool
	patients []string
	// by is the reference parameter that confines: _compartment (the
	// Patient compartment) for the types it can hold, the type's patient
	// parameter for Task and Device (patientParams).
	by          string
	restriction url.Values
	// refusal is the grant's Refusal: the answer, instead of the 404 of
	// an unknown resource, to a read outside l (notKnown). Not compared
	// by equal: it says nothing about what a search matches.
	refusal error
}

// none reports whether l confines to no patient at all: nothing is
// within it, and no store query is needed to say so.
func (l *limit) none() bool { return l != nil && l.confined && len(l.patients) == 0 }

// notKnown is the answer to a read, vread, history or patch of typ/id
// that l hides, or that does not exist, is deleted or lacks the version
// asked: the grant's Refusal when it has one (the same error, the same
// bytes, whatever the reason), else the 404 of an unknown resource.
func (l *limit) notKnown(typ, id string) error {
	if l != nil && l.refusal != nil {
		return l.refusal
	}
	return notKnown(typ, id)
}

// patientComp is the compartment patient/ scopes confine to.
const patientComp = "Patient"

// patientParams are the types outside the R4 Patient compartment that a
// patient/ grant confines all the same, by the reference parameter
// named, as if the compartment held them: this server's addition to the
// R4 CompartmentDefinition (Task.for, Device.patient), so a patient app
// sees its own tasks and devices, and no one else's.
var patientParams = map[string]string{"Task": "patient", "Device": "patient"}

// sharedTypes are the reference, conformance and terminology types,
// outside every Patient compartment and about no patient: a patient/
// grant reads and searches them unconfined (a patient app needs its
// practitioner, its medications, the value sets), and never writes them.
// Every other type outside the compartment (Binary, Bundle, Contract,
// Linkage, ...) may hold anything, of anyone: a patient/ grant cannot
// confine it, so it allows nothing on it.
var sharedTypes = map[string]bool{
	"Practitioner": true, "PractitionerRole": true, "Organization": true, "Location": true,
	"HealthcareService": true, "Endpoint": true, "Medication": true, "Substance": true,
	"StructureDefinition": true, "ValueSet": true, "CodeSystem": true, "ConceptMap": true,
	"SearchParameter": true, "CapabilityStatement": true, "OperationDefinition": true,
	"CompartmentDefinition": true, "NamingSystem": true, "ImplementationGuide": true,
	"Questionnaire": true, "PlanDefinition": true, "ActivityDefinition": true, "Library": true,
}

// grant asks the caller's Access for letter on typ ("*": every type).
func (s *Service) grant(ctx context.Context, letter byte, typ string) (*limit, error) {
	a := AccessFrom(ctx)
	if a == nil {
		return nil, nil
	}
	g, err := a.Grant(letter, typ)
	if err != nil {
		return nil, err
	}
	return s.limitOf(g, letter, typ)
}

// limitOf is what g narrows for letter on typ, or the 403 of a patient/
// grant on a type it cannot confine. For "*" a confinement is kept, by
// compartment (the callers refuse what they cannot narrow).
func (s *Service) limitOf(g Grant, letter byte, typ string) (*limit, error) {
	if !g.Confined {
		if g.Restriction == nil {
			return nil, nil
		}
		return &limit{restriction: g.Restriction, refusal: g.Refusal}, nil
	}
	l := &limit{confined: true, patients: patientSet(g.Patients), by: search.CompartmentParam, restriction: g.Restriction, refusal: g.Refusal}
	switch p := patientParams[typ]; {
	case typ == "*" || search.InCompartment(patientComp, typ):
	case p != "":
		if !s.Params.BuiltIn(typ, p) {
			return nil, unconfinable(letter, typ, fmt.Sprintf("this server's %s.%s search parameter, which confines %s to a patient, is not the R4 one (a custom SearchParameter replaced it)", typ, p, typ))
		}
		l.by = p
	case sharedTypes[typ] && (letter == 'r' || letter == 's'):
		if g.Restriction == nil {
			return nil, nil
		}
		l.confined, l.patients, l.by = false, nil, ""
	case sharedTypes[typ]:
		return nil, unconfinable(letter, typ, typ+" is shared data, outside every Patient compartment, which a patient/ scope may read but not change")
	default:
		return nil, unconfinable(letter, typ, typ+" is neither in a Patient compartment nor reference data, so a patient/ scope cannot confine it to the launch patient")
	}
	return l, nil
}

// letterVerbs name the scope letters in messages.
var letterVerbs = map[byte]string{'c': "create", 'r': "read", 'u': "update", 'd': "delete", 's': "search"}

// unconfinable is the 403 of a patient/ grant on a type it cannot
// confine, naming the unconfined scopes that would allow it.
func unconfinable(letter byte, typ, why string) error {
	need := typ + "." + string(letter)
	return forbidden("allow %s of %s only by a patient/ scope, and %s: it needs user/%s or system/%s", letterVerbs[letter], typ, why, need, need)
}

func (l *limit) equal(o *limit) bool {
	if l == nil || o == nil {
		return l == o
	}
	if l.confined != o.confined || !slices.Equal(l.patients, o.patients) || l.by != o.by || len(l.restriction) != len(o.restriction) {
		return false
	}
	for k, vs := range l.restriction {
		if !slices.Equal(vs, o.restriction[k]) {
			return false
		}
	}
	return true
}

// String says what l narrows to, for messages and __explain.
func (l *limit) String() string {
	var parts []string
	switch {
	case l.confined && l.by == search.CompartmentParam:
		parts = append(parts, compartmentsText(l.patients))
	case l.confined:
		parts = append(parts, "the resources of "+patientsText(l.patients)+" (by their "+l.by+" parameter)")
	}
	if l.restriction != nil {
		parts = append(parts, "the restriction "+restrictionText(l.restriction))
	}
	return strings.Join(parts, " and ")
}

// shownPatients bounds the ids a message names: a care circle may hold
// thousands.
const shownPatients = 3

// compartmentsText names the compartments of patients, a few ids at most.
func compartmentsText(patients []string) string {
	switch len(patients) {
	case 0:
		return "no patient's compartment"
	case 1:
		return "the compartment of " + patientsText(patients)
	}
	return "the compartments of " + patientsText(patients)
}

// patientsText names patients, a few ids at most.
func patientsText(patients []string) string {
	switch len(patients) {
	case 0:
		return "no patient"
	case 1:
		return "Patient/" + patients[0]
	}
	return fmt.Sprintf("%d patients (%s)", len(patients), idsText(patients))
}

func idsText(ids []string) string {
	if len(ids) <= shownPatients {
		return strings.Join(ids, ", ")
	}
	return strings.Join(ids[:shownPatients], ", ") + ", …"
}

// patientSet is ids as a set (sorted, without duplicates, no empty id),
// ids itself when it is one already, as Grant says it is.
func patientSet(ids []string) []string {
	ok := slices.IsSorted(ids)
	for i := 1; ok && i < len(ids); i++ {
		ok = ids[i] != ids[i-1]
	}
	if ok && (len(ids) == 0 || ids[0] != "") {
		return ids
	}
	out := slices.Compact(slices.Sorted(slices.Values(ids)))
	if len(out) > 0 && out[0] == "" {
		out = out[1:]
	}
	return out
}

func restrictionText(r url.Values) string {
	s, err := url.QueryUnescape(r.Encode())
	if err != nil {
		return r.Encode()
	}
	return s
}

// forbidden is the 403 of an interaction the token's scopes allow but
// cannot narrow as it needs; the message starts as Grant's refusals do.
func forbidden(format string, args ...any) *fhir.Error {
	return fhir.Errorf(403, "forbidden", "", "the token's scopes "+format, args...)
}

// clauses are l's conditions on a search of types: the confinement
// clause, one clause whose values OR the patients
// (_compartment=Patient/a,Patient/b..., or patient=Patient/a,... for
// Task and Device; no patient: a value no resource refers to), then the
// restriction read by the search parser.
func (s *Service) clauses(l *limit, types []string) ([]query.Clause, error) {
	var out []query.Clause
	if l.confined {
		out = append(out, confinement(l))
	}
	if l.restriction == nil {
		return out, nil
	}
	rs, err := s.restrictionClauses(types, l.restriction)
	return append(out, rs...), err
}

// confinement is the clause confining to l's patients by l.by.
func confinement(l *limit) query.Clause {
	cl := query.Clause{Param: l.by, Type: query.TypeReference, Values: make([]query.Value, 0, max(1, len(l.patients)))}
	for _, id := range l.patients {
		cl.Values = append(cl.Values, query.Value{Prefix: query.EQ, RefType: patientComp, RefID: id, Raw: patientComp + "/" + id})
	}
	if len(cl.Values) == 0 {
		cl.Values = append(cl.Values, query.Value{Prefix: query.EQ, RefType: patientComp, RefID: noID, Raw: patientComp + "/" + noID})
	}
	return cl
}

// restrictionClauses parses a scope's restriction for a search of types
// with the search parser, once per restriction, types and registry
// generation (restrictionCache). A restriction the server cannot enforce
// (an unknown parameter, a malformed value, something other than a
// condition such as _count) allows nothing: ignoring it would widen the
// scope. The clauses are shared: callers copy them before changing any.
func (s *Service) restrictionClauses(types []string, r url.Values) ([]query.Clause, error) {
	return s.restrictions.get(s.Params.Generation(), types, r, s.parseRestriction)
}

// parseRestriction is restrictionClauses uncached.
func (s *Service) parseRestriction(types []string, r url.Values) ([]query.Clause, error) {
	typ, vals := "", r
	want := 0
	for _, vs := range r {
		want += len(vs)
	}
	switch {
	case len(types) == 1:
		typ = types[0]
	case len(types) > 1:
		vals = make(url.Values, len(r)+1)
		for k, vs := range r {
			vals[k] = vs
		}
		vals["_type"] = []string{strings.Join(types, ",")}
	}
	what := strings.Join(types, ", ")
	if what == "" {
		what = "every resource type"
	}
	q, unknown, err := search.Parse(s.Params, typ, vals)
	if err != nil {
		return nil, forbidden("restrict %s to %s, which this server cannot read as a search (%v): nothing is allowed", what, restrictionText(r), err)
	}
	if len(unknown) > 0 {
		return nil, forbidden("restrict %s with %s, a parameter this server does not know or support there: it cannot be enforced, so nothing is allowed", what, unknown[0].Name)
	}
	if len(q.Where) != want || len(q.Include)+len(q.RevInclude)+len(q.Sort) > 0 {
		return nil, forbidden("restrict %s to %s, which holds more than search conditions: it cannot be enforced, so nothing is allowed", what, restrictionText(r))
	}
	return q.Where, nil
}

// memberChunk bounds the ids of one membership search (an OR list).
const memberChunk = search.MaxValuesPerParam

// members returns those of the resources typ/ids (current versions) that
// fall within l, by id, with one search per memberChunk ids on r: the
// ids, the confinement clause and the restriction, as any narrowed
// search.
func (s *Service) members(ctx context.Context, r store.Reader, typ string, ids []string, l *limit) (map[string]*store.Resource, error) {
	cls, err := s.clauses(l, []string{typ})
	if err != nil {
		return nil, err
	}
	out := make(map[string]*store.Resource, len(ids))
	if l.none() {
		return out, nil
	}
	for start := 0; start < len(ids); start += memberChunk {
		chunk := ids[start:min(start+memberChunk, len(ids))]
		idc := query.Clause{Param: "_id", Type: query.TypeToken}
		for _, id := range chunk {
			idc.Values = append(idc.Values, query.Value{Code: id, Raw: id})
		}
		q := &query.Query{Types: []string{typ}, Where: append([]query.Clause{idc}, cls...), Count: len(chunk)}
		p, err := s.planSearch(q, "", "")
		if err != nil {
			return nil, err
		}
		res, err := r.Search(ctx, p.Match)
		if err != nil {
			return nil, err
		}
		for _, m := range res.Resources {
			out[m.ID] = m
		}
	}
	return out, nil
}

// member reports whether the current version of typ/id falls within l.
func (s *Service) member(ctx context.Context, r store.Reader, typ, id string, l *limit) (bool, error) {
	cur, err := s.current(ctx, r, typ, id, l)
	return cur != nil, err
}

// current returns the current version of typ/id when it falls within l,
// nil when it does not, is deleted or never existed: one search, which is
// all a read under a narrowing grant costs.
func (s *Service) current(ctx context.Context, r store.Reader, typ, id string, l *limit) (*store.Resource, error) {
	m, err := s.members(ctx, r, typ, []string{id}, l)
	return m[id], err
}

// fits reports whether a version (typ/id), by its search index, falls
// within l: confined to the launch patient by its _compartment entries
// (Task and Device: their patient parameter), and matching each
// restriction clause (onIndex). strict is a write's check: the resource
// must then name no other Patient there either (Observation{subject: p2,
// performer: p1} is in p1's compartment, and p2's too: a patient/ grant
// of p1 may read it, never write it). Only token clauses (system|code,
// |code, code, system|), reference clauses of Type/id or id values
// (based-on=ServiceRequest/1,ServiceRequest/2: a laboratory writes only
// what is based on its orders) and _id can be checked on an index: with
// strict (a write) any other clause refuses the write; without (an older
// version read), it counts as not matching — fail closed: a date or
// string restriction is checked by a membership search, on the current
// version only, so an older version is never shown under it.
func (s *Service) fits(l *limit, typ, id string, idx *query.Index, strict bool) (bool, error) {
	if l.confined && !refersTo(idx, l.by, l.patients, strict) {
		return false, nil
	}
	if l.restriction == nil {
		return true, nil
	}
	cls, err := s.restrictionClauses([]string{typ}, l.restriction)
	if err != nil {
		return false, err
	}
	for i := range cls {
		cl := &cls[i]
		ok, checked := onIndex(cl, id, idx)
		if !checked {
			if strict {
				return false, forbidden("restrict %s to %s, and %s cannot be checked on what is written (only token parameters such as category=system|code, references such as based-on=ServiceRequest/1 and _id can): writes are not allowed", typ, restrictionText(l.restriction), cl.Param)
			}
			return false, nil
		}
		if !ok {
			return false, nil
		}
	}
	return true, nil
}

// onIndex reports whether the version id, of index idx, matches cl, as
// the engine's search would; checked is false when cl cannot be checked
// on an index (a modifier, :missing, a chain, _has, a canonical or
// absolute URL, another kind of parameter).
func onIndex(cl *query.Clause, id string, idx *query.Index) (ok, checked bool) {
	if cl.Modifier != "" || cl.Missing != nil || cl.Chain != nil || cl.Has != nil {
		return false, false
	}
	switch {
	case cl.Param == "_id":
		return slices.ContainsFunc(cl.Values, func(v query.Value) bool { return cmp.Or(v.Code, v.Str) == id }), true
	case cl.Type == query.TypeToken:
		return tokenMatch(cl, idx.Tokens), true
	case cl.Type == query.TypeReference:
		return refMatch(cl, idx.Refs)
	}
	return false, false
}

// refMatch reports whether one of the reference entries matches one of
// the clause's values, Type/id or a bare id (of one of the clause's
// target types when it names them); checked is false when a value is a
// URL (absolute or canonical), which the index resolves in ways this
// check does not repeat.
func refMatch(cl *query.Clause, entries []query.RefEntry) (ok, checked bool) {
	for _, v := range cl.Values {
		if v.RefURL != "" || v.RefID == "" {
			return false, false
		}
	}
	for _, v := range cl.Values {
		for _, e := range entries {
			if e.Param != cl.Param || e.ID != v.RefID {
				continue
			}
			if v.RefType != "" && v.RefType != e.Type {
				continue
			}
			if v.RefType == "" && len(cl.TargetTypes) > 0 && !slices.Contains(cl.TargetTypes, e.Type) {
				continue
			}
			return true, true
		}
	}
	return false, true
}

// refersTo reports whether idx refers to one of patients (a sorted set)
// by param (a _compartment entry, or Task's and Device's patient
// parameter); with only, to no Patient outside them by it.
func refersTo(idx *query.Index, param string, patients []string, only bool) bool {
	in := false
	for _, r := range idx.Refs {
		if r.Param != param || r.Type != patientComp {
			continue
		}
		if _, ok := slices.BinarySearch(patients, r.ID); !ok {
			if only {
				return false
			}
			continue
		}
		in = true
	}
	return in
}

// tokenMatch reports whether one of the token entries matches one of the
// clause's values, as a token search does: system|code, |code (no
// system), system| (any code of it), code (any system).
func tokenMatch(cl *query.Clause, entries []query.TokenEntry) bool {
	for _, v := range cl.Values {
		for _, e := range entries {
			if e.Param != cl.Param {
				continue
			}
			if v.HasSystem && v.System != e.System {
				continue
			}
			if (v.Code == "" && v.HasSystem && v.System != "") || v.Code == e.Code {
				return true
			}
		}
	}
	return false
}

// fitsStored is fits for a stored version (nil when none).
func (s *Service) fitsStored(l *limit, r *store.Resource) (bool, error) {
	if r == nil || r.Deleted {
		return false, nil
	}
	idx, err := s.indexOf(r)
	if err != nil {
		return false, err
	}
	return s.fits(l, r.Type, r.ID, idx, false)
}

// indexOf is the search index of a stored version, computed again. The
// server's own parser first (twice the speed of encoding/json; the audit
// trail asks it on every read), the lenient one for versions stored
// before its checks.
func (s *Service) indexOf(r *store.Resource) (*query.Index, error) {
	tree, ferr := fhir.Decode(r.JSON)
	if ferr != nil {
		var err error
		if tree, err = fhir.DecodeStored(r.JSON); err != nil {
			return nil, err
		}
	}
	return search.ExtractLocal(s.Params, r.Type, tree, s.BaseURL)
}

// PatientsOf are the patients (Patient/ID) whose compartment a stored
// version is in, by its index's compartment entries: a Patient is its
// own, a deletion or a type outside the compartment is nobody's.
func (s *Service) PatientsOf(r *store.Resource) []string {
	if r.Type == "Patient" {
		return []string{"Patient/" + r.ID}
	}
	if r.Deleted || len(r.JSON) == 0 || !search.InCompartment("Patient", r.Type) {
		return nil
	}
	idx, err := s.indexOf(r)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range idx.Refs {
		if e.Param == search.CompartmentParam && e.Type == "Patient" && e.ID != "" {
			out = append(out, "Patient/"+e.ID)
		}
	}
	return out
}
