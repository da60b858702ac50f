package fhirpath

import "testing"

var benchExprs = []struct{ typ, name, expr string }{
	{"Patient", "name", "Patient.name"},
	{"Patient", "family", "Patient.name.family"},
	{"Patient", "identifier", "Patient.identifier"},
	{"Patient", "birthdate", "Patient.birthDate | Person.birthDate | RelatedPerson.birthDate"},
	{"Patient", "phone", "Patient.telecom.where(system='phone') | Person.telecom.where(system='phone')"},
	{"Patient", "organization", "Patient.managingOrganization"},
	{"Patient", "deceased", "Patient.deceased.exists() and Patient.deceased != false"},
	{"Observation", "code", "AllergyIntolerance.code | AllergyIntolerance.reaction.substance | Condition.code | (DeviceRequest.code as CodeableConcept) | DiagnosticReport.code | FamilyMemberHistory.condition.code | List.code | Medication.code | (MedicationAdministration.medication as CodeableConcept) | (MedicationDispense.medication as CodeableConcept) | (MedicationRequest.medication as CodeableConcept) | (MedicationStatement.medication as CodeableConcept) | Observation.code | Procedure.code | ServiceRequest.code"},
	{"Observation", "patient", "Observation.subject.where(resolve() is Patient)"},
	{"Observation", "value-quantity", "(Observation.value as Quantity) | (Observation.value as SampledData)"},
	{"Observation", "date", "Observation.effective"},
}

func BenchmarkSearchExpressions(b *testing.B) {
	pkg := r4Package(b)
	roots := map[string]map[string]any{
		"Patient":     decode(b, pkg["Patient-example.json"]),
		"Observation": decode(b, pkg["Observation-example.json"]),
	}
	for _, be := range benchExprs {
		x := MustCompile(be.expr)
		root := roots[be.typ]
		b.Run(be.typ+"/"+be.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := x.Evaluate(root, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkCompile(b *testing.B) {
	for b.Loop() {
		_, _ = Compile("Patient.telecom.where(system='phone') | Person.telecom.where(system='phone')")
	}
}
