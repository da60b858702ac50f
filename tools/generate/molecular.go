package generate

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// hop is one step of the molecular circuit with the delay (in hours, a
// range) after the previous one; turnaround is days to weeks overall.
type hop struct {
	status     string // dcc-cs-circuit-business-status
	display    string
	minH, maxH int
}

var circuit = []hop{
	{"prescribed", "Prescrite", 0, 0},
	{"sent-to-pathology", "Envoyée au laboratoire d'ACP", 1, 48},
	{"material-sent-to-platform", "Matériel envoyé à la plateforme", 48, 168},
	{"received-by-platform", "Reçue par la plateforme", 24, 72},
	{"analysis-in-progress", "Analyse en cours", 4, 72},
	{"results-available", "Résultats disponibles", 120, 480},
	{"results-integrated", "Résultats intégrés au dossier", 1, 72},
}

// molecular writes the analysis request and everything the circuit makes of
// it: the specimen, the tracking Task (its output keeps the time of every
// hop), the platform's report with its variants and the notifications.
func (pt *patient) molecular(test string, sr, specimen, cond *Resource, condRef, patRef Ref, referent *role, stageRes []*Resource, encRef Ref, at time.Time, lat any) {
	r := pt.r
	g := pt.g
	p := pt.p
	reg := g.region
	lab := reg.labFor(p.est)
	platform := reg.platforms[pick(r, []float64{reg.platforms[0].est.weight, reg.platforms[1].est.weight, reg.platforms[2].est.weight})]
	if p.est.est.kind == kindCLCC {
		platform = reg.platforms[1]
	}
	refRole := referent.res.ref(true, referent.name)
	labRef := lab.res.ref(true, lab.est.name)
	platRef := platform.res.ref(true, platform.est.name)
	srRef := sr.ref(false, "")
	specRef := specimen.ref(false, "")
	task := pt.new("Task", "dcc-circuit-step")
	taskRef := task.ref(false, "")

	// the tumour material: the diagnostic biopsy block, or blood for a leukaemia
	collected := pt.workHours(p.diag.AddDate(0, 0, -1-r.IntN(4)))
	typ := cc(sysSNOMED, "441652008", "Formalin-fixed paraffin-embedded tissue specimen")
	if p.site.code == "haematological" {
		typ = cc(sysSNOMED, "119297000", "Blood specimen")
	}
	cells := 20 + r.IntN(71)
	pt.add(specimen, "extension", arr(obj("url", sdBase+"dcc-tumour-cell-percentage", "valueQuantity", obj("value", cells, "unit", "%", "system", sysUCUM, "code", "%"))),
		"identifier", ident(specimen),
		"accessionIdentifier", obj("system", sidBase+"acp-block/"+lab.finess, "value", fmt.Sprintf("B%02d-%06d-A%d", collected.Year()%100, p.i+1, 1+r.IntN(3))),
		"status", "available", "type", typ, "subject", patRef,
		"receivedTime", inst(collected.Add(time.Duration(20+r.IntN(30))*time.Hour)),
		"collection", obj("collector", refRole, "collectedDateTime", inst(collected),
			"bodySite", obj("extension", lat, "coding", arr(coding(sysICDO3, p.sub.topo, p.sub.topoDisplay)))))

	// walk the circuit up to the date the record is seen at
	prescribed := at.Add(time.Duration(5+r.IntN(60)) * time.Minute)
	times := []time.Time{prescribed}
	end := 0 // index of the last hop reached
	insufficient := r.Float64() < 0.03
	cancelled := !insufficient && r.Float64() < 0.01
	t := prescribed
	for k := 1; k < len(circuit); k++ {
		h := circuit[k]
		t = openHours(t.Add(time.Duration(h.minH+r.IntN(h.maxH-h.minH+1))*time.Hour), r.IntN(60))
		if t.After(asOf) {
			break
		}
		times = append(times, t)
		end = k
		if insufficient && h.status == "received-by-platform" {
			break
		}
		if cancelled && k == 1 {
			break
		}
	}
	last := times[len(times)-1]
	bs := circuit[end]
	status, taskStatus, owner := "active", "in-progress", platRef
	switch {
	case cancelled && end >= 1:
		bs = hop{status: "cancelled", display: "Annulée"}
		status, taskStatus, owner = "revoked", "cancelled", labRef
		last = last.Add(time.Duration(1+r.IntN(48)) * time.Hour)
	case insufficient && bs.status == "received-by-platform":
		bs = hop{status: "material-insufficient", display: "Matériel insuffisant / non contributif"}
		status, taskStatus = "revoked", "failed"
		last = last.Add(time.Duration(24+r.IntN(72)) * time.Hour)
	case bs.status == "results-integrated":
		status, taskStatus = "completed", "completed"
	case end == 0:
		taskStatus, owner = "requested", labRef
	case end == 1:
		taskStatus, owner = "accepted", labRef
	}
	if last.After(asOf) {
		last = asOf.Add(-time.Hour)
	}
	supporting := []any(nil)
	if len(stageRes) > 0 {
		supporting = arr(stageRes[3].ref(false, ""))
	}
	pan := panels[test]
	var detail []any
	if test == "NGS-LUNG" {
		detail = arr(cc(csBase+"dcc-cs-molecular-test", "PD-L1", "Expression PD-L1 (TPS / CPS)"))
	}
	pt.add(sr, "identifier", arr(obj("system", sidBase+"molecular-request", "value", fmt.Sprintf("DM-%d-%06d", prescribed.Year(), p.i+1))),
		"status", status, "intent", "order",
		"code", cc(csBase+"dcc-cs-molecular-test", test, pan.display), "orderDetail", detail,
		"subject", patRef, "encounter", encRef, "authoredOn", inst(prescribed), "requester", refRole,
		"performer", arr(labRef), "reasonReference", arr(condRef), "supportingInfo", supporting, "specimen", arr(specRef))

	// the report, once the platform has results
	var report *Resource
	var reportRef Ref
	if end >= 5 && bs.status != "cancelled" && bs.status != "material-insufficient" {
		report = pt.new("DiagnosticReport", "dcc-genomic-report")
		reportRef = report.ref(false, "")
		var results []any
		var found []string
		present := map[string]variant{}
		// one exclusive driver at most, then independent alterations
		x := r.Float64()
		for _, d := range pan.exclusive {
			if x < d.freq {
				present[d.gene] = oneOf(r, variants[d.gene])
				break
			}
			x -= d.freq
		}
		for _, d := range pan.extra {
			if r.Float64() < d.freq {
				present[d.gene] = oneOf(r, variants[d.gene])
			}
		}
		genes := append([]string(nil), pan.studied...)
		for _, d := range pan.extra {
			if _, ok := present[d.gene]; ok && !contains(genes, d.gene) {
				genes = append(genes, d.gene)
			}
		}
		analysed := day(times[4])
		for _, gene := range genes {
			v, ok := present[gene]
			obs := pt.new("Observation", "dcc-variant")
			comps := arr(obj("code", cc(sysLOINC, "48018-6", ""), "valueCodeableConcept", cc("http://www.genenames.org", geneHGNC[gene], gene)))
			value := cc(sysLOINC, "LA9634-2", "Absent")
			if ok {
				af := math.Round((0.05+r.Float64()*0.55)*100) / 100
				value = cc(sysLOINC, "LA9633-4", "Present")
				comps = append(comps,
					obj("code", cc(sysLOINC, "81290-9", ""), "valueCodeableConcept", cc("http://varnomen.hgvs.org", v.genomic, "")),
					obj("code", cc(sysLOINC, "48004-6", ""), "valueCodeableConcept", cc("http://varnomen.hgvs.org", v.coding, "")),
					obj("code", cc(sysLOINC, "48005-3", ""), "valueCodeableConcept", cc("http://varnomen.hgvs.org", v.p, "")),
					obj("code", cc(sysLOINC, "81258-6", ""), "valueQuantity", obj("value", af, "unit", "fraction", "system", sysUCUM, "code", "1")),
					obj("code", cc(sysLOINC, "48002-0", ""), "valueCodeableConcept", cc(sysLOINC, "LA6684-0", "Somatic")))
				found = append(found, fmt.Sprintf("%s %s (fréquence allélique %d %%)", gene, strings.TrimPrefix(v.p[strings.Index(v.p, ":")+1:], ""), int(af*100)))
			}
			pt.add(obs, "identifier", ident(obs), "status", "final",
				"category", arr(cc("http://terminology.hl7.org/CodeSystem/observation-category", "laboratory", ""), cc("http://terminology.hl7.org/CodeSystem/v2-0074", "GE", "")),
				"code", cc(sysLOINC, "69548-6", "Genetic variant assessment"),
				"subject", patRef, "focus", arr(condRef), "effectiveDateTime", analysed, "performer", arr(platRef),
				"valueCodeableConcept", value, "specimen", specRef, "component", comps)
			results = append(results, obs.ref(false, ""))
		}
		conclusion := "Absence d'altération détectée sur les gènes analysés (" + strings.Join(pan.studied, ", ") + ")."
		if len(found) > 0 {
			conclusion = "Altération(s) détectée(s) : " + strings.Join(found, " ; ") + "."
		}
		pt.add(report, "identifier", ident(report), "basedOn", arr(srRef), "status", "final",
			"category", arr(cc("http://terminology.hl7.org/CodeSystem/v2-0074", "GE", "")),
			"code", cc(sysLOINC, "51969-4", "Genetic analysis report"),
			"subject", patRef, "effectiveDateTime", analysed, "issued", inst(times[5]),
			"performer", arr(platRef), "specimen", arr(specRef), "result", results, "conclusion", conclusion,
			"presentedForm", arr(obj("contentType", "application/pdf", "title", "Compte rendu plateforme", "url", "https://dcc.example.fr/docs/cr-"+report.ID+".pdf")))
		// the report goes before its variants in write order
		pt.out = moveBefore(pt.out, report, pt.out[len(pt.out)-len(genes):])
	}

	// the Task: current state, and the time of every hop in its output
	var outputs []any
	for k, tm := range times {
		outputs = append(outputs, obj("type", cc(csBase+"dcc-cs-circuit-business-status", circuit[k].status, circuit[k].display), "valueDateTime", inst(tm)))
	}
	if report != nil {
		outputs = append(outputs, obj("type", ccText("Compte rendu"), "valueReference", reportRef))
	}
	var period O
	if taskStatus == "completed" || taskStatus == "failed" || taskStatus == "cancelled" {
		period = obj("start", inst(prescribed), "end", inst(last))
	} else {
		period = obj("start", inst(prescribed))
	}
	pt.add(task, "identifier", ident(task), "basedOn", arr(srRef), "status", taskStatus,
		"businessStatus", cc(csBase+"dcc-cs-circuit-business-status", bs.status, bs.display),
		"intent", "order", "code", cc("http://hl7.org/fhir/CodeSystem/task-code", "fulfill", ""),
		"focus", srRef, "for", patRef, "executionPeriod", period,
		"authoredOn", inst(prescribed), "lastModified", inst(last), "requester", refRole, "owner", owner, "output", outputs)

	// secure-messaging notifications along the way
	if len(times) > 1 {
		pt.notify("request-sent", "Demande d'analyse transmise", times[1], patRef, arr(srRef, taskRef), labRef, refRole, arr(srRef),
			"Une demande d'analyse moléculaire vous a été adressée dans le DCC.")
	}
	if len(times) > 2 {
		pt.notify("material-requested", "Matériel tumoral demandé", times[2].Add(-time.Duration(2+r.IntN(20))*time.Hour), patRef, arr(srRef, taskRef), labRef, platRef, arr(srRef),
			"La plateforme de biologie moléculaire attend le matériel tumoral d'une demande.")
	}
	if report != nil {
		pt.notify("results-available", "Résultats d'analyse disponibles", times[5].Add(time.Minute), patRef, arr(reportRef, taskRef), refRole, platRef, arr(srRef),
			"Un résultat d'analyse vous attend dans votre espace sécurisé du DCC.")
	}
	_ = cond
}

// openHours moves t into the labs' working hours (weekdays, 8:00–19:00).
func openHours(t time.Time, minute int) time.Time {
	for k := 0; k < 4; k++ {
		switch {
		case t.Weekday() == time.Saturday || t.Weekday() == time.Sunday || t.Hour() >= 19:
			n := t.AddDate(0, 0, 1)
			t = time.Date(n.Year(), n.Month(), n.Day(), 8, minute, 0, 0, paris)
		case t.Hour() < 8:
			t = time.Date(t.Year(), t.Month(), t.Day(), 8, minute, 0, 0, paris)
		default:
			return t
		}
	}
	return t
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
