package generate

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"
)

// plan is what must be known of a patient before the shared resources are
// written: which board session the case goes to. It comes from its own
// random stream so the shared batch can be computed without generating the
// patients' full records.
type plan struct {
	i       int
	site    *cancerSite
	sub     *subtype
	female  bool
	birth   time.Time
	est     *org
	diag    time.Time
	session session
	stage   int // 1..4, 0 when TNM does not apply
}

func (g *Generator) plan(i int) plan {
	r := rand.New(rand.NewPCG(g.cfg.Seed, uint64(i)<<1))
	p := plan{i: i}
	w := make([]float64, len(sites))
	for k, s := range sites {
		w[k] = s.weight
	}
	p.site = &sites[pick(r, w)]
	sw := make([]float64, len(p.site.subtypes))
	for k, s := range p.site.subtypes {
		sw[k] = s.weight
	}
	p.sub = &p.site.subtypes[pick(r, sw)]
	p.female = r.Float64() < p.site.female
	if p.sub.icd10 == "C61" {
		p.female = false
	}
	p.diag = periodStart.AddDate(0, 0, r.IntN(periodDays))
	age := int(math.Round(p.site.ageMean + r.NormFloat64()*p.site.ageSD))
	age = min(max(age, 18), 98)
	p.birth = p.diag.AddDate(-age, 0, -r.IntN(365))
	ew := make([]float64, len(g.region.orgs))
	for k, o := range g.region.orgs {
		ew[k] = o.est.weight
	}
	p.est = g.region.orgs[pick(r, ew)]
	var b *board
	for _, x := range p.est.boards {
		if x.site == p.site.code {
			b = x
		}
	}
	if b == nil { // no local board for this site: the regional reference board
		cands := g.region.bySite[p.site.code]
		b = cands[len(cands)-1]
	}
	p.session = b.sessionOn(p.diag.AddDate(0, 0, 7+r.IntN(15)))
	if p.site.tnm {
		p.stage = 1 + pick(r, p.site.stages[:])
	}
	return p
}

// patient is the builder of one patient's record.
type patient struct {
	g    *Generator
	p    plan
	r    *rand.Rand
	out  []*Resource
	n    int
	pref string
}

func (pt *patient) new(typ, prof string) *Resource {
	pt.n++
	key := fmt.Sprintf("%s/%d", pt.pref, pt.n)
	id := uuidOf(pt.g.cfg.Seed, key)
	res := &Resource{Type: typ, ID: id, Cond: condIdent(sidResource, id)}
	res.Body = obj("resourceType", typ, "meta", profile(prof))
	pt.out = append(pt.out, res)
	return res
}

// ident is the business identifier every patient-level resource carries, so
// that an import can create it conditionally and a re-run finds it.
func ident(res *Resource) any { return arr(obj("system", sidResource, "value", res.ID)) }

func (pt *patient) add(res *Resource, pairs ...any) { res.Body = append(res.Body, obj(pairs...)...) }

func day(t time.Time) string  { return t.Format(dateFmt) }
func inst(t time.Time) string { return t.Format(dtFmt) }

// workHours moves t to a plausible working time of its day.
func (pt *patient) workHours(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), 8+pt.r.IntN(10), pt.r.IntN(60), 0, 0, paris)
}

