package service

import (
	"context"
	"errors"
	"time"

	"github.com/dccfhir/dccfhir/fhir/search/query"
	"github.com/dccfhir/dccfhir/store"
)

// The prepared-ahead plan: a speculation, and the only reason a Bundle is
// placed twice.
//
// Preparing a resource (decoding, validating, indexing) is most of the CPU
// of a write. Done inside the storage transaction, it would hold the single
// writer of the embedded engine all that time, so concurrent Bundles (an
// import's workers) would queue behind each other's validation instead of
// overlapping it. So planAhead places the entries on the committed state
// (through committed, a Tx that writes nothing) and prepares the creates
// before the transaction begins; inside it, runEntries places them again on
// the state it now holds, and uses what was prepared only when same says
// the placing came to the same matches, PUT ids and conditional references,
// that is to byte-identical resources. When another writer changed the
// answer in between, the creates are prepared again inside the transaction:
// correctness never rests on the guess (TestBundleReplannedWhenStateChanged),
// only the speed does (TestBundlePreparedOutsideTransaction).

// ahead is a Bundle's creates prepared before its storage transaction.
type ahead struct {
	// newIDs are the ids chosen for the resources to create, which the
	// transaction reuses so that what was prepared can still serve. The
	// ids of the other POSTs are their matches, in pending.
	newIDs map[int]string
	putIDs map[int]string // entry index → id of each PUT
	cond   map[string]string
	// pending are the entries whose ifNoneExist matched, by matched id.
	pending map[int]string
	creates []preparedCreate // by position in placement.creates
}

// planAhead places the entries on the committed state and prepares the
// creates, outside any write transaction. It returns nil when there is
// nothing to gain or placing fails (the transaction then reports why).
func (s *Service) planAhead(ctx context.Context, es []*entry, now time.Time) *ahead {
	n := 0
	for _, e := range es {
		if e.method == "POST" {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	cp := make([]*entry, len(es))
	for i, e := range es {
		c := *e
		cp[i] = &c
	}
	p, err := s.place(ctx, committed{s.Store}, cp, nil)
	if err != nil {
		return nil
	}
	ah := &ahead{newIDs: map[int]string{}, putIDs: map[int]string{}, cond: p.cond, pending: map[int]string{}}
	for _, e := range cp {
		if e.method == "PUT" {
			ah.putIDs[e.index] = e.id
		}
		if r := p.pending[e.index]; r != nil {
			ah.pending[e.index] = r.Resource.ID
		}
	}
	creates := p.creates(cp)
	for _, e := range creates {
		ah.newIDs[e.index] = e.id
	}
	ah.creates = s.prepareCreates(ctx, creates, now)
	return ah
}

// same reports whether placing es inside the transaction (p) came to what
// planAhead found: the same ifNoneExist matches, PUT ids and conditional
// references (the new resources take newIDs either way), hence byte for
// byte the same resources to write.
func (ah *ahead) same(es []*entry, p *placement) bool {
	if len(p.cond) != len(ah.cond) || len(p.pending) != len(ah.pending) {
		return false
	}
	for ref, to := range p.cond {
		if ah.cond[ref] != to {
			return false
		}
	}
	for i, r := range p.pending {
		if ah.pending[i] != r.Resource.ID {
			return false
		}
	}
	for _, e := range es {
		if e.method == "PUT" && ah.putIDs[e.index] != e.id {
			return false
		}
	}
	return true
}

// committed is the store as a Tx that writes nothing, for planAhead: its
// reads see what is committed; Lock has nothing to hold since nothing is
// decided for good there.
type committed struct{ store.Reader }

var errPlanOnly = errors.New("service: planning reads only")

func (committed) Put(context.Context, *store.Write) error { return errPlanOnly }
func (committed) Lock(context.Context, string) error      { return nil }
func (committed) Reindex(context.Context, string, string, int64, *query.Index) error {
	return errPlanOnly
}
