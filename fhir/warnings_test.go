package fhir

import (
	"context"
	"sync"
	"testing"
)

func TestWarnings(t *testing.T) {
	is := []Issue{{Severity: "warning", Code: "not-supported", Diagnostics: "x"}}
	NoteWarnings(context.Background(), "Patient", "p", is) // no collector: nothing happens
	if WarningsFrom(context.Background()).For("Patient", "p") != nil {
		t.Fatal("a nil collector holds something")
	}
	ctx, w := WithWarnings(context.Background())
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ { // a Bundle prepares its entries in parallel
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			NoteWarnings(ctx, "Patient", string(rune('a'+i)), is)
		}(i)
	}
	wg.Wait()
	if got := w.For("Patient", "c"); len(got) != 1 || got[0].Diagnostics != "x" {
		t.Errorf("For: %v", got)
	}
	if w.For("Patient", "d") == nil || w.For("Observation", "c") != nil {
		t.Error("issues noted for another resource or type")
	}
	if WarningsFrom(ctx) != w {
		t.Error("WarningsFrom does not return the collector")
	}
}