// Patient returns every resource of patient i (0-based), in write order.
func (g *Generator) Patient(i int) []*Resource {
	p := g.plan(i)
	pt := &patient{g: g, p: p, r: rand.New(rand.NewPCG(g.cfg.Seed, uint64(i)<<1|1)), pref: fmt.Sprintf("p%d", i)}
	r := pt.r
	reg := g.region
	site, sub := p.site, p.sub
	est := p.est
	// the referent doctor presents the case and prescribes
	spec := "medical-oncology"
	if site.code == "haematological" && len(est.roles["haematology"]) > 0 {
		spec = "haematology"
	} else if r.Float64() < 0.35 && len(est.roles["organ-specialist"]) > 0 {
		spec = "organ-specialist"
	}
	referent := oneOf(r, est.roles[spec])
	refRole := referent.res.ref(true, referent.name)
	estRef := est.res.ref(true, est.est.name)

	// --- Patient
	given, family := pt.name(p.female)
	birthPlace := oneOf(r, communes)
	if r.Float64() < 0.15 {
		birthPlace = oneOf(r, farCommunes)
	}
	home := oneOf(r, communes)
	sex := "1"
	gender := "male"
	if p.female {
		sex, gender = "2", "female"
	}
	// The matricule is built from sex, birth year and month and the birth
	// department as a NIR is; the six commune+order digits carry the patient
	// number instead, which keeps every generated INS unique.
	nir13 := fmt.Sprintf("%s%02d%02d%s%06d", sex, p.birth.Year()%100, int(p.birth.Month()), birthPlace.insee[:2], i+1)
	var n int64
	fmt.Sscan(nir13, &n)
	nir := fmt.Sprintf("%s%02d", nir13, 97-n%97)
	patient := pt.new("Patient", "dcc-patient")
	patient.Cond = condIdent(sysINSTest, nir)
	names := arr(obj("extension", arr(obj("url", "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-patient-birth-list-given-name",
		"valueString", given+pt.secondGiven(p.female))), "use", "official", "family", family, "given", arr(given)))
	if p.female && p.diag.Sub(p.birth) > 30*365*24*time.Hour && r.Float64() < 0.4 {
		names = append(names, obj("use", "usual", "family", oneOf(r, familyNames), "given", arr(given)))
	}
	validated := p.diag.AddDate(0, 0, -r.IntN(30))
	pt.add(patient,
		"extension", arr(
			obj("url", "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-identity-reliability", "extension", arr(
				obj("url", "identityStatus", "valueCoding", coding("https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0445", "VALI", "")),
				obj("url", "validationMode", "valueCoding", coding("https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-mode-validation-identity", oneOf(r, []string{"CN", "CN", "CN", "PA", "AN", "LE"}), "")),
				obj("url", "validationDate", "valueDate", day(validated)))),
			obj("url", "http://hl7.org/fhir/StructureDefinition/patient-birthPlace", "valueAddress", obj(
				"extension", arr(obj("url", "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-address-insee-code",
					"valueCoding", coding("https://mos.esante.gouv.fr/NOS/TRE_R13-CommuneOM/FHIR/TRE-R13-CommuneOM", birthPlace.insee, ""))),
				"city", birthPlace.name))),
		"identifier", arr(
			obj("use", "official", "type", cc(sysV20203FR, "INS-NIR-TEST", ""), "system", sysINSTest, "value", nir),
			obj("use", "usual", "type", cc("http://terminology.hl7.org/CodeSystem/v2-0203", "PI", ""), "system", sidBase+"ipp/"+est.finess, "value", fmt.Sprintf("IPP-%07d", i+1))),
		"name", names,
		"telecom", arr(obj("system", "phone", "value", phone(r, home.insee[:2]), "use", "home")),
		"gender", gender,
		"birthDate", day(p.birth),
		"address", arr(obj("extension", arr(obj("url", "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-address-insee-code",
			"valueCoding", coding("https://mos.esante.gouv.fr/NOS/TRE_R13-CommuneOM/FHIR/TRE-R13-CommuneOM", home.insee, ""))),
			"use", "home", "line", arr(fmt.Sprintf("%d %s", 1+r.IntN(150), oneOf(r, streets))), "city", home.name, "postalCode", home.postal, "country", "FR")),
		"generalPractitioner", arr(refRole),
		"managingOrganization", estRef)
	patRef := patient.ref(false, "")

	// --- Consent to share the record (opt-out regime)
	consent := pt.new("Consent", "dcc-consent-share")
	pt.add(consent, "identifier", ident(consent), "status", "active",
		"scope", cc("http://terminology.hl7.org/CodeSystem/consentscope", "patient-privacy", ""),
		"category", arr(cc(sysLOINC, "59284-0", "Patient Consent")),
		"patient", patRef, "dateTime", inst(pt.workHours(validated)), "performer", arr(patRef), "organization", arr(estRef),
		"policyRule", cc("http://terminology.hl7.org/CodeSystem/v3-ActCode", "OPTOUT", ""),
		"provision", obj("type", "permit", "period", obj("start", day(validated))))

	// --- Primary cancer and its stage
	laterality := func() any {
		if !sub.lateral {
			return nil
		}
		if r.Float64() < 0.5 {
			return arr(obj("url", sdBase+"dcc-laterality", "valueCodeableConcept", cc(sysSNOMED, "24028007", "Right (qualifier value)")))
		}
		return arr(obj("url", sdBase+"dcc-laterality", "valueCodeableConcept", cc(sysSNOMED, "7771000", "Left (qualifier value)")))
	}
	lat := laterality()
	bodySite := obj("extension", lat, "coding", arr(coding(sysICDO3, sub.topo, sub.topoDisplay)))
	cond := pt.new("Condition", "dcc-primary-cancer-condition")
	condRef := cond.ref(false, "")
	recorded := p.diag.AddDate(0, 0, 1+r.IntN(5))
	staged := p.diag.AddDate(0, 0, 3+r.IntN(7))
	var stageRes []*Resource
	var tnm [3]string
	var group string
	if p.stage > 0 {
		tnm, group = stageCodes(r, site.code, p.stage)
		pathological := p.stage <= 2 && r.Float64() < 0.5
		codes := [4][2]string{{"21905-5", "Primary tumor.clinical [Class] Cancer"}, {"21906-3", "Regional lymph nodes.clinical [Class] Cancer"},
			{"21907-1", "Distant metastases.clinical [Class] Cancer"}, {"21908-9", "Stage group.clinical Cancer"}}
		if pathological {
			codes = [4][2]string{{"21899-0", "Primary tumor.pathology Cancer"}, {"21900-6", "Regional lymph nodes.pathology [Class] Cancer"},
				{"21901-4", "Distant metastases.pathology [Class] Cancer"}, {"21902-2", "Stage group.pathology Cancer"}}
		}
		profs := []string{"dcc-tnm-primary-tumor-category", "dcc-tnm-regional-nodes-category", "dcc-tnm-distant-metastases-category", "dcc-tnm-stage-group"}
		values := []string{tnm[0], tnm[1], tnm[2], group}
		for k := 0; k < 4; k++ {
			o := pt.new("Observation", profs[k])
			stageRes = append(stageRes, o)
			pt.add(o, "identifier", ident(o), "status", "final", "code", cc(sysLOINC, codes[k][0], codes[k][1]), "subject", patRef, "focus", arr(condRef),
				"effectiveDateTime", day(staged), "performer", arr(refRole),
				"valueCodeableConcept", cc(csBase+"dcc-cs-tnm-uicc8", values[k], ""),
				"method", cc("http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl", "C188404", ""))
		}
		stageRes[3].Body = append(stageRes[3].Body, obj("hasMember", arr(stageRes[0].ref(false, ""), stageRes[1].ref(false, ""), stageRes[2].ref(false, "")))...)
	}
	var stage any
	if group != "" {
		stage = arr(obj("summary", cc(csBase+"dcc-cs-tnm-uicc8", group, ""), "assessment", arr(stageRes[3].ref(false, ""))))
	}
	pt.add(cond,
		"extension", arr(
			obj("url", sdBase+"dcc-date-of-diagnosis", "valueDate", day(p.diag)),
			obj("url", sdBase+"dcc-histology-morphology", "valueCodeableConcept", cc(sysICDO3, sub.morph, sub.morphDisplay))),
		"identifier", ident(cond),
		"clinicalStatus", cc("http://terminology.hl7.org/CodeSystem/condition-clinical", "active", ""),
		"verificationStatus", cc("http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed", ""),
		"category", arr(cc(csBase+"dcc-cs-condition-category", "primary-cancer", "")),
		"code", cc(sysICD10, sub.icd10, sub.icd10Display),
		"bodySite", arr(bodySite),
		"subject", patRef, "recordedDate", day(recorded), "recorder", refRole, "stage", stage)
	// move the Condition before its stage observations in write order
	pt.out = moveBefore(pt.out, cond, stageRes)
	addressed := []any{condRef}
	var metDisplay string
	if p.stage == 4 && len(site.mets) > 0 {
		m := oneOf(r, site.mets)
		metDisplay = m.display
		sec := pt.new("Condition", "dcc-secondary-cancer-condition")
		pt.add(sec,
			"extension", arr(
				obj("url", sdBase+"dcc-date-of-diagnosis", "valueDate", day(staged)),
				obj("url", sdBase+"dcc-related-primary-cancer", "valueReference", condRef)),
			"identifier", ident(sec),
			"clinicalStatus", cc("http://terminology.hl7.org/CodeSystem/condition-clinical", "active", ""),
			"verificationStatus", cc("http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed", ""),
			"category", arr(cc(csBase+"dcc-cs-condition-category", "secondary-cancer", "")),
			"code", cc(sysICD10, m.icd10, m.display),
			"bodySite", arr(obj("coding", arr(coding(sysICDO3, m.topo, m.topoDisplay)))),
			"subject", patRef, "recordedDate", day(staged), "recorder", refRole)
		addressed = append(addressed, sec.ref(false, ""))
	}

	// --- Tumour board: the case in its session, the form, the report
	meet := reg.meeting(p.session)
	caseStart := p.session.start.Add(time.Duration(r.IntN(8)*15) * time.Minute)
	enc := pt.new("Encounter", "dcc-tumor-board-case")
	encRef := enc.ref(false, "")
	pt.add(enc, "identifier", ident(enc), "status", "finished",
		"class", obj("system", "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code", "AMB"),
		"type", arr(cc(csBase+"dcc-cs-encounter-type", "tumour-board-case", "Dossier patient présenté en RCP")),
		"subject", patRef, "participant", arr(obj("individual", refRole)),
		"period", obj("start", inst(caseStart), "end", inst(caseStart.Add(15*time.Minute))),
		"reasonReference", arr(condRef), "serviceProvider", estRef, "partOf", meet.ref(true, ""))
	stageText := ""
	if group != "" {
		stageText = fmt.Sprintf(" %s %s %s (%s)", tnm[0], tnm[1], tnm[2], strings.Replace(group, "stage-", "stade ", 1))
	}
	question := oneOf(r, []string{"Stratégie thérapeutique initiale ?", "Indication d'un traitement adjuvant ?", "Place de la chirurgie ?",
		"Stratégie de première ligne ?", "Discussion d'un traitement néoadjuvant ?"})
	if p.stage == 4 {
		question = "Maladie métastatique : stratégie de première ligne ?"
	}
	test := ""
	if sub.test != "" && (!site.tnm || p.stage >= site.minTestStg) && r.Float64() < sub.testRate {
		test = sub.test
	}
	proposal := proposalText(site.code, p.stage, test != "")
	diagItems := arr(obj("linkId", "icd10", "answer", arr(obj("valueString", sub.icd10))),
		obj("linkId", "morphology", "answer", arr(obj("valueString", sub.morph))))
	if group != "" {
		for k, l := range []string{"tnm-t", "tnm-n", "tnm-m"} {
			diagItems = append(diagItems, obj("linkId", l, "answer", arr(obj("valueCoding", coding(csBase+"dcc-cs-tnm-uicc8", tnm[k], ""))))) //nolint
		}
		diagItems = append(diagItems, obj("linkId", "stage", "answer", arr(obj("valueCoding", coding(csBase+"dcc-cs-tnm-uicc8", group, "")))))
	}
	items := arr(
		obj("linkId", "context", "item", arr(
			obj("linkId", "rcp-date", "answer", arr(obj("valueDate", day(p.session.start)))),
			obj("linkId", "question", "answer", arr(obj("valueString", question))),
			obj("linkId", "ecog", "answer", arr(obj("valueInteger", pick(r, []float64{35, 35, 18, 9, 3})))))),
		obj("linkId", "diagnosis", "item", diagItems),
		obj("linkId", "proposal", "answer", arr(obj("valueString", proposal))))
	if test != "" {
		items = append(items, obj("linkId", "molecular-request", "answer", arr(obj("valueCoding", coding(csBase+"dcc-cs-molecular-test", test, "")))))
	}
	qr := pt.new("QuestionnaireResponse", "dcc-tumor-board-form-response")
	pt.add(qr, "identifier", obj("system", sidResource, "value", qr.ID),
		"questionnaire", canonical+"/Questionnaire/dcc-form-"+site.code+"|1.0.0", "status", "completed",
		"subject", patRef, "encounter", encRef, "authored", inst(caseStart.Add(15*time.Minute)), "author", refRole, "item", items)

	// molecular request (prescribed at the board), PPS for a subset
	var sr, spec2, pps *Resource
	if test != "" {
		spec2 = pt.new("Specimen", "dcc-tumor-specimen")
		sr = pt.new("ServiceRequest", "dcc-molecular-analysis-request")
	}
	if r.Float64() < 0.044 {
		pps = pt.new("CarePlan", "dcc-pps")
	}
	report := pt.new("Composition", "dcc-tumor-board-report")
	reportAt := p.session.start.Add(2*time.Hour + time.Duration(r.IntN(120))*time.Minute)
	summaryEntries := arr(condRef)
	if len(stageRes) > 0 {
		summaryEntries = append(summaryEntries, stageRes[3].ref(false, ""))
	}
	var proposalEntries []any
	if pps != nil {
		proposalEntries = append(proposalEntries, pps.ref(false, ""))
	}
	if sr != nil {
		proposalEntries = append(proposalEntries, sr.ref(false, ""))
	}
	summary := fmt.Sprintf("%s (%s)%s.", sub.morphDisplay, sub.icd10Display, stageText)
	if metDisplay != "" {
		summary += " " + metDisplay + "."
	}
	pt.add(report, "identifier", obj("system", sidResource, "value", report.ID), "status", "final",
		"type", cc(csBase+"dcc-cs-document-type", "rcp-report", "Fiche RCP (compte rendu de RCP)"),
		"subject", patRef, "encounter", encRef, "date", inst(reportAt), "author", arr(refRole),
		"title", "Fiche RCP "+strings.ToLower(siteDisplay[site.code])+" — "+p.session.start.Format("02/01/2006"),
		"attester", arr(obj("mode", "legal", "time", inst(reportAt), "party", refRole)),
		"custodian", estRef,
		"section", arr(
			section("Question posée", "question", question, nil),
			section("Résumé clinique", "clinical-summary", summary, summaryEntries),
			section("Proposition", "proposal", proposal, proposalEntries)))
	if pps != nil {
		acts := arr(obj("detail", obj("kind", "ServiceRequest", "code", ccText(treatment(site.code, p.stage)), "status", "scheduled")))
		if sr != nil {
			acts = append(acts, obj("reference", sr.ref(false, "")))
		}
		pt.add(pps, "identifier", ident(pps), "status", "active", "intent", "plan",
			"category", arr(cc(csBase+"dcc-cs-document-type", "pps", "Programme personnalisé de soins (PPS)")),
			"title", "Programme personnalisé de soins", "subject", patRef, "encounter", encRef,
			"period", obj("start", day(p.session.start.AddDate(0, 0, 2+r.IntN(10)))), "author", refRole,
			"addresses", addressed, "supportingInfo", arr(report.ref(false, "")), "activity", acts)
	}
	// notify the referent that the board report is available
	pt.notify("rcp-report-available", "Fiche RCP disponible", reportAt.Add(10*time.Minute), patRef, []any{report.ref(false, "")}, refRole, estRef, nil,
		"La fiche RCP de votre patient est disponible dans le DCC.")
	if pps != nil {
		pt.notify("pps-available", "PPS disponible", reportAt.Add(24*time.Hour), patRef, []any{pps.ref(false, "")}, refRole, estRef, nil,
			"Le programme personnalisé de soins de votre patient est disponible dans le DCC.")
	}
	if sr != nil {
		pt.molecular(test, sr, spec2, cond, condRef, patRef, referent, stageRes, encRef, reportAt, lat)
	}
	return pt.out
}

