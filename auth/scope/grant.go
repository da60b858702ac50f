package scope

import (
	"net/url"
	"slices"
	"strings"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/service"
)

// access is the service.Access of a granted set, compiled once per token:
// Grant runs on every interaction (and on every entry of a Bundle), so
// its common path — an unrestricted scope allows it — is a scan of a
// short slice that allocates nothing.
type access struct {
	patient  string
	patients []string // {patient}, the set a patient/ grant is confined to
	scopes   []granted
}

// granted is one resource scope ready to be asked.
type granted struct {
	typ         string // a resource type or "*"
	letters     uint8  // letterBit of each letter
	confined    bool   // a patient/ scope
	restriction url.Values
	name        string // as written, for the messages
}

func letterBit(l byte) uint8 {
	if i := strings.IndexByte(allLetters, l); i >= 0 {
		return 1 << i
	}
	return 0
}

// tier ranks how wide a scope is, 0 the widest: unconfined (user/,
// system/) before confined (patient/), then unrestricted before
// search-restricted.
func (g *granted) tier() int {
	t := 0
	if g.confined {
		t = 2
	}
	if g.restriction != nil {
		t++
	}
	return t
}

// Grant implements service.Access: the widest of the scopes allowing
// letter on typ ("*": a search of every type, which only a wildcard scope
// allows). patient/ scopes allow nothing without a launch patient. Several
// restricted scopes of the widest kind are merged when each restricts the
// same single parameter with a single value (their values OR'ed:
// category=a,b); otherwise Grant refuses, since one search cannot express
// their union.
func (a *access) Grant(letter byte, typ string) (service.Grant, error) {
	bit := letterBit(letter)
	best, first, n := 4, -1, 0
	noPatient := false
	for i := range a.scopes {
		g := &a.scopes[i]
		if g.letters&bit == 0 || (g.typ != "*" && g.typ != typ) {
			continue
		}
		if g.confined && a.patient == "" {
			noPatient = true
			continue
		}
		switch t := g.tier(); {
		case t == 0:
			return service.Grant{}, nil
		case t < best:
			best, first, n = t, i, 1
		case t == best:
			n++
		}
	}
	if first < 0 || bit == 0 {
		return service.Grant{}, refusal(letter, typ, noPatient)
	}
	g := &a.scopes[first]
	out := service.Grant{Restriction: g.restriction}
	if g.confined {
		out.Confined, out.Patients = true, a.patients
	}
	if n == 1 || g.restriction == nil {
		return out, nil
	}
	var same []*granted
	for i := range a.scopes {
		o := &a.scopes[i]
		if o.letters&bit != 0 && (o.typ == "*" || o.typ == typ) && o.tier() == best && (!o.confined || a.patient != "") {
			same = append(same, o)
		}
	}
	r, err := merge(same, letter, typ)
	out.Restriction = r
	return out, err
}

// merge ORs the restrictions of scopes of one kind: equal ones are one;
// otherwise each must be a single parameter=value, the same parameter.
func merge(gs []*granted, letter byte, typ string) (url.Values, error) {
	var distinct []url.Values
	for _, g := range gs {
		if !slices.ContainsFunc(distinct, func(d url.Values) bool { return sameQuery(d, g.restriction) }) {
			distinct = append(distinct, g.restriction)
		}
	}
	if len(distinct) == 1 {
		return distinct[0], nil
	}
	var key string
	var vals []string
	for _, d := range distinct {
		if len(d) != 1 {
			return nil, uncombinable(gs, letter, typ)
		}
		for k, vs := range d {
			if len(vs) != 1 || (key != "" && k != key) {
				return nil, uncombinable(gs, letter, typ)
			}
			key = k
			vals = append(vals, vs[0])
		}
	}
	return url.Values{key: {strings.Join(vals, ",")}}, nil
}

// verbs name the letters in messages.
var verbs = map[byte]string{'c': "create", 'r': "read", 'u': "update", 'd': "delete", 's': "search"}

func verb(letter byte) string {
	if v, ok := verbs[letter]; ok {
		return v
	}
	return "interaction " + string(letter)
}

func typeName(typ string) string {
	if typ == "*" {
		return "every resource type"
	}
	return typ
}

// refusal is the 403 naming the scope that would allow letter on typ.
func refusal(letter byte, typ string, noPatient bool) error {
	need := typ + "." + string(letter)
	if noPatient {
		return fhir.Errorf(403, "forbidden", "", "the token's scopes do not allow %s of %s: its patient/ scope needs a patient in the launch context (launch/patient or an EHR launch), and the token has none; or it needs user/%s or system/%s",
			verb(letter), typeName(typ), need, need)
	}
	return fhir.Errorf(403, "forbidden", "", "the token's scopes do not allow %s of %s: it needs patient/%s (or user/, system/)", verb(letter), typeName(typ), need)
}

func uncombinable(gs []*granted, letter byte, typ string) error {
	names := make([]string, len(gs))
	for i, g := range gs {
		names[i] = g.name
	}
	return fhir.Errorf(403, "forbidden", "", "the token's scopes do not allow %s of %s as one search: its scopes %s restrict it in ways that cannot be combined (only restrictions on one same parameter can); ask for a token with one of them",
		verb(letter), typeName(typ), strings.Join(names, ", "))
}
