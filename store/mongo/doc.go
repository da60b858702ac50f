package mongo

import (
	"sort"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/dccfhir/dccfhir/fhir/search/query"
	"github.com/dccfhir/dccfhir/store"
)

// resDoc is a document of resources or history: one version with its index.
type resDoc struct {
	ID          string `bson:"_id"`
	Type        string `bson:"type"`
	RID         string `bson:"id"`
	Version     int64  `bson:"version"`
	LastUpdated int64  `bson:"lastUpdated"` // microseconds since the epoch
	Deleted     bool   `bson:"deleted"`
	Method      string `bson:"method,omitempty"`
	JSON        []byte `bson:"json,omitempty"`

	Params []string `bson:"params,omitempty"`
	Ix     ixArrays `bson:",inline"`
	Cmp    []cmpDoc `bson:"cmp,omitempty"`
	SA     bson.D   `bson:"sa,omitempty"`
	SD     bson.D   `bson:"sd,omitempty"`
}

// ixArrays are the value arrays of an index, one per kind (also the parts
// of a composite value).
type ixArrays struct {
	Tok []tokDoc `bson:"tok,omitempty"`
	Str []strDoc `bson:"str,omitempty"`
	Ref []refDoc `bson:"ref,omitempty"`
	Dt  []dtDoc  `bson:"dt,omitempty"`
	Num []numDoc `bson:"num,omitempty"`
	Qty []qtyDoc `bson:"qty,omitempty"`
	URI []uriDoc `bson:"uri,omitempty"`
}

// cmpDoc is one element's value of a composite parameter: Parts[i] holds
// the values of component i, so components match within one element.
type cmpDoc struct {
	P     string     `bson:"p"`
	Parts []ixArrays `bson:"parts"`
}

type tokDoc struct {
	P  string `bson:"p"`
	S  string `bson:"s"`
	C  string `bson:"c"`
	T  string `bson:"t,omitempty"`
	TS string `bson:"ts,omitempty"`
	TC string `bson:"tc,omitempty"`
}

type strDoc struct {
	P string `bson:"p"`
	N string `bson:"n"`
	E string `bson:"e"`
}

type refDoc struct {
	P   string `bson:"p"`
	T   string `bson:"t,omitempty"`
	I   string `bson:"i,omitempty"`
	U   string `bson:"u,omitempty"`
	V   string `bson:"v,omitempty"`
	IDF string `bson:"idf,omitempty"`
}

type dtDoc struct {
	P  string `bson:"p"`
	Lo int64  `bson:"lo"`
	Hi int64  `bson:"hi"`
}

type numDoc struct {
	P  string  `bson:"p"`
	V  float64 `bson:"v"`
	Lo float64 `bson:"lo"`
	Hi float64 `bson:"hi"`
}

type qtyDoc struct {
	P  string  `bson:"p"`
	S  string  `bson:"s"`
	C  string  `bson:"c"`
	U  string  `bson:"u,omitempty"`
	V  float64 `bson:"v"`
	Lo float64 `bson:"lo"`
	Hi float64 `bson:"hi"`
}

type uriDoc struct {
	P string `bson:"p"`
	V string `bson:"v"`
}

// dataProjection leaves the index out of what a read returns.
var dataProjection = bson.D{
	{Key: "params", Value: 0}, {Key: "tok", Value: 0}, {Key: "str", Value: 0}, {Key: "ref", Value: 0},
	{Key: "dt", Value: 0}, {Key: "num", Value: 0}, {Key: "qty", Value: 0}, {Key: "uri", Value: 0},
	{Key: "cmp", Value: 0}, {Key: "sa", Value: 0}, {Key: "sd", Value: 0},
}

func (d *resDoc) resource() *store.Resource {
	r := &store.Resource{
		Type:        d.Type,
		ID:          d.RID,
		Version:     d.Version,
		LastUpdated: time.UnixMicro(d.LastUpdated).UTC(),
		Deleted:     d.Deleted,
		Method:      d.Method,
	}
	if !d.Deleted {
		r.JSON = d.JSON
		if r.JSON == nil {
			r.JSON = []byte{}
		}
	}
	return r
}

// sortKey maps a parameter code to a field name under sa/sd.
func sortKey(p string) string { return strings.NewReplacer(".", "_", "$", "_").Replace(p) }

