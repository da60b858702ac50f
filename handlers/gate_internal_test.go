package handlers

import (
	"net/http/httptest"
	"testing"
)

// TestRequestPatient: the one patient a break-the-glass request opens.
func TestRequestPatient(t *testing.T) {
	for _, tc := range []struct{ path, query, want string }{
		{"/Patient/p1", "", "p1"},
		{"/Patient/p1/_history/2", "", "p1"},
		{"/Patient/p1/$everything", "", "p1"},
		{"/Patient/p1/Observation", "code=x", "p1"},
		{"/Patient", "_id=p1", ""},
		{"/Patient/_search", "", ""},
		{"/Patient/$match", "", ""},
		{"/Observation", "patient=p1", "p1"},
		{"/Observation", "patient=Patient/p1", "p1"},
		{"/Observation", "subject=Patient/p1&patient=p1", "p1"},
		{"/Observation", "subject=Patient/p1&patient=p2", ""},
		{"/Observation", "patient=p1,p2", ""},
		{"/Observation", "subject=Group/g1", ""},
		{"/Observation", "subject=p1", ""}, // untyped subject: not necessarily a Patient
		{"/Observation", "subject:Patient=p1", "p1"},
		{"/Observation", "code=x", ""},
		{"/Observation/o1", "", ""},
		{"/Patient/a%20b", "", ""},
		{"/Observation", "patient=a%20b", ""},
		{"/Observation", "patient=Patient/x/_history/1", ""},
	} {
		req := httptest.NewRequest("GET", "/fhir"+tc.path+"?"+tc.query, nil)
		if got := requestPatient(tc.path, req); got != tc.want {
			t.Errorf("%s?%s: %q, want %q", tc.path, tc.query, got, tc.want)
		}
	}
}
