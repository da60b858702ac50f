package mongo

import (
	"context"
	"math"
	"regexp"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/dccfhir/dccfhir/fhir/search/query"
	"github.com/dccfhir/dccfhir/store"
)

// notSupported is a search this engine cannot answer.
func notSupported(format string, args ...any) error {
	return store.Errorf(store.ErrUnsupported, format, args...)
}

// tooCostly is a search whose intermediate id set passes maxIDs.
func tooCostly(format string, args ...any) error {
	return store.Errorf(store.ErrTooCostly, format, args...)
}

// kindArray is the index array of a parameter type.
func kindArray(t query.ParamType) string {
	switch t {
	case query.TypeString:
		return "str"
	case query.TypeToken:
		return "tok"
	case query.TypeReference:
		return "ref"
	case query.TypeDate:
		return "dt"
	case query.TypeNumber:
		return "num"
	case query.TypeQuantity:
		return "qty"
	case query.TypeURI:
		return "uri"
	}
	return ""
}

// query is the filter on resources of a search: type, not deleted, clauses.
func (s *Store) query(ctx context.Context, types []string, where []query.Clause) (bson.D, error) {
	parts := []bson.D{{{Key: "deleted", Value: false}}}
	switch len(types) {
	case 0:
	case 1:
		parts = append(parts, bson.D{{Key: "type", Value: types[0]}})
	default:
		parts = append(parts, bson.D{{Key: "type", Value: bson.D{{Key: "$in", Value: strs(types)}}}})
	}
	for i := range where {
		f, err := s.clause(ctx, types, &where[i])
		if err != nil {
			return nil, err
		}
		parts = append(parts, f)
	}
	return and(parts...), nil
}

func strs(ss []string) bson.A {
	a := make(bson.A, len(ss))
	for i, s := range ss {
		a[i] = s
	}
	return a
}

// clause translates one clause (its values OR'ed).
func (s *Store) clause(ctx context.Context, types []string, c *query.Clause) (bson.D, error) {
	switch {
	case c.Has != nil:
		return s.has(ctx, types, c)
	case c.Chain != nil:
		return s.chain(ctx, types, c)
	case c.Type == query.TypeComposite && c.Missing == nil:
		return s.composite(ctx, types, c)
	}
	if c.Param == "_id" {
		return idClause(c), nil
	}
	if c.Param == "_lastUpdated" && c.Type == query.TypeDate {
		return lastUpdatedClause(c)
	}
	if c.Missing != nil {
		if *c.Missing {
			return bson.D{{Key: "params", Value: bson.D{{Key: "$ne", Value: c.Param}}}}, nil
		}
		return bson.D{{Key: "params", Value: c.Param}}, nil
	}
	arr := kindArray(c.Type)
	if arr == "" {
		return nil, notSupported("search parameter %s of type %s is not supported", c.Param, c.Type)
	}
	pred := &elemPred{arr: arr, param: c.Param}
	if ids, typ, ok := refList(c); ok {
		conj := []cond{{"i", "$in", newInSet(ids)}, eq("t", typ)}
		if len(c.TargetTypes) > 0 {
			conj = append(conj, cond{"t", "$in", strs(c.TargetTypes)})
		}
		pred.any = [][]cond{conj}
		return s.predFilter(ctx, types, pred, false)
	}
	negate := false
	for _, v := range c.Values {
		conjs, neg, err := valueConds(c, &v)
		if err != nil {
			return nil, err
		}
		negate = negate || neg
		pred.any = append(pred.any, conjs...)
	}
	if len(pred.any) == 0 {
		return matchNothing(), nil
	}
	return s.predFilter(ctx, types, pred, negate)
}

// refList is the ids and their one type when every value of c, a
// reference clause without modifier, is a plain Type/id of one type (the
// confinement of a care circle: thousands of Patient/<id>): one $in on
// the element's id rather than an $or of one $elemMatch per value, and,
// on a server evaluating the clause in Go (FerretDB), one set lookup per
// element rather than a scan of the values. 40,000 ids are about 600 kB
// of filter, within MongoDB's 16 MB; on FerretDB the bound is the Go
// evaluation's: every resource of the types having the parameter is
// read, and more than maxIDs matches is a too-costly error.
func refList(c *query.Clause) ([]string, string, bool) {
	if c.Type != query.TypeReference || c.Modifier != "" || len(c.Values) < 2 {
		return nil, "", false
	}
	typ := c.Values[0].RefType
	ids := make([]string, 0, len(c.Values))
	for i := range c.Values {
		v := &c.Values[i]
		if v.RefURL != "" || v.RefType == "" || v.RefType != typ || v.RefID == "" {
			return nil, "", false
		}
		ids = append(ids, v.RefID)
	}
	return ids, typ, true
}

