package fhir

import (
	"context"
	"sync"
	"testing"
)

func TestWarnings(t *testing.T) {
	is := []Issue{{Severity: "warning", Code: "not-supported", Diagnostics: "x"}}
	NoteWarnings(context.Background(), "Patient", "p", "1", is) // no collector: nothing happens
	if WarningsFrom(context.Background()).For("Patient", "p", "1") != nil {
		t.Fatal("a nil collector holds something")
	}
	ctx, w := WithWarnings(context.Background())
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ { // a Bundle prepares its entries in parallel
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			NoteWarnings(ctx, "Patient", string(rune('a'+i)), "1", is)
		}(i)
	}
	wg.Wait()
	if got := w.For("Patient", "c", "1"); len(got) != 1 || got[0].Diagnostics != "x" {
		t.Errorf("For: %v", got)
	}
	if w.For("Patient", "c", "2") != nil || w.For("Observation", "c", "1") != nil {
		t.Error("issues noted for another version or type")
	}
	if WarningsFrom(ctx) != w {
		t.Error("WarningsFrom does not return the collector")
	}
}
