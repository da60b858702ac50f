package generate

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // Europe/Paris on machines without a zoneinfo database: output must not depend on the host
	"unicode"
)

// Canonical URLs and identifier systems used across the generated data.
const (
	canonical     = "https://dcc.example.fr/fhir"
	sdBase        = canonical + "/StructureDefinition/"
	csBase        = canonical + "/CodeSystem/"
	sidBase       = canonical + "/sid/"
	sysFINESS     = "https://finess.esante.gouv.fr"
	sysRPPS       = "https://rpps.esante.gouv.fr"
	sysIDNPS      = "urn:oid:1.2.250.1.71.4.2.1"
	sysINSTest    = "urn:oid:1.2.250.1.213.1.4.10"
	sysV20203FR   = "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203"
	sysICD10      = "http://hl7.org/fhir/sid/icd-10"
	sysICDO3      = "http://terminology.hl7.org/CodeSystem/icd-o-3"
	sysSNOMED     = "http://snomed.info/sct"
	sysLOINC      = "http://loinc.org"
	sysUCUM       = "http://unitsofmeasure.org"
	extEmailType  = "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-contact-point-email-type"
	sysMessagerie = "https://mos.esante.gouv.fr/NOS/TRE_R256-TypeMessagerie/FHIR/TRE-R256-TypeMessagerie"
	sidRole       = sidBase + "practitioner-role"
	sidSession    = sidBase + "rcp-session"
	sidForm       = sidBase + "rcp-form"
	sidResource   = sidBase + "resource"
)

// paris is the zone every timestamp is written in, as a French record would.
var paris = func() *time.Location {
	l, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		panic(err) // cannot happen: time/tzdata is embedded
	}
	return l
}()

// The period the dataset covers: diagnoses over two years, the record seen
// as of asOf (circuit steps later than that have not happened yet).
var (
	periodStart = time.Date(2023, 1, 1, 0, 0, 0, 0, paris)
	periodDays  = 731
	asOf        = time.Date(2025, 3, 1, 0, 0, 0, 0, paris)
)

const (
	dateFmt = "2006-01-02"
	dtFmt   = "2006-01-02T15:04:05-07:00"
)

// Resource is one generated resource.
type Resource struct {
	Type string
	ID   string // deterministic UUID; the fullUrl in Bundles, the id in NDJSON
	// Cond is the conditional-create query that finds it again
	// ("identifier=system|value"), so re-importing never duplicates it.
	Cond string
	Body O // starts with resourceType; no id
}

// ref returns a reference to r; shared resources are referenced by their
// identifier (conditional reference) when written as Bundles.
func (r *Resource) ref(shared bool, display string) Ref {
	x := Ref{Type: r.Type, ID: r.ID, Display: display}
	if shared {
		x.Cond = r.Cond
	}
	return x
}

// JSON renders the resource; withID adds the id and writes references as
// Type/id (NDJSON), otherwise references use urn:uuid: and conditional forms.
func (r *Resource) JSON(withID bool) []byte {
	body := r.Body
	mode := refBundle
	if withID {
		mode = refIDs
		body = make(O, 0, len(r.Body)+1)
		body = append(body, r.Body[0], kv{"id", r.ID})
		body = append(body, r.Body[1:]...)
	}
	return appendJSON(nil, body, mode)
}

// uuidOf derives a stable name-based UUID (version 5 layout) from the seed
// and a key, so an id does not depend on generation order.
func uuidOf(seed uint64, key string) string {
	h := sha1.Sum([]byte(strconv.FormatUint(seed, 10) + "/" + key))
	h[6] = h[6]&0x0f | 0x50
	h[8] = h[8]&0x3f | 0x80
	s := hex.EncodeToString(h[:16])
	return s[:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:32]
}

func condIdent(system, value string) string { return "identifier=" + system + "|" + value }

func coding(system, code, display string) O {
	return obj("system", system, "code", code, "display", display)
}

func cc(system, code, display string) O { return obj("coding", arr(coding(system, code, display))) }

