// Package query holds FHIR search as the storage engines see it: the index
// values extracted from a resource on every write (Index), the parsed, typed
// form of a search request (Query, Clause, Value) and the value ranges and
// comparisons both engines share (DateRange, Match...). It imports nothing
// of ours, so the engines depend on these types and not on the front end
// (package search: URL parsing, the parameter registry, FHIRPath extraction).
package query

// ParamType is a SearchParameter.type.
type ParamType uint8

// The R4 search parameter types.
const (
	TypeUnknown ParamType = iota
	TypeString
	TypeToken
	TypeReference
	TypeDate
	TypeNumber
	TypeQuantity
	TypeURI
	TypeComposite
	TypeSpecial
)

var typeNames = [...]string{"", "string", "token", "reference", "date", "number", "quantity", "uri", "composite", "special"}

// String returns the SearchParameter.type code ("token"), "" for TypeUnknown.
func (t ParamType) String() string { return typeNames[t] }

// ParseParamType maps a SearchParameter.type code to a ParamType.
func ParseParamType(s string) ParamType {
	for i, n := range typeNames {
		if n == s && i > 0 {
			return ParamType(i)
		}
	}
	return TypeUnknown
}

// Index is every search value of one resource version, grouped by value
// kind so each engine can keep one table (or one sub-document array) per kind.
// Param is always the search parameter code (e.g. "identifier").
type Index struct {
	Strings    []StringEntry
	Tokens     []TokenEntry
	Refs       []RefEntry
	Dates      []DateEntry
	Numbers    []NumberEntry
	Quantities []QuantityEntry
	URIs       []URIEntry
	// Composites holds composite parameter values (e.g. Observation
	// code-value-quantity): one entry per element the composite expression
	// selects, so components are matched against values of the same element.
	Composites []CompositeEntry
}

// Empty reports whether idx holds no value at all.
func (idx *Index) Empty() bool {
	return len(idx.Strings)+len(idx.Tokens)+len(idx.Refs)+len(idx.Dates)+len(idx.Numbers)+len(idx.Quantities)+len(idx.URIs)+len(idx.Composites) == 0
}

// CompositeEntry is one element's value of a composite parameter. Parts[i]
// holds the values of component i (entries carry the component's code as
// Param, e.g. "code" and "value-quantity"); a composite search value
// matches when each of its component clauses (Clause.Components) matches
// the corresponding part.
type CompositeEntry struct {
	Param string
	Parts []Index
}

// StringEntry is a string value. Norm is lower-cased with accents removed
// (what default and :contains searches compare); Exact is the value as written.
type StringEntry struct {
	Param string
	Norm  string
	Exact string
}

// TokenEntry is a coded value (Coding, Identifier, code, boolean, ContactPoint...).
// Text is the normalised display/text for :text. TypeSystem/TypeCode carry
// Identifier.type for :of-type.
type TokenEntry struct {
	Param      string
	System     string
	Code       string
	Text       string
	TypeSystem string
	TypeCode   string
}

// RefEntry is a reference value. A relative or resolvable reference sets
// Type and ID; an absolute URL or canonical sets URL (and Version for
// canonical|version). Identifier carries Reference.identifier for :identifier
// as "system|value".
type RefEntry struct {
	Param      string
	Type       string
	ID         string
	URL        string
	Version    string
	Identifier string
}

// DateEntry is the range a date, instant, Period or Timing covers, in
// microseconds since the Unix epoch (UTC), inclusive on both ends.
type DateEntry struct {
	Param string
	Low   int64
	High  int64
}

// NumberEntry is a number with the range its precision implies.
type NumberEntry struct {
	Param string
	Value float64
	Low   float64
	High  float64
}

// QuantityEntry is a Quantity (or Money, Range bound, Duration...) value.
type QuantityEntry struct {
	Param  string
	System string
	Code   string
	Unit   string
	Value  float64
	Low    float64
	High   float64
}

