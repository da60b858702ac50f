package importer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/service"
)

// Entry is what one written resource came to.
type Entry struct {
	Type   string
	Status int
	// Outcome is the OperationOutcome of a failed entry (JSON).
	Outcome []byte
}

// Failure is a request the server refused as a whole (a transaction with a
// bad entry, a malformed Bundle): its status and OperationOutcome.
type Failure struct {
	Status  int
	Outcome []byte
}

func (f *Failure) Error() string {
	return fmt.Sprintf("status %d: %s", f.Status, clip(f.Outcome, 600))
}

// Sink is where resources go: a FHIR server over HTTP, or a storage engine
// through the service directly.
type Sink interface {
	// Bundle posts a batch or transaction Bundle and returns one Entry per
	// request entry.
	Bundle(ctx context.Context, body []byte) ([]Entry, error)
	// Put writes a resource with its id (update or create).
	Put(ctx context.Context, typ, id string, body []byte) (Entry, error)
	// Create posts a resource; ifNoneExist, when set, makes it conditional.
	Create(ctx context.Context, typ string, body []byte, ifNoneExist string) (Entry, error)
}

// HTTPSink talks to a FHIR server.
type HTTPSink struct {
	Base   string // FHIR base URL, e.g. http://127.0.0.1:8080/fhir
	Client *http.Client
}

// NewHTTPSink returns a sink for base with a client sized for workers
// concurrent requests.
func NewHTTPSink(base string, workers int) *HTTPSink {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = max(workers, 2)
	return &HTTPSink{Base: strings.TrimRight(base, "/"), Client: &http.Client{Transport: tr, Timeout: 10 * time.Minute}}
}

func (s *HTTPSink) do(ctx context.Context, method, url string, body []byte, hdr ...string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/fhir+json")
	req.Header.Set("Accept", "application/fhir+json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := s.Client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, b, err
}

// Bundle implements Sink.
func (s *HTTPSink) Bundle(ctx context.Context, body []byte) ([]Entry, error) {
	st, resp, err := s.do(ctx, http.MethodPost, s.Base, body, "Prefer", "return=minimal")
	if err != nil {
		return nil, err
	}
	if st >= 300 {
		return nil, &Failure{Status: st, Outcome: resp}
	}
	var b struct {
		Entry []struct {
			Response struct {
				Status   string          `json:"status"`
				Location string          `json:"location"`
				Outcome  json.RawMessage `json:"outcome"`
			} `json:"response"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(resp, &b); err != nil {
		return nil, fmt.Errorf("bundle response: %w", err)
	}
	out := make([]Entry, len(b.Entry))
	for i, e := range b.Entry {
		code, _, _ := strings.Cut(e.Response.Status, " ")
		out[i].Status, _ = strconv.Atoi(code)
		if parts := strings.Split(e.Response.Location, "/"); len(parts) >= 4 && parts[len(parts)-2] == "_history" {
			out[i].Type = parts[len(parts)-4]
		}
		if out[i].Status >= 300 {
			out[i].Outcome = e.Response.Outcome
		}
	}
	return out, nil
}

// Put implements Sink.
func (s *HTTPSink) Put(ctx context.Context, typ, id string, body []byte) (Entry, error) {
	st, resp, err := s.do(ctx, http.MethodPut, s.Base+"/"+typ+"/"+id, body, "Prefer", "return=minimal")
	return httpEntry(typ, st, resp, err)
}

// Create implements Sink.
func (s *HTTPSink) Create(ctx context.Context, typ string, body []byte, ifNoneExist string) (Entry, error) {
	hdr := []string{"Prefer", "return=minimal"}
	if ifNoneExist != "" {
		hdr = append(hdr, "If-None-Exist", ifNoneExist)
	}
	st, resp, err := s.do(ctx, http.MethodPost, s.Base+"/"+typ, body, hdr...)
	return httpEntry(typ, st, resp, err)
}

func httpEntry(typ string, st int, resp []byte, err error) (Entry, error) {
	if err != nil {
		return Entry{}, err
	}
	e := Entry{Type: typ, Status: st}
	if st >= 300 {
		if st >= 500 || st == 429 {
			return e, &Failure{Status: st, Outcome: resp}
		}
		e.Outcome = resp
	}
	return e, nil
}

// ServiceSink writes through the FHIR service straight into a storage engine,
// with the same validation and bundle semantics as the server.
type ServiceSink struct{ Svc *service.Service }

// Bundle implements Sink.
func (s ServiceSink) Bundle(ctx context.Context, body []byte) ([]Entry, error) {
	_, results, err := s.Svc.Bundle(ctx, body, service.BundleOptions{})
	if err != nil {
		return nil, asFailure(err)
	}
	out := make([]Entry, len(results))
	for i, r := range results {
		out[i].Status = r.Status
		if r.Resource != nil {
			out[i].Type = r.Resource.Type
		} else {
			out[i].Type, _, _ = strings.Cut(strings.TrimPrefix(r.Request.URL, "/"), "/")
			out[i].Type, _, _ = strings.Cut(out[i].Type, "?")
		}
		if r.Status >= 300 {
			out[i].Outcome = fhir.Outcome(r.Outcome)
		}
	}
	return out, nil
}

// Put implements Sink.
func (s ServiceSink) Put(ctx context.Context, typ, id string, body []byte) (Entry, error) {
	r, err := s.Svc.Update(ctx, typ, id, body, service.Preconditions{})
	return svcEntry(typ, r, err)
}

// Create implements Sink.
func (s ServiceSink) Create(ctx context.Context, typ string, body []byte, ifNoneExist string) (Entry, error) {
	r, err := s.Svc.Create(ctx, typ, body, service.Preconditions{IfNoneExist: ifNoneExist})
	return svcEntry(typ, r, err)
}

func svcEntry(typ string, r *service.Result, err error) (Entry, error) {
	if err != nil {
		f := asFailure(err)
		var ff *Failure
		if errors.As(f, &ff) && ff.Status < 500 {
			return Entry{Type: typ, Status: ff.Status, Outcome: ff.Outcome}, nil
		}
		return Entry{}, f
	}
	return Entry{Type: typ, Status: r.Status}, nil
}

func asFailure(err error) error {
	var fe *fhir.Error
	if errors.As(err, &fe) {
		return &Failure{Status: fe.Status, Outcome: fhir.Outcome(fe.Issues)}
	}
	return err
}

func clip(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}