func ccText(text string) O { return obj("text", text) }

func profile(id string) O { return obj("profile", arr(sdBase+id)) }

func mssante(addr string) O {
	return obj("extension", arr(obj("url", extEmailType, "valueCoding", coding(sysMessagerie, "MSSANTE", "MSSANTE"))),
		"system", "email", "value", addr, "use", "work")
}

// ascii strips accents and keeps letters, digits and '-' (mail addresses).
func ascii(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if x, ok := unaccent[r]; ok {
			r = x
		}
		switch {
		case r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '\'':
			b.WriteByte('-')
		}
	}
	return strings.Trim(b.String(), "-")
}

// unaccent folds the accented letters of French names.
var unaccent = map[rune]rune{'à': 'a', 'â': 'a', 'ä': 'a', 'ç': 'c', 'é': 'e', 'è': 'e', 'ê': 'e', 'ë': 'e',
	'î': 'i', 'ï': 'i', 'ô': 'o', 'ö': 'o', 'ù': 'u', 'û': 'u', 'ü': 'u', 'ÿ': 'y', 'æ': 'a', 'œ': 'o'}

// luhn appends the Luhn key FINESS numbers carry.
func luhn(digits string) string {
	sum := 0
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if (len(digits)-1-i)%2 == 0 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return digits + strconv.Itoa((10-sum%10)%10)
}

// pick draws an index by weight.
func pick(r *rand.Rand, weights []float64) int {
	total := 0.0
	for _, w := range weights {
		total += w
	}
	x := r.Float64() * total
	for i, w := range weights {
		if x < w {
			return i
		}
		x -= w
	}
	return len(weights) - 1
}

