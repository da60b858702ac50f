package store

import (
	"context"

	"github.com/dccfhir/dccfhir/fhir/search/query"
)

// Explainer is implemented by engines that can say how they answer a
// query, for __explain: Explain compiles q as Search would and reports
// what it would run, without reading the page. Where compiling itself
// reads (the MongoDB engine resolving chains to id sets), it does so again.
type Explainer interface {
	Explain(ctx context.Context, q *query.Query) (*Explanation, error)
}

// Explanation is an engine's account of one query: notes in the order the
// engine works, each with a short label ("sql", "query plan", "filter",
// "id set") so a reader can find the one they need.
type Explanation struct {
	Engine string // "sqlite", "mongodb"
	Notes  []Note
}

// Note is one item of an Explanation.
type Note struct{ Label, Text string }

// Add appends a note.
func (e *Explanation) Add(label, text string) { e.Notes = append(e.Notes, Note{label, text}) }
