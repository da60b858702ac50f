package service_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"testing"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/service"
)

// careRefusal is the Refusal of a professional's grant (package access
// builds its own).
var careRefusal = fhir.Errorf(403, "forbidden", "", "not in your care circle, or does not exist")

// TestAccessRefusal: under a grant with a Refusal, every read that the
// grant hides answers it — of a resource outside the grant, absent,
// deleted, of a missing or malformed version — byte for byte the same,
// so the answer tells nothing apart; without a Refusal the same cases
// answer the 404 of an unknown resource, in words naming the resource.
func TestAccessRefusal(t *testing.T) {
	const amend = `[{"op":"replace","path":"/status","value":"amended"}]`
	get := func(u string) func(context.Context, *service.Service) error {
		return func(ctx context.Context, s *service.Service) error {
			_, res, err := s.Bundle(ctx, bundleOf("batch", ent("GET", u, "")), service.BundleOptions{})
			if err != nil {
				return err
			}
			if res[0].Status == 200 {
				return nil
			}
			return &fhir.Error{Status: res[0].Status, Issues: res[0].Outcome}
		}
	}
	cases := []struct {
		name string
		do   func(context.Context, *service.Service) error
	}{
		{"read outside the grant", func(ctx context.Context, s *service.Service) error {
			_, err := s.Read(ctx, "Observation", "o2")
			return err
		}},
		{"read of an absent id", func(ctx context.Context, s *service.Service) error {
			_, err := s.Read(ctx, "Observation", "nope")
			return err
		}},
		{"read of a deleted resource of the patient's", func(ctx context.Context, s *service.Service) error {
			_, err := s.Read(ctx, "Observation", "o10")
			return err
		}},
		{"vread outside the grant", func(ctx context.Context, s *service.Service) error {
			_, err := s.VRead(ctx, "Observation", "o2", "1")
			return err
		}},
		{"vread of a missing version", func(ctx context.Context, s *service.Service) error {
			_, err := s.VRead(ctx, "Observation", "o1", "7")
			return err
		}},
		{"vread of a malformed version", func(ctx context.Context, s *service.Service) error {
			_, err := s.VRead(ctx, "Observation", "o1", "x")
			return err
		}},
		{"vread of a deletion", func(ctx context.Context, s *service.Service) error {
			_, err := s.VRead(ctx, "Observation", "o10", "2")
			return err
		}},
		{"history outside the grant", func(ctx context.Context, s *service.Service) error {
			_, err := s.History(ctx, "Observation", "o2", nil)
			return err
		}},
		{"history of an absent id", func(ctx context.Context, s *service.Service) error {
			_, err := s.History(ctx, "Observation", "nope", nil)
			return err
		}},
		{"$everything outside the grant", func(ctx context.Context, s *service.Service) error {
			_, err := s.Everything(ctx, "p2", url.Values{})
			return err
		}},
		{"$everything of an absent patient", func(ctx context.Context, s *service.Service) error {
			_, err := s.Everything(ctx, "nope", url.Values{})
			return err
		}},
		{"patch of an absent id", func(ctx context.Context, s *service.Service) error {
			_, err := s.Patch(ctx, "Observation", "nope", service.JSONPatch, []byte(amend), service.Preconditions{})
			return err
		}},
		{"patch of a deleted resource", func(ctx context.Context, s *service.Service) error {
			_, err := s.Patch(ctx, "Observation", "o11", service.JSONPatch, []byte(amend), service.Preconditions{})
			return err
		}},
		{"batch GET outside the grant", get("Observation/o2")},
		{"batch GET of an absent id", get("Observation/nope")},
		{"batch GET of a missing version", get("Observation/o1/_history/7")},
	}
	issues := func(err error) string {
		var fe *fhir.Error
		if !errors.As(err, &fe) {
			t.Fatalf("not a client error: %v", err)
		}
		b, _ := json.Marshal(struct {
			S int
			I []fhir.Issue
		}{fe.Status, fe.Issues})
		return string(b)
	}
	want := issues(careRefusal)
	f := newFixture(t, engines()[0])
	storeAccessData(t, f.svc, deleted...)
	refusing := circle("p1")
	refusing.Refusal = careRefusal
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := issues(c.do(service.WithAccess(context.Background(), fixed{refusing}), f.svc)); got != want {
				t.Errorf("under a Refusal: %s, want %s", got, want)
			}
			err := c.do(service.WithAccess(context.Background(), fixed{circle("p1")}), f.svc)
			var fe *fhir.Error
			if !errors.As(err, &fe) || fe.Status != 404 {
				t.Errorf("without a Refusal: %v, want the 404 of an unknown resource", err)
			}
		})
	}
	// the control: what the grant allows is read
	ctx := service.WithAccess(context.Background(), fixed{refusing})
	if _, err := f.svc.Read(ctx, "Observation", "o1"); err != nil {
		t.Errorf("read within the grant: %v", err)
	}
	if _, err := f.svc.Everything(ctx, "p1", url.Values{}); err != nil {
		t.Errorf("$everything within the grant: %v", err)
	}
}
