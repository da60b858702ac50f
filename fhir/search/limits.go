package search

import (
	"net/url"
	"strings"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/fhir/search/query"
)

// Limits of one search request (and of the criteria of a conditional
// create, update, delete or patch, which go through the same parser).
// Parser.Parse refuses a request over any of them with a 400
// OperationOutcome whose diagnostics name the limit and its value and whose
// expression names the parameter, before either storage engine sees it, so
// both engines only ever get queries they can answer.
//
// Each is far above what real clients send (a clinician's screen ORs a
// hundred codes, chains two or three links deep, includes a few reference
// types) and low enough that a request at every limit at once is still a
// 200 on both engines. What they keep us under: SQLite refuses a statement
// whose expression tree is deeper than 1,000 levels (measured: an OR'ed
// value costs two levels, and one more for every chain or _has hop above
// it; an AND'ed parameter one) or that binds more than 32,766 variables (a
// value binds up to ten, a chain hop one per resource type it can reach, up
// to 146); MongoDB sorts on at most 32 keys. handlers/limits_test.go checks
// every limit, at and just over it, and all of them reached at once, on
// both engines; docs/search.md lists them.
const (
	// MaxQueryBytes bounds the names and values of all parameters together,
	// decoded, both as sent and as the server reads them back (the self
	// link): 64 KiB, eight times what most proxies let through in a URL;
	// longer searches are mistakes or attacks, and POST _search gets no
	// more room than GET. The one-value parameters (_count, _total,
	// _summary, _format, _pretty: the last occurrence wins) and the
	// server-made _page cursor are not counted.
	MaxQueryBytes = 64 << 10
	// MaxValueBytes bounds one value (one item of a comma-separated list,
	// its escapes removed): no code, identifier, name or canonical URL is
	// 4 KiB long.
	MaxValueBytes = 4 << 10
	// MaxParams bounds the search parameters of a request (a repeated one
	// counted as often as it appears): each is one more AND'ed condition
	// for the engine. The result parameters (_count, _sort, _include,
	// _elements...) are not counted: they have limits of their own.
	MaxParams = 100
	// MaxValuesPerParam bounds the comma-separated values (an OR list) of
	// one parameter occurrence; for SQLite, 200 values are 400 of its 1,000
	// levels of expression depth.
	MaxValuesPerParam = 200
	// MaxChainedValues is MaxValuesPerParam for a parameter with a chain or
	// _has: under four hops a value costs SQLite six levels, and 140 values
	// is where it gives up.
	MaxChainedValues = 100
	// MaxValues bounds the values of all parameters together, which bounds
	// the variables one SQL statement binds (at most ten per value).
	MaxValues = 1000
	// MaxChainDepth bounds the reference hops in one parameter: the links
	// of a chain (subject.organization.name is two) plus the _has levels.
	MaxChainDepth = 4
	// MaxChains bounds the parameters of a request that chain or use _has:
	// each hop is a join (SQLite) or an intermediate id set (MongoDB), and
	// may bind a variable for every resource type it can reach.
	MaxChains = 10
	// MaxIncludes bounds the _include and _revinclude directives together:
	// each costs a query per page and per :iterate round.
	MaxIncludes = 20
	// MaxSortKeys bounds the distinct _sort keys: each is a correlated
	// lookup per matching resource.
	MaxSortKeys = 8
	// MaxElements bounds the distinct _elements names (no resource type
	// has more than about 60 top-level elements).
	MaxElements = 100
)

// tooCostly is the 400 for a request over a count limit.
func tooCostly(param, format string, args ...any) *fhir.Error {
	return searchErr("too-costly", param, format, args)
}

// tooLong is the 400 for a request over a size limit.
func tooLong(param, format string, args ...any) *fhir.Error {
	return searchErr("too-long", param, format, args)
}

// oneValue are the parameters of which only the last occurrence counts:
// neither limit counts them (they cost nothing, and the canonical form adds
// _count to every search).
var oneValue = map[string]bool{"_count": true, "_total": true, "_summary": true, "_format": true, "_pretty": true, pageParam: true}

// resultParams shape the result rather than add a condition: MaxParams
// does not count them.
var resultParams = map[string]bool{"_sort": true, "_include": true, "_revinclude": true, "_elements": true, "_type": true}