func section(title, code, text string, entries []any) O {
	return obj("title", title, "code", cc(csBase+"dcc-cs-report-section", code, ""),
		"text", obj("status", "generated", "div", `<div xmlns="http://www.w3.org/1999/xhtml"><p>`+xmlEscape(text)+`</p></div>`),
		"entry", entries)
}

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func moveBefore(out []*Resource, x *Resource, before []*Resource) []*Resource {
	if len(before) == 0 {
		return out
	}
	var res []*Resource
	for _, r := range out {
		if r == x {
			continue
		}
		if r == before[0] {
			res = append(res, x)
		}
		res = append(res, r)
	}
	return res
}

func (pt *patient) name(female bool) (string, string) {
	if female {
		return oneOf(pt.r, femaleNames), oneOf(pt.r, familyNames)
	}
	return oneOf(pt.r, maleNames), oneOf(pt.r, familyNames)
}

func (pt *patient) secondGiven(female bool) string {
	if pt.r.Float64() < 0.4 {
		return ""
	}
	if female {
		return " " + oneOf(pt.r, femaleNames)
	}
	return " " + oneOf(pt.r, maleNames)
}

// notify adds a Communication: the secure-messaging notification carries no
// medical data, only the news that something waits in the secure zone.
func (pt *patient) notify(code, display string, at time.Time, patRef Ref, about []any, recipient, sender Ref, basedOn []any, text string) {
	c := pt.new("Communication", "dcc-notification")
	pt.add(c, "identifier", ident(c), "basedOn", basedOn, "status", "completed",
		"category", arr(cc(csBase+"dcc-cs-notification-type", code, display)),
		"medium", arr(cc("http://terminology.hl7.org/CodeSystem/v3-ParticipationMode", "EMAILWRIT", "email")),
		"subject", patRef, "about", about, "sent", inst(at), "recipient", arr(recipient), "sender", sender,
		"payload", arr(obj("contentString", text)))
}