// URIEntry is a uri/url/canonical value as written.
type URIEntry struct {
	Param string
	Value string
}

// Prefix is a comparator of date, number and quantity searches.
type Prefix string

// The R4 search prefixes.
const (
	EQ Prefix = "eq"
	NE Prefix = "ne"
	GT Prefix = "gt"
	LT Prefix = "lt"
	GE Prefix = "ge"
	LE Prefix = "le"
	SA Prefix = "sa"
	EB Prefix = "eb"
	AP Prefix = "ap"
)

// Query is a parsed search: resources of Types (one for a type search,
// several or none — meaning all — for a system search) matching every
// clause of Where.
type Query struct {
	Types []string
	Where []Clause
	Sort  []SortKey
	// Count is the page size; 0 asks for no resources (e.g. _summary=count).
	Count int
	// Page is an engine's opaque cursor from a previous SearchResult.
	Page string
	// Total asks for SearchResult.Total to be computed.
	Total bool
	// Include and RevInclude list the _include / _revinclude directives.
	Include    []Include
	RevInclude []Include
	// Summary is the _summary mode ("true", "text", "data", "count",
	// "false"), "" when absent; shaping the result is the service's job.
	Summary string
	// Elements lists the _elements names, nil when absent.
	Elements []string
}

// Clause is one search parameter occurrence: a resource matches when it
// matches any of Values (OR). Repeating a parameter gives several clauses (AND).
type Clause struct {
	Param    string
	Type     ParamType
	Modifier string // "", "exact", "contains", "text", "not", "of-type", "identifier", "below", "above", "in", "not-in"
	// Missing is set for :missing=true|false; Values is then empty.
	Missing *bool
	// TargetTypes restricts a reference parameter (":Patient" modifier or chain type).
	TargetTypes []string
	// Chain, on a reference parameter, matches resources whose reference
	// points at a resource (of TargetTypes) matching Chain.
	Chain *Clause
	// Has is a reverse chain: _has:Type:refParam:clause.
	Has    *Has
	Values []Value
	// Components are the per-component clauses of one composite value; set
	// for TypeComposite, one entry per OR'ed value.
	Components [][]Clause
}

// Has is _has:Type:RefParam:<Where>: resources referenced (through RefParam)
// by some resource of Type that matches Where.
type Has struct {
	Type     string
	RefParam string
	Where    Clause
}

// Value is one OR'ed value of a clause, already parsed for its type.
type Value struct {
	// Prefix is set (EQ when none was written) for date, number and quantity.
	Prefix Prefix
	// Raw is the value as written, unescaped and without prefix (for a
	// quantity, the number only); the canonical query string uses it.
	Raw string
	// Str is the string value (normalised for TypeString unless :exact) or uri.
	Str string
	// Token: System is meaningful when HasSystem ("system|code" or "|code");
	// Code is empty for "system|".
	System    string
	HasSystem bool
	Code      string
	// Reference: Type/ID for relative, URL for absolute or canonical
	// (RefVersion from "url|version"). A bare id leaves RefType empty unless
	// the parameter or a :[Type] modifier allows a single type.
	RefType, RefID, RefURL, RefVersion string
	// Date: the range the given precision implies, microseconds since epoch.
	DateLow, DateHigh int64
	// Number / Quantity: the value and the range its precision implies.
	Num, NumLow, NumHigh float64
	Unit                 string // quantity unit code or unit
	// For token :of-type, System|Code is the identifier type and Str the
	// identifier value; for :text, Str is the normalised text; for :in and
	// :not-in, Str is the ValueSet URL; for reference :identifier,
	// System/HasSystem/Code are the identifier's system and value.
}

// SortKey is one _sort key.
type SortKey struct {
	Param string
	Type  ParamType
	Desc  bool
}

// Include is one _include/_revinclude directive: Type:Param[:TargetType].
// Param "*" means every reference parameter.
type Include struct {
	Type       string
	Param      string
	TargetType string
	Iterate    bool
}