// checkSize enforces MaxQueryBytes and MaxParams on the request as a whole,
// before any parsing (as understood says the search is the server's
// reading of it): the error names the parameter taking the most room or
// repeated most often.
func checkSize(params url.Values, understood bool) error {
	total, pairs := 0, 0
	big, bigBytes, many, manyPairs := "", -1, "", -1
	for k, vs := range params {
		if oneValue[k] {
			continue
		}
		n := 0
		for _, v := range vs {
			n += len(k) + 1 + len(v)
		}
		total += n
		if n > bigBytes || n == bigBytes && k < big {
			big, bigBytes = k, n
		}
		if name, _, _ := strings.Cut(k, ":"); resultParams[name] {
			continue
		}
		pairs += len(vs)
		if len(vs) > manyPairs || len(vs) == manyPairs && k < many {
			many, manyPairs = k, len(vs)
		}
	}
	if total > MaxQueryBytes {
		what := "the search is"
		if understood {
			what = "the search as the server reads it (its self link) is"
		}
		return tooLong(big, "%s %d bytes long (%s alone takes %d), more than the limit of %d bytes (MaxQueryBytes)", what, total, big, bigBytes, MaxQueryBytes)
	}
	if pairs > MaxParams {
		return tooCostly(many, "the search has %d parameters (%s appears %d times), more than the limit of %d (MaxParams)", pairs, many, manyPairs, MaxParams)
	}
	return nil
}

// budget counts what a request uses of the limits spread over several
// parameters as the parser goes.
type budget struct {
	values, chains, includes int
}

// checkCanonical enforces MaxQueryBytes on the canonical form of q, which
// can be longer than what was sent (a chain spells out its types, a bare
// reference id gets its type): so an accepted search's self and next links
// are accepted too.
func checkCanonical(q *query.Query, typ string) error {
	vals, err := url.ParseQuery(q.Encode(typ))
	if err != nil {
		return fhir.Errorf(500, "exception", "", "search: the canonical form of a query does not parse: %v", err)
	}
	return checkSize(vals, true)
}

// checkValue checks one escaped value of key against MaxValueBytes,
// measured without its escapes (what the canonical form keeps).
func checkValue(key, v string) error {
	if len(v) <= MaxValueBytes {
		return nil
	}
	if n := len(unescape(v)); n > MaxValueBytes {
		return tooLong(key, "a value is %d bytes long, more than the limit of %d bytes (MaxValueBytes)", n, MaxValueBytes)
	}
	return nil
}

// ValueBound is the bound on the OR'ed values of one parameter and the
// limit's name: MaxChainedValues for a chained or _has parameter, else
// MaxValuesPerParam. The service holds value-set expansions to it too.
func ValueBound(chained bool) (max int, name string) {
	if chained {
		return MaxChainedValues, "MaxChainedValues"
	}
	return MaxValuesPerParam, "MaxValuesPerParam"
}

// addValues accounts for the n values of one occurrence of key, a chained
// or _has parameter when chained.
func (b *budget) addValues(key string, n int, chained bool) error {
	if n > MaxValuesPerParam {
		return tooCostly(key, "%d comma-separated values, more than the limit of %d values per parameter (MaxValuesPerParam)", n, MaxValuesPerParam)
	}
	if max, name := ValueBound(chained); n > max {
		return tooCostly(key, "%d comma-separated values, more than the limit of %d values per chained or _has parameter (%s)", n, max, name)
	}
	b.values += n
	if b.values > MaxValues {
		return tooCostly(key, "the search has more than %d values in all (MaxValues)", MaxValues)
	}
	return nil
}

func (b *budget) addChain(key string) error {
	if b.chains++; b.chains > MaxChains {
		return tooCostly(key, "more than %d chained or _has parameters in one search (MaxChains)", MaxChains)
	}
	return nil
}

func (b *budget) addInclude(key string) error {
	if b.includes++; b.includes > MaxIncludes {
		return tooCostly(key, "more than %d _include and _revinclude directives in one search (MaxIncludes)", MaxIncludes)
	}
	return nil
}

func chainTooDeep(key string) error {
	return tooCostly(key, "more than %d chained or _has links in one parameter (MaxChainDepth)", MaxChainDepth)
}

// pageParam is the server-made page cursor, not counted against the limits.
const pageParam = "_page"