// stageCodes draws T, N, M categories consistent with a stage (1..4).
func stageCodes(r *rand.Rand, site string, stage int) ([3]string, string) {
	lung := site == "lung"
	switch stage {
	case 1:
		t := oneOf(r, []string{"T1", "T1a", "T1b", "T1c"})
		if !lung && site != "breast" {
			t = "T1"
		}
		g := "stage-I"
		if lung || site == "breast" {
			g = oneOf(r, []string{"stage-IA", "stage-IB"})
		}
		return [3]string{t, "N0", "M0"}, g
	case 2:
		if r.Float64() < 0.6 {
			return [3]string{oneOf(r, []string{"T2", "T3"}), "N0", "M0"}, oneOf(r, []string{"stage-II", "stage-IIA", "stage-IIB"})
		}
		return [3]string{"T1", "N1", "M0"}, oneOf(r, []string{"stage-IIA", "stage-IIB"})
	case 3:
		return [3]string{oneOf(r, []string{"T2", "T3", "T4", "T4a", "T4b"}), oneOf(r, []string{"N1", "N2", "N2a", "N3"}), "M0"},
			oneOf(r, []string{"stage-III", "stage-IIIA", "stage-IIIB", "stage-IIIC"})
	}
	m := "M1"
	g := "stage-IV"
	if lung {
		m = oneOf(r, []string{"M1a", "M1b", "M1c"})
		g = "stage-IVA"
		if m == "M1c" {
			g = "stage-IVB"
		}
	}
	return [3]string{oneOf(r, []string{"T1", "T2", "T3", "T4"}), oneOf(r, []string{"N0", "N1", "N2", "N3"}), m}, g
}

func treatment(site string, stage int) string {
	switch {
	case stage == 4:
		return "Traitement systémique de première ligne"
	case site == "haematological":
		return "Chimiothérapie (protocole selon le référentiel régional)"
	case site == "breast":
		return "Chirurgie conservatrice puis radiothérapie adjuvante"
	case site == "urological":
		return "Prostatectomie totale ou radiothérapie selon préférence du patient"
	case stage == 3:
		return "Radiochimiothérapie concomitante"
	}
	return "Chirurgie d'exérèse"
}

func proposalText(site string, stage int, molecular bool) string {
	s := treatment(site, stage)
	if molecular {
		s += " ; recherche d'altérations moléculaires avant décision thérapeutique."
	} else {
		s += "."
	}
	return s
}