func oneOf[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// org is an establishment, lab or platform.
type org struct {
	est    establishment
	finess string
	domain string
	res    *Resource
	roles  map[string][]*role // by specialty
	boards []*board
}

type role struct {
	name  string // "Dr Claire Martin"
	spec  string
	org   *org
	res   *Resource
	pract *Resource
}

// board is a tumour board (RCP): a site at an establishment meeting on a
// fixed weekday every period weeks.
type board struct {
	code    string
	site    string
	org     *org
	weekday time.Weekday
	hour    int
	weeks   int
}

// session is one meeting of a board.
type session struct {
	board *board
	start time.Time
	key   string
}

// Region is the shared part of the network: organisations, practitioners,
// their roles, the RCP forms and the boards.
type Region struct {
	seed      uint64
	orgs      []*org // establishments
	labs      []*org
	platforms []*org
	roles     []*role
	forms     map[string]*Resource
	formList  []*Resource
	boards    []*board
	bySite    map[string][]*board // site → boards, reference centre last
}

// newRegion builds the shared resources; everything is drawn from one
// stream in a fixed order, so the region depends only on the seed.
func newRegion(seed uint64) *Region {
	r := rand.New(rand.NewPCG(seed, 0x5eed_0f_4e6107))
	g := &Region{seed: seed, forms: map[string]*Resource{}, bySite: map[string][]*board{}}
	serial := 0
	mk := func(e establishment) *org {
		serial++
		o := &org{est: e, roles: map[string][]*role{}}
		dept := e.city.insee[:2]
		o.finess = luhn(fmt.Sprintf("%s0%05d", dept, 1000+serial*37))
		o.domain = e.short + ".mssante.fr"
		o.res = &Resource{Type: "Organization", ID: uuidOf(seed, "org/"+o.finess), Cond: condIdent(sysFINESS, o.finess)}
		box := "rcp"
		if strings.HasPrefix(e.short, "acp-") {
			box = "secretariat-acp"
		} else if strings.HasPrefix(e.short, "pgm-") {
			box = "plateforme"
		}
		o.res.Body = obj("resourceType", "Organization", "meta", profile("dcc-organization"), "active", true,
			"identifier", arr(obj("use", "official", "type", cc(sysV20203FR, "FINEG", "FINESS d'entité géographique"), "system", sysFINESS, "value", o.finess)),
			"name", e.name,
			"telecom", arr(mssante(box+"@"+o.domain), obj("system", "phone", "value", phone(r, dept), "use", "work")),
			"address", arr(obj("use", "work", "line", arr(fmt.Sprintf("%d %s", 1+r.IntN(120), oneOf(r, streets))), "city", e.city.name, "postalCode", e.city.postal, "country", "FR")))
		return o
	}
	for _, e := range establishments {
		g.orgs = append(g.orgs, mk(e))
	}
	for _, e := range labs {
		g.labs = append(g.labs, mk(e))
	}
	for _, e := range platforms {
		g.platforms = append(g.platforms, mk(e))
	}
	// practitioners and their roles
	rppsSeen := map[string]bool{}
	mailSeen := map[string]bool{}
	addStaff := func(o *org, spec string, n int) {
		for k := 0; k < n; k++ {
			female := r.Float64() < 0.5
			given := oneOf(r, maleNames)
			if female {
				given = oneOf(r, femaleNames)
			}
			family := oneOf(r, familyNames)
			var rpps string
			for {
				rpps = fmt.Sprintf("10%09d", r.IntN(1_000_000_000))
				if !rppsSeen[rpps] {
					rppsSeen[rpps] = true
					break
				}
			}
			mail := ascii(given) + "." + ascii(family)
			for n := 2; mailSeen[mail+"@"+o.domain]; n++ {
				mail = ascii(given) + "." + ascii(family) + strconv.Itoa(n)
			}
			mail += "@" + o.domain
			mailSeen[mail] = true
			p := &Resource{Type: "Practitioner", ID: uuidOf(seed, "pract/"+rpps), Cond: condIdent(sysRPPS, rpps)}
			p.Body = obj("resourceType", "Practitioner", "meta", profile("dcc-practitioner"),
				"identifier", arr(
					obj("use", "official", "type", cc(sysV20203FR, "IDNPS", ""), "system", sysIDNPS, "value", "8"+rpps),
					obj("use", "official", "type", cc(sysV20203FR, "RPPS", ""), "system", sysRPPS, "value", rpps)),
				"active", true,
				"name", arr(obj("family", family, "given", arr(given), "prefix", arr("DR"))),
				"telecom", arr(obj("system", "phone", "value", phone(r, o.est.city.insee[:2]), "use", "work")),
				"gender", map[bool]string{true: "female", false: "male"}[female])
			ro := &role{name: "Dr " + given + " " + family, spec: spec, org: o, pract: p}
			rid := rpps + "-" + o.finess
			ro.res = &Resource{Type: "PractitionerRole", ID: uuidOf(seed, "role/"+rid), Cond: condIdent(sidRole, rid)}
			ro.res.Body = obj("resourceType", "PractitionerRole", "meta", profile("dcc-practitioner-role"),
				"identifier", arr(obj("system", sidRole, "value", rid)),
				"active", true,
				"practitioner", p.ref(true, ro.name),
				"organization", o.res.ref(true, o.est.name),
				"specialty", arr(cc(csBase+"dcc-cs-tumour-board-specialty", spec, specialtyDisplay[spec])),
				"telecom", arr(mssante(mail)))
			o.roles[spec] = append(o.roles[spec], ro)
			g.roles = append(g.roles, ro)
		}
	}
	for _, o := range g.orgs {
		for _, s := range staffing[o.est.kind] {
			n := s.n
			if o.est.kind == kindCH && o.est.weight < 1 && n > 1 {
				n--
			}
			addStaff(o, s.spec, n)
		}
	}
	for _, o := range g.labs {
		addStaff(o, "pathology", 3+r.IntN(3))
	}
	for _, o := range g.platforms {
		addStaff(o, "molecular-biology", 3+r.IntN(2))
		addStaff(o, "pathology", 1)
	}
	// boards
	for i, o := range g.orgs {
		sitesHere := boardSites[o.est.kind]
		if i == 0 {
			sitesHere = referenceCentreSites
		} else if o.est.kind == kindCH && o.est.weight < 1 {
			sitesHere = sitesHere[:1]
		} else if o.est.kind == kindCH && o.est.weight < 2 {
			sitesHere = sitesHere[:2]
		}
		for _, s := range sitesHere {
			weeks := 1
			switch o.est.kind {
			case kindClinic:
				weeks = 2
			case kindCH:
				weeks = 2 + r.IntN(3)
			}
			b := &board{code: o.est.short + "-" + s, site: s, org: o, weekday: time.Weekday(1 + r.IntN(5)), hour: 8 + r.IntN(10), weeks: weeks}
			o.boards = append(o.boards, b)
			g.boards = append(g.boards, b)
		}
	}
	for _, b := range g.boards { // reference centre boards go last: they take what no local board does
		if b.org != g.orgs[0] {
			g.bySite[b.site] = append(g.bySite[b.site], b)
		}
	}
	for _, b := range g.orgs[0].boards {
		g.bySite[b.site] = append(g.bySite[b.site], b)
	}
	// one RCP form per tumour site
	for _, s := range referenceCentreSites {
		id := "dcc-form-" + s
		q := &Resource{Type: "Questionnaire", ID: uuidOf(seed, "form/"+s), Cond: condIdent(sidForm, id)}
		q.Body = obj("resourceType", "Questionnaire", "meta", profile("dcc-tumor-board-form"),
			"url", canonical+"/Questionnaire/"+id, "identifier", arr(obj("system", sidForm, "value", id)), "version", "1.0.0",
			"name", "DccForm"+camel(s),
			"title", "Fiche RCP — "+siteDisplay[s], "status", "active", "subjectType", arr("Patient"), "date", "2023-01-01",
			"publisher", "Réseau régional de cancérologie — DCC",
			"useContext", arr(obj("code", coding("http://terminology.hl7.org/CodeSystem/usage-context-type", "focus", ""),
				"valueCodeableConcept", cc(csBase+"dcc-cs-tumour-site", s, siteDisplay[s]))),
			"code", arr(coding(csBase+"dcc-cs-document-type", "rcp-form", "")),
			"item", formItems())
		g.forms[s] = q
		g.formList = append(g.formList, q)
	}
	return g
}

// camel turns a site code into a computable name part ("upper-gi" → "UpperGi").
func camel(s string) string {
	var b strings.Builder
	up := true
	for _, r := range s {
		if r == '-' {
			up = true
			continue
		}
		if up {
			r = unicode.ToUpper(r)
			up = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

func formItems() []any {
	it := func(link, text, typ string, extra ...any) O {
		return append(obj("linkId", link, "text", text, "type", typ), obj(extra...)...)
	}
	return arr(
		it("context", "Contexte", "group", "item", arr(
			it("rcp-date", "Date de la RCP", "date", "required", true),
			it("question", "Question posée / motif de présentation", "text", "required", true),
			it("ecog", "Indice de performance (OMS/ECOG)", "integer"))),
		it("diagnosis", "Diagnostic", "group", "item", arr(
			it("icd10", "Code CIM-10", "string", "required", true),
			it("morphology", "Morphologie ICD-O-3", "string"),
			it("tnm-t", "T", "choice", "answerValueSet", canonical+"/ValueSet/dcc-vs-tnm-t-category"),
			it("tnm-n", "N", "choice", "answerValueSet", canonical+"/ValueSet/dcc-vs-tnm-n-category"),
			it("tnm-m", "M", "choice", "answerValueSet", canonical+"/ValueSet/dcc-vs-tnm-m-category"),
			it("stage", "Stade", "choice", "answerValueSet", canonical+"/ValueSet/dcc-vs-tnm-stage-group"))),
		it("proposal", "Proposition de la RCP", "text", "required", true),
		it("molecular-request", "Demande d'analyse moléculaire", "choice", "repeats", true, "answerValueSet", canonical+"/ValueSet/dcc-vs-molecular-test"),
		it("trial", "Essai clinique proposé", "string"))
}

func phone(r *rand.Rand, dept string) string {
	prefix := "05"
	return fmt.Sprintf("%s %02d %02d %02d %02d", prefix, 30+r.IntN(60), r.IntN(100), r.IntN(100), r.IntN(100))
}

// sessionOn returns the first session of b on or after t.
func (b *board) sessionOn(t time.Time) session {
	// weeks count from a fixed Monday so a board's rhythm does not depend on who asks
	epoch := time.Date(2022, 12, 26, 0, 0, 0, 0, paris)
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, paris)
	for i := 0; i < 7*b.weeks+7; i++ {
		d := day.AddDate(0, 0, i)
		weeks := int(d.Sub(epoch).Hours()/24+0.5) / 7
		if d.Weekday() == b.weekday && weeks%b.weeks == 0 {
			start := time.Date(d.Year(), d.Month(), d.Day(), b.hour, 0, 0, 0, paris)
			return session{board: b, start: start, key: "RCP-" + b.code + "-" + start.Format("20060102")}
		}
	}
	panic("unreachable: a board meets at least every few weeks")
}

// meeting builds the session's Encounter: at least three specialties, as
// dcc-tbm-1 requires of a finished meeting.
func (g *Region) meeting(s session) *Resource {
	r := rand.New(rand.NewPCG(g.seed, hash64(s.key)))
	o := s.board.org
	var parts []any
	seen := map[string]bool{}
	add := func(spec string, display string) {
		rs := o.roles[spec]
		if len(rs) == 0 || seen[spec] {
			return
		}
		seen[spec] = true
		ro := oneOf(r, rs)
		if display == "" {
			display = specialtyDisplay[spec]
		}
		parts = append(parts, obj("type", arr(cc(csBase+"dcc-cs-tumour-board-specialty", spec, display)), "individual", ro.res.ref(true, ro.name)))
	}
	if s.board.site == "haematological" {
		add("haematology", "")
	}
	add("medical-oncology", "")
	add("organ-specialist", organSpecialist[s.board.site])
	add("surgery", "")
	add("radiology", "")
	add("radiation-oncology", "")
	add("pathology", "")
	add("palliative-care", "")
	if len(parts) < 3 { // a small hospital borrows the pathologist of its lab
		lab := g.labFor(o)
		ro := lab.roles["pathology"][0]
		parts = append(parts, obj("type", arr(cc(csBase+"dcc-cs-tumour-board-specialty", "pathology", specialtyDisplay["pathology"])), "individual", ro.res.ref(true, ro.name)))
	}
	res := &Resource{Type: "Encounter", ID: uuidOf(g.seed, "session/"+s.key), Cond: condIdent(sidSession, s.key)}
	res.Body = obj("resourceType", "Encounter", "meta", profile("dcc-tumor-board-meeting"),
		"identifier", arr(obj("system", sidSession, "value", s.key)),
		"status", "finished",
		"class", obj("system", "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code", "AMB"),
		"type", arr(cc(csBase+"dcc-cs-encounter-type", "tumour-board-meeting", "Séance de RCP")),
		"serviceType", cc(csBase+"dcc-cs-tumour-site", s.board.site, siteDisplay[s.board.site]),
		"participant", parts,
		"period", obj("start", s.start.Format(dtFmt), "end", s.start.Add(2*time.Hour).Format(dtFmt)),
		"serviceProvider", o.res.ref(true, o.est.name))
	return res
}

// labFor is the pathology lab an establishment sends its material to: the
// one in the same town, else the university hospital's.
func (g *Region) labFor(o *org) *org {
	switch o.est.kind {
	case kindCLCC:
		return g.labs[1]
	case kindCHU:
		return g.labs[0]
	}
	for _, l := range g.labs[2:] {
		if l.est.city.insee == o.est.city.insee {
			return l
		}
	}
	return g.labs[2+int(hash64(o.finess)%uint64(len(g.labs)-2))]
}

func hash64(s string) uint64 {
	h := sha1.Sum([]byte(s))
	var x uint64
	for _, b := range h[:8] {
		x = x<<8 | uint64(b)
	}
	return x
}
