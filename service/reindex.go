package service

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/fhir/search"
	"github.com/dccfhir/dccfhir/fhir/search/query"
	"github.com/dccfhir/dccfhir/store"
)

// customParams remembers which stored SearchParameter (by id) registered
// which canonical URL, so deleting the resource unregisters it.
type customParams struct {
	mu   sync.Mutex
	byID map[string]string
	jobs sync.Map // id → *Job
}

// checkSearchParameter refuses a SearchParameter the server could not use.
func (s *Service) checkSearchParameter(res map[string]any) error {
	if _, err := s.Params.ParamsFromResource(res); err != nil {
		if fe, ok := isClientErr(err); ok {
			return fe
		}
		return fhir.Errorf(422, "processing", "SearchParameter", "unusable SearchParameter: %v", err)
	}
	return nil
}

// LoadSearchParameters registers every stored SearchParameter, at start.
func (s *Service) LoadSearchParameters(ctx context.Context) (int, error) {
	q := &query.Query{Types: []string{"SearchParameter"}, Count: 500}
	n := 0
	for {
		res, err := s.Store.Search(ctx, q)
		if err != nil {
			return n, err
		}
		s.afterCommit(res.Resources...)
		n += len(res.Resources)
		if res.Next == "" {
			return n, nil
		}
		q.Page = res.Next
	}
}

// Job is an asynchronous $reindex: its state is read by the status endpoint.
type Job struct {
	ID      string
	Types   []string
	Started time.Time
	// Done counts resources reindexed; Skipped those changed meanwhile
	// (their own write indexed them).
	Done, Skipped atomic.Int64
	finished      atomic.Pointer[time.Time]
	err           atomic.Pointer[string]
}

// Finished reports when the job ended (zero while it runs) and its error.
func (j *Job) Finished() (time.Time, string) {
	var t time.Time
	if p := j.finished.Load(); p != nil {
		t = *p
	}
	var e string
	if p := j.err.Load(); p != nil {
		e = *p
	}
	return t, e
}

// MayReindex refuses (403) $reindex, and the status of its jobs, to a
// caller without system/*.u: StartReindex asks it, and the handler of a
// job's status, which reads no store, asks it alone.
func MayReindex(ctx context.Context) error {
	return mayRewriteIndex(ctx, "$reindex, which rewrites the index of every resource")
}

// StartReindex re-extracts the search index of every current resource of
// types (all types when empty) in the background, so SearchParameters
// added since those resources were written apply to them too. Jobs live in
// memory: after a restart, start it again (it is idempotent). It rewrites
// every resource's index whatever the caller may see, so it needs an
// unconfined, unrestricted update grant on every type (system/*.u).
func (s *Service) StartReindex(ctx context.Context, types []string) (*Job, error) {
	if err := MayReindex(ctx); err != nil {
		return nil, err
	}
	for _, t := range types {
		if !fhir.KnownType(t) {
			return nil, fhir.Errorf(400, "not-supported", "", "unknown resource type %q", t)
		}
	}
	if len(types) == 0 {
		types = fhir.ResourceTypes
	}
	j := &Job{ID: uuid.NewString(), Types: types, Started: time.Now().UTC()}
	s.custom.jobs.Store(j.ID, j)
	go func() {
		err := s.reindex(context.Background(), j)
		now := time.Now().UTC()
		if err != nil {
			msg := err.Error()
			j.err.Store(&msg)
		}
		j.finished.Store(&now)
	}()
	return j, nil
}

// Job returns a $reindex job by id.
func (s *Service) Job(id string) (*Job, bool) {
	v, ok := s.custom.jobs.Load(id)
	if !ok {
		return nil, false
	}
	return v.(*Job), true
}

func (s *Service) reindex(ctx context.Context, j *Job) error {
	for _, t := range j.Types {
		q := &query.Query{Types: []string{t}, Count: 500}
		for {
			res, err := s.Store.Search(ctx, q)
			if err != nil {
				return err
			}
			if len(res.Resources) > 0 {
				err = s.Store.Update(ctx, func(tx store.Tx) error {
					for _, r := range res.Resources {
						tree, err := fhir.DecodeStored(r.JSON)
						if err != nil {
							return err
						}
						idx, err := search.ExtractLocal(s.Params, r.Type, tree, s.BaseURL)
						if err != nil {
							return err
						}
						switch err := tx.Reindex(ctx, r.Type, r.ID, r.Version, idx); {
						case errors.Is(err, store.ErrConflict):
							j.Skipped.Add(1)
						case err != nil:
							return err
						default:
							j.Done.Add(1)
						}
					}
					return nil
				})
				if err != nil {
					return err
				}
			}
			if res.Next == "" {
				break
			}
			q.Page = res.Next
		}
	}
	return nil
}

// ParseTypes reads a comma-separated list of resource types.
func ParseTypes(v string) []string {
	var out []string
	for _, t := range strings.Split(v, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}