// composite matches composite values whose components all match within
// one element (each Components entry is one OR'ed value).
func (s *Store) composite(ctx context.Context, types []string, c *query.Clause) (bson.D, error) {
	pred := &elemPred{arr: "cmp", param: c.Param}
	for _, comps := range c.Components {
		var alt []compPred
		for i := range comps {
			cc := &comps[i]
			arr := kindArray(cc.Type)
			if arr == "" || cc.Chain != nil || cc.Has != nil {
				return nil, notSupported("composite %s: component %s of type %s is not supported", c.Param, cc.Param, cc.Type)
			}
			sub := &elemPred{arr: arr, param: cc.Param}
			for _, v := range cc.Values {
				conjs, neg, err := valueConds(cc, &v)
				if err != nil {
					return nil, err
				}
				if neg {
					return nil, notSupported("composite %s: :not in a component is not supported", c.Param)
				}
				sub.any = append(sub.any, conjs...)
			}
			if len(sub.any) == 0 {
				return matchNothing(), nil
			}
			alt = append(alt, compPred{part: i, pred: sub})
		}
		pred.alts = append(pred.alts, alt)
	}
	if len(pred.alts) == 0 {
		return matchNothing(), nil
	}
	return s.predFilter(ctx, types, pred, false)
}

func idClause(c *query.Clause) bson.D {
	if c.Missing != nil {
		if *c.Missing {
			return matchNothing()
		}
		return bson.D{}
	}
	ids := bson.A{}
	for _, v := range c.Values {
		id := v.Code
		if id == "" {
			id = v.Str
		}
		ids = append(ids, id)
	}
	op := "$in"
	if c.Modifier == "not" {
		op = "$nin"
	}
	return bson.D{{Key: "id", Value: bson.D{{Key: op, Value: ids}}}}
}

func lastUpdatedClause(c *query.Clause) (bson.D, error) {
	if c.Missing != nil {
		if *c.Missing {
			return matchNothing(), nil
		}
		return bson.D{}, nil
	}
	var ors bson.A
	for _, v := range c.Values {
		conjs, err := dateConds(&v, "lastUpdated", "lastUpdated")
		if err != nil {
			return nil, err
		}
		for _, conj := range conjs {
			d := bson.D{}
			for _, k := range conj {
				d = append(d, bson.E{Key: k.f, Value: bson.D{{Key: k.op, Value: k.v}}})
			}
			ors = append(ors, and(splitD(d)...))
		}
	}
	if len(ors) == 0 {
		return matchNothing(), nil
	}
	return bson.D{{Key: "$or", Value: ors}}, nil
}

func splitD(d bson.D) []bson.D {
	out := make([]bson.D, len(d))
	for i, e := range d {
		out[i] = bson.D{e}
	}
	return out
}

// valueConds is one value as a disjunction of conjunctions on an element;
// neg reports a :not (the clause then matches resources with no such element).
func valueConds(c *query.Clause, v *query.Value) (conjs [][]cond, neg bool, err error) {
	unsupported := func() ([][]cond, bool, error) {
		return nil, false, notSupported("search parameter %s: modifier :%s is not supported for %s", c.Param, c.Modifier, c.Type)
	}
	quote := regexp.QuoteMeta
	switch c.Type {
	case query.TypeToken:
		switch c.Modifier {
		case "", "not":
			var conj []cond
			switch {
			case v.HasSystem && v.Code == "":
				conj = []cond{eq("s", v.System)}
			case v.HasSystem:
				conj = []cond{eq("c", v.Code), eq("s", v.System)}
			default:
				conj = []cond{eq("c", v.Code)}
			}
			return [][]cond{conj}, c.Modifier == "not", nil
		case "text":
			t := v.Str
			if t == "" {
				t = v.Code
			}
			return [][]cond{{{"t", "$regex", `(^|[^\p{L}\p{N}])` + quote(strings.ToLower(t))}}}, false, nil
		case "of-type":
			// type-system|type-code|value: the parser gives System, Code
			// (the identifier type) and Str (the value).
			return [][]cond{{eq("tc", v.Code), eq("ts", v.System), eq("c", v.Str)}}, false, nil
		}
		return unsupported()
	case query.TypeString:
		switch c.Modifier {
		case "":
			return [][]cond{{{"n", "$regex", "^" + quote(v.Str)}}}, false, nil
		case "exact":
			return [][]cond{{eq("e", v.Str)}}, false, nil
		case "contains", "text":
			return [][]cond{{{"n", "$regex", quote(v.Str)}}}, false, nil
		}
		return unsupported()
	case query.TypeReference:
		var conj []cond
		switch c.Modifier {
		case "identifier":
			if v.HasSystem {
				conj = []cond{eq("idf", v.System+"|"+v.Code)}
			} else {
				conj = []cond{{"idf", "$regex", `\|` + quote(v.Code) + "$"}}
			}
			return [][]cond{conj}, false, nil
		case "below":
			return [][]cond{{{"u", "$regex", "^" + quote(v.RefURL)}}}, false, nil
		case "above":
			return [][]cond{{{"u", "$in", prefixes(v.RefURL)}}}, false, nil
		case "", "not", "type":
		default:
			if !isTypeName(c.Modifier) {
				return unsupported()
			}
		}
		switch {
		case v.RefURL != "":
			u, ver, _ := strings.Cut(v.RefURL, "|")
			if v.RefVersion != "" {
				ver = v.RefVersion
			}
			conj = []cond{eq("u", u)}
			if ver != "" {
				conj = append(conj, eq("v", ver))
			}
		case v.RefType != "":
			conj = []cond{eq("i", v.RefID), eq("t", v.RefType)}
		default:
			conj = []cond{eq("i", v.RefID)}
		}
		if len(c.TargetTypes) > 0 && v.RefURL == "" {
			conj = append(conj, cond{"t", "$in", strs(c.TargetTypes)})
		}
		return [][]cond{conj}, c.Modifier == "not", nil
	case query.TypeURI:
		switch c.Modifier {
		case "":
			return [][]cond{{eq("v", v.Str)}}, false, nil
		case "below":
			return [][]cond{{{"v", "$regex", "^" + quote(v.Str)}}}, false, nil
		case "above":
			return [][]cond{{{"v", "$in", prefixes(v.Str)}}}, false, nil
		}
		return unsupported()
	case query.TypeDate:
		if c.Modifier != "" {
			return unsupported()
		}
		conjs, err := dateConds(v, "lo", "hi")
		return conjs, false, err
	case query.TypeNumber, query.TypeQuantity:
		if c.Modifier != "" {
			return unsupported()
		}
		conjs, err := numConds(v)
		if err != nil {
			return nil, false, err
		}
		if c.Type == query.TypeQuantity {
			var unit []cond
			if v.HasSystem && v.System != "" {
				unit = append(unit, eq("s", v.System))
			}
			for i := range conjs {
				conjs[i] = append(conjs[i], unit...)
			}
			if v.Unit != "" {
				var out [][]cond
				for _, cj := range conjs {
					out = append(out, append(append([]cond{}, cj...), eq("c", v.Unit)), append(append([]cond{}, cj...), eq("u", v.Unit)))
				}
				conjs = out
			}
		}
		return conjs, false, nil
	}
	return unsupported()
}