// newDoc builds the document of a write (without _id).
func newDoc(w *store.Write) *resDoc {
	d := &resDoc{
		Type:        w.Type,
		RID:         w.ID,
		Version:     w.Version,
		LastUpdated: w.LastUpdated.UnixMicro(),
		Deleted:     w.Deleted,
		Method:      w.Method,
	}
	if !w.Deleted {
		d.JSON = w.JSON
		if d.JSON == nil {
			d.JSON = []byte{}
		}
	}
	ix := w.Index
	if ix == nil || w.Deleted {
		return d
	}
	params := map[string]bool{}
	minv := map[string]any{}
	maxv := map[string]any{}
	note := func(p string, lo, hi any) {
		params[p] = true
		if cur, ok := minv[p]; !ok || less(lo, cur) {
			minv[p] = lo
		}
		if cur, ok := maxv[p]; !ok || less(cur, hi) {
			maxv[p] = hi
		}
	}
	d.Ix = arrays(ix, note)
	for _, e := range ix.Composites {
		c := cmpDoc{P: e.Param, Parts: make([]ixArrays, len(e.Parts))}
		for i := range e.Parts {
			c.Parts[i] = arrays(&e.Parts[i], nil)
		}
		d.Cmp = append(d.Cmp, c)
		params[e.Param] = true
	}
	for p := range params {
		d.Params = append(d.Params, p)
	}
	sort.Strings(d.Params)
	for _, p := range d.Params {
		d.SA = append(d.SA, bson.E{Key: sortKey(p), Value: reverseKey(minv[p])})
		d.SD = append(d.SD, bson.E{Key: sortKey(p), Value: maxv[p]})
	}
	return d
}

// arrays converts the values of ix, telling note (when set) each
// parameter's sort values.
func arrays(ix *query.Index, note func(p string, lo, hi any)) ixArrays {
	if note == nil {
		note = func(string, any, any) {}
	}
	var a ixArrays
	for _, e := range ix.Tokens {
		a.Tok = append(a.Tok, tokDoc{P: e.Param, S: e.System, C: e.Code, T: e.Text, TS: e.TypeSystem, TC: e.TypeCode})
		note(e.Param, e.Code, e.Code)
	}
	for _, e := range ix.Strings {
		a.Str = append(a.Str, strDoc{P: e.Param, N: e.Norm, E: e.Exact})
		note(e.Param, e.Norm, e.Norm)
	}
	for _, e := range ix.Refs {
		a.Ref = append(a.Ref, refDoc{P: e.Param, T: e.Type, I: e.ID, U: e.URL, V: e.Version, IDF: e.Identifier})
		k := e.URL
		if e.ID != "" {
			k = e.Type + "/" + e.ID
		}
		note(e.Param, k, k)
	}
	for _, e := range ix.Dates {
		a.Dt = append(a.Dt, dtDoc{P: e.Param, Lo: e.Low, Hi: e.High})
		note(e.Param, e.Low, e.High)
	}
	for _, e := range ix.Numbers {
		a.Num = append(a.Num, numDoc{P: e.Param, V: e.Value, Lo: e.Low, Hi: e.High})
		note(e.Param, e.Value, e.Value)
	}
	for _, e := range ix.Quantities {
		a.Qty = append(a.Qty, qtyDoc{P: e.Param, S: e.System, C: e.Code, U: e.Unit, V: e.Value, Lo: e.Low, Hi: e.High})
		note(e.Param, e.Value, e.Value)
	}
	for _, e := range ix.URIs {
		a.URI = append(a.URI, uriDoc{P: e.Param, V: e.Value})
		note(e.Param, e.Value, e.Value)
	}
	return a
}

// less orders two sort values of one parameter (same Go type in practice;
// numbers of different types compare numerically, else strings sort after
// numbers as in BSON).
func less(a, b any) bool {
	fa, aNum := toFloat(a)
	fb, bNum := toFloat(b)
	switch {
	case aNum && bNum:
		if ia, ok := a.(int64); ok {
			if ib, ok := b.(int64); ok {
				return ia < ib
			}
		}
		return fa < fb
	case aNum:
		return true
	case bNum:
		return false
	}
	sa, _ := a.(string)
	sb, _ := b.(string)
	return sa < sb
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case int32:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

// reverseKey maps a sort value to one whose BSON order is the reverse, so
// an ascending sort runs as a descending one on sa and resources without
// the parameter (null) come last, as they do descending on sd.
func reverseKey(v any) any {
	switch x := v.(type) {
	case int64:
		return -x
	case float64:
		return -x
	case string:
		return reverseString(x)
	}
	return v
}

// reverseString complements each code point (skipping the surrogate gap so
// the result stays valid UTF-8, whose byte order is code point order) and
// ends with a terminator above every complemented code point, so a prefix
// sorts after its extensions: a < b exactly when reverseString(a) >
// reverseString(b).
func reverseString(s string) string {
	const gapLo, gapLen = 0xD800, 0x800
	const n = 0x110000 - gapLen // code points without surrogates
	toDense := func(r rune) int32 {
		if r >= gapLo {
			return r - gapLen
		}
		return r
	}
	fromDense := func(d int32) rune {
		if d >= gapLo {
			return d + gapLen
		}
		return d
	}
	var b strings.Builder
	b.Grow(len(s) * 4)
	for _, r := range s {
		d := max(toDense(r), 1) // NUL sorts with U+0001; it never occurs in FHIR strings
		b.WriteRune(fromDense(n - 1 - d))
	}
	b.WriteRune(fromDense(n - 1))
	return b.String()
}
