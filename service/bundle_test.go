package service

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/fhir/search"
	"github.com/dccfhir/dccfhir/store"
	"github.com/dccfhir/dccfhir/store/sqlite"
)

// hooked is the real embedded engine with a hook run when a write
// transaction begins (another client's write landing between planAhead and
// the transaction), and a flag telling the validator it runs inside one.
type hooked struct {
	store.Store
	before func()
	inTx   atomic.Bool
}

func (h *hooked) Update(ctx context.Context, fn func(store.Tx) error) error {
	if h.before != nil {
		b := h.before
		h.before = nil
		b()
	}
	return h.Store.Update(ctx, func(tx store.Tx) error {
		h.inTx.Store(true)
		defer h.inTx.Store(false)
		return fn(tx)
	})
}

func newHooked(t *testing.T) (*Service, *hooked, *atomic.Int64) {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := &hooked{Store: st}
	s := New(h, search.Default())
	var inside atomic.Int64 // validations run inside a write transaction
	s.Validate = func(ctx context.Context, typ string, res map[string]any) ([]fhir.Issue, *fhir.Error) {
		if h.inTx.Load() {
			inside.Add(1)
		}
		return BaseValidate(ctx, typ, res)
	}
	return s, h, &inside
}

func mustCreate(t *testing.T, s *Service, body string) string {
	t.Helper()
	r, err := s.Create(context.Background(), "Patient", []byte(body), Preconditions{})
	if err != nil {
		t.Fatal(err)
	}
	return r.Resource.ID
}

// obsSubject is the subject reference of the Observation a Bundle created.
func obsSubject(t *testing.T, s *Service, res []EntryResult) string {
	t.Helper()
	for _, r := range res {
		if r.Resource != nil && r.Resource.Type == "Observation" {
			var o struct {
				Subject struct{ Reference string } `json:"subject"`
			}
			if err := json.Unmarshal(r.Resource.JSON, &o); err != nil {
				t.Fatal(err)
			}
			return o.Subject.Reference
		}
	}
	t.Fatal("no Observation in the results")
	return ""
}

const obs = `{"fullUrl": "urn:uuid:22222222-2222-2222-2222-222222222222", "request": {"method": "POST", "url": "Observation"},
  "resource": {"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "subject": {"reference": "SUBJECT"}}}`

// TestBundlePreparedOutsideTransaction: the creates of a transaction are
// validated before the write transaction begins, not while holding it.
func TestBundlePreparedOutsideTransaction(t *testing.T) {
	s, _, inside := newHooked(t)
	body := `{"resourceType": "Bundle", "type": "transaction", "entry": [
	  {"fullUrl": "urn:uuid:11111111-1111-1111-1111-111111111111", "request": {"method": "POST", "url": "Patient"},
	   "resource": {"resourceType": "Patient", "identifier": [{"system": "urn:s", "value": "a"}]}},
	  ` + strings.Replace(obs, "SUBJECT", "urn:uuid:11111111-1111-1111-1111-111111111111", 1) + `]}`
	_, res, err := s.Bundle(context.Background(), []byte(body), BundleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n := inside.Load(); n != 0 {
		t.Errorf("%d resources validated inside the write transaction, want 0", n)
	}
	if got, want := obsSubject(t, s, res), "Patient/"+res[0].Resource.ID; got != want {
		t.Errorf("subject %q, want %q", got, want)
	}
}

// TestBundleReplannedWhenStateChanged: a write landing between the
// preparation and the transaction changes what the entries resolve to; the
// transaction must follow the state it sees, not the prepared guess.
func TestBundleReplannedWhenStateChanged(t *testing.T) {
	ctx := context.Background()
	t.Run("ifNoneExist now matches", func(t *testing.T) {
		s, h, _ := newHooked(t)
		var other string
		h.before = func() {
			other = mustCreate(t, s, `{"resourceType": "Patient", "identifier": [{"system": "urn:s", "value": "b"}]}`)
		}
		body := `{"resourceType": "Bundle", "type": "transaction", "entry": [
		  {"fullUrl": "urn:uuid:11111111-1111-1111-1111-111111111111", "request": {"method": "POST", "url": "Patient", "ifNoneExist": "identifier=urn:s|b"},
		   "resource": {"resourceType": "Patient", "identifier": [{"system": "urn:s", "value": "b"}]}},
		  ` + strings.Replace(obs, "SUBJECT", "urn:uuid:11111111-1111-1111-1111-111111111111", 1) + `]}`
		_, res, err := s.Bundle(ctx, []byte(body), BundleOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if res[0].Status != 200 || res[0].Resource.ID != other {
			t.Fatalf("Patient entry: status %d id %v, want 200 and the Patient created meanwhile (%s)", res[0].Status, res[0].Resource, other)
		}
		if got := obsSubject(t, s, res); got != "Patient/"+other {
			t.Fatalf("subject %q, want Patient/%s", got, other)
		}
	})
	t.Run("conditional reference now matches another", func(t *testing.T) {
		s, h, _ := newHooked(t)
		first := mustCreate(t, s, `{"resourceType": "Patient", "identifier": [{"system": "urn:s", "value": "c"}]}`)
		var second string
		h.before = func() {
			if _, err := s.Delete(ctx, "Patient", first, Preconditions{}); err != nil {
				t.Fatal(err)
			}
			second = mustCreate(t, s, `{"resourceType": "Patient", "identifier": [{"system": "urn:s", "value": "c"}]}`)
		}
		body := `{"resourceType": "Bundle", "type": "transaction", "entry": [
		  ` + strings.Replace(obs, "SUBJECT", "Patient?identifier=urn:s|c", 1) + `]}`
		_, res, err := s.Bundle(ctx, []byte(body), BundleOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := obsSubject(t, s, res); got != "Patient/"+second {
			t.Fatalf("subject %q, want Patient/%s (the one matching when the transaction ran, not %s)", got, second, first)
		}
	})
}