func isTypeName(s string) bool { return s != "" && s[0] >= 'A' && s[0] <= 'Z' }

// prefixes are the URIs s is below: s and each of its prefixes ending
// before a '/', for :above.
func prefixes(s string) bson.A {
	out := bson.A{s}
	for i := len(s) - 1; i > 0; i-- {
		if s[i] == '/' && s[i-1] != '/' && s[i-1] != ':' && s[i+1] != '/' {
			out = append(out, s[:i])
		}
	}
	return out
}

// dateConds applies the R4 prefix semantics between the target range
// [lo, hi] and the value range [DateLow, DateHigh] (both inclusive).
func dateConds(v *query.Value, lo, hi string) ([][]cond, error) {
	vlo, vhi := v.DateLow, v.DateHigh
	switch v.Prefix {
	case "", query.EQ:
		return [][]cond{{{lo, "$gte", vlo}, {hi, "$lte", vhi}}}, nil
	case query.NE:
		return [][]cond{{{lo, "$lt", vlo}}, {{hi, "$gt", vhi}}}, nil
	case query.GT:
		return [][]cond{{{hi, "$gt", vhi}}}, nil
	case query.LT:
		return [][]cond{{{lo, "$lt", vlo}}}, nil
	case query.GE:
		return [][]cond{{{hi, "$gt", vhi}}, {{lo, "$gte", vlo}, {hi, "$lte", vhi}}}, nil
	case query.LE:
		return [][]cond{{{lo, "$lt", vlo}}, {{lo, "$gte", vlo}, {hi, "$lte", vhi}}}, nil
	case query.SA:
		return [][]cond{{{lo, "$gt", vhi}}}, nil
	case query.EB:
		return [][]cond{{{hi, "$lt", vlo}}}, nil
	case query.AP:
		al, ah := query.ApproxDateRange(vlo, vhi, time.Now().UnixMicro())
		return [][]cond{{{lo, "$lte", ah}, {hi, "$gte", al}}}, nil
	}
	return nil, notSupported("unknown prefix %q", v.Prefix)
}

// numConds compares the target value with the search value (eq: within the
// range the value's precision implies).
func numConds(v *query.Value) ([][]cond, error) {
	lo, hi := v.NumLow, v.NumHigh
	if lo == 0 && hi == 0 {
		lo, hi = v.Num, v.Num
	}
	switch v.Prefix {
	case "", query.EQ:
		return [][]cond{{{"v", "$gte", lo}, {"v", "$lte", hi}}}, nil
	case query.NE:
		return [][]cond{{{"v", "$lt", lo}}, {{"v", "$gt", hi}}}, nil
	case query.GT, query.SA:
		return [][]cond{{{"v", "$gt", v.Num}}}, nil
	case query.LT, query.EB:
		return [][]cond{{{"v", "$lt", v.Num}}}, nil
	case query.GE:
		return [][]cond{{{"v", "$gte", v.Num}}}, nil
	case query.LE:
		return [][]cond{{{"v", "$lte", v.Num}}}, nil
	case query.AP:
		d := math.Abs(v.Num) * 0.1
		return [][]cond{{{"v", "$gte", v.Num - d}, {"v", "$lte", v.Num + d}}}, nil
	}
	return nil, notSupported("unknown prefix %q", v.Prefix)
}
