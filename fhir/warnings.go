package fhir

import (
	"context"
	"sync"
)

// Warnings collects, for one request, the issues that validation found in
// the resources it wrote without refusing them (warnings, information), so
// the response can report them (Prefer: return=OperationOutcome, a Bundle
// entry's response.outcome) without validating a second time. It travels in
// the request context: the write hook only returns refusals, and a Bundle
// prepares its entries in parallel, so each note is keyed by the resource
// it belongs to (type and id: validation sees meta.versionId as the client
// sent it, not the version the server then writes). Safe for concurrent use.
type Warnings struct {
	mu sync.Mutex
	m  map[string][]Issue
}

type warningsKey struct{}

// WithWarnings returns ctx carrying a new collector, and the collector.
func WithWarnings(ctx context.Context) (context.Context, *Warnings) {
	w := &Warnings{}
	return context.WithValue(ctx, warningsKey{}, w), w
}

// WarningsFrom returns the collector ctx carries, nil when none.
func WarningsFrom(ctx context.Context) *Warnings {
	w, _ := ctx.Value(warningsKey{}).(*Warnings)
	return w
}

// NoteWarnings records issues for typ/id when ctx carries a collector (a
// later note for the same resource replaces the earlier one: a retried
// write validates again; a batch writing one resource twice reports the
// last write's warnings on both entries). Without a collector it does nothing, so
// writers that report no outcome (the importer, start-up) pay nothing.
func NoteWarnings(ctx context.Context, typ, id string, issues []Issue) {
	w := WarningsFrom(ctx)
	if w == nil || len(issues) == 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.m == nil {
		w.m = map[string][]Issue{}
	}
	w.m[typ+"/"+id] = issues
}

// For returns the issues noted for typ/id (nil on a nil collector).
func (w *Warnings) For(typ, id string) []Issue {
	if w == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.m[typ+"/"+id]
}
