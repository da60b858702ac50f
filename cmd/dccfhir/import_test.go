package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGenerateImport drives the two subcommands as a user would: generate a
// small region as gzipped NDJSON, import it straight into SQLite, import it
// again (the journal skips everything), and check the flags are checked.
func TestGenerateImport(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "region")
	if err := runGenerate([]string{"--patients", "12", "--seed", "3", "--format", "ndjson", "--gzip", "--out", out}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(out, "Patient.ndjson.gz")); err != nil {
		t.Fatal(err)
	}
	db := "sqlite:" + filepath.Join(dir, "db.sqlite")
	for i := 0; i < 2; i++ {
		if err := runImport([]string{"--storage", db, "--workers", "2", out}); err != nil {
			t.Fatalf("import %d: %v", i, err)
		}
	}
	journal, err := os.ReadFile(out + ".import-journal")
	if err != nil || !strings.Contains(string(journal), "Patient.ndjson.gz#1-12") {
		t.Fatalf("journal: %v\n%s", err, journal)
	}
	if err := runImport([]string{out}); err == nil {
		t.Error("import without --server or --storage accepted")
	}
	if err := runGenerate([]string{"--patients", "1"}); err == nil {
		t.Error("generate without --out or --server accepted")
	}
	if err := runBench([]string{"--duration", "1s"}); err == nil {
		t.Error("bench without --server accepted")
	}
}
