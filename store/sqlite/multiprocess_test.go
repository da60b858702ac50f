package sqlite

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dccfhir/dccfhir/store"
	"github.com/dccfhir/dccfhir/store/storetest"
)

// secondProcessEnv names the database a re-executed test binary opens as
// the second process of TestSecondProcess.
const secondProcessEnv = "DCCFHIR_SQLITE_SECOND_PROCESS"

// TestMain lets the test binary act as the second process: what an admin
// command (dccfhir token, client, user, keys) does to the server's file.
func TestMain(m *testing.M) {
	if path := os.Getenv(secondProcessEnv); path != "" {
		if err := secondProcess(path); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// secondProcess opens the store, writes and reads a record, and closes it.
func secondProcess(path string) error {
	s, err := Open(path)
	if err != nil {
		return err
	}
	ctx := context.Background()
	key := fmt.Sprint("k", os.Getpid())
	if err := s.PutRecord(ctx, &store.Record{Kind: "second", Key: key, Value: []byte("v")}); err != nil {
		s.Close()
		return err
	}
	if _, err := s.GetRecord(ctx, "second", key); err != nil {
		s.Close()
		return err
	}
	return s.Close()
}

// TestSecondProcess: a server's store with a large WAL not yet
// checkpointed keeps writing while another process opens the same file,
// writes, and closes it, several times. Every write of the server must
// succeed and stay readable, and the file must stay sound.
func TestSecondProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fhir.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Close() }() // s is reopened at the end
	ctx := context.Background()
	body := []byte(`{"resourceType":"Patient","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">` + strings.Repeat("x", 3000) + `</div>"}}`)
	// ~12 MB of WAL, under the checkpointer's threshold, over several
	// wal-index pages (4096 frames each), as the server's first start
	// leaves it.
	for i := range 40 {
		err := s.Update(ctx, func(tx store.Tx) error {
			for j := range 100 {
				w := storetest.NewWrite("Patient", fmt.Sprintf("big%d-%d", i, j), 1, storetest.At(i), nil)
				w.JSON = body
				if err := tx.Put(ctx, w); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}

	// An admin command while the server is idle leaves the server's WAL
	// to it: no TRUNCATE checkpoint from the second process.
	walSize := func() int64 {
		t.Helper()
		fi, err := os.Stat(path + "-wal")
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	// The token check's commit mark keeps -shm open in this process: it
	// must not cost the process its locks (commitmark.go).
	if _, ok := s.CommitMark(); !ok {
		t.Fatal("no commit mark")
	}
	before := walSize()
	runSecond(t, path)
	if after := walSize(); after < before {
		t.Errorf("WAL %d bytes before the second process, %d after: it checkpointed the server's WAL", before, after)
	}

	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		errs  []error
		acked []string
	)
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 100000; i++ {
			select {
			case <-stop:
				return
			default:
			}
			w := storetest.NewWrite("Patient", fmt.Sprint("w", i), 1, storetest.At(i), nil)
			w.JSON = body
			err := s.Update(ctx, func(tx store.Tx) error { return tx.Put(ctx, w) })
			mu.Lock()
			if err != nil {
				errs = append(errs, fmt.Errorf("write %d: %w", i, err))
			} else {
				acked = append(acked, w.ID)
			}
			mu.Unlock()
			if err != nil && len(errs) > 20 {
				return
			}
		}
	}()
	for range 3 {
		runSecond(t, path)
		time.Sleep(50 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	for i, err := range errs {
		if i == 5 {
			t.Errorf("… %d errors in all", len(errs))
			break
		}
		t.Error(err)
	}
	t.Logf("%d writes during the second processes", len(acked))
	check := func(what string, s *Store) {
		t.Helper()
		for _, id := range acked {
			if _, err := s.Read(ctx, "Patient", id); err != nil {
				t.Fatalf("%s: read of acknowledged write %s: %v", what, id, err)
			}
		}
		var ok string
		if err := s.rdb.QueryRow("PRAGMA integrity_check").Scan(&ok); err != nil || ok != "ok" {
			t.Fatalf("%s: integrity_check: %.300q, %v", what, ok, err)
		}
	}
	check("server", s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// What the file holds, not what the server's cache remembers. (Before
	// the fix, most acknowledged writes were gone and the b-trees pointed
	// at pages never written.)
	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	check("reopened", s)
}

// runSecond runs the test binary as the second process on path.
func runSecond(t *testing.T, path string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), secondProcessEnv+"="+path)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("second process: %v: %s", err, out)
	}
}

// TestCloseAlone: a store that is the file's only user leaves, once
// closed, a database file that alone holds every write (SQLite's
// checkpoint at the last close), and no WAL.
func TestCloseAlone(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "fhir.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		storetest.Put(t, s, storetest.NewWrite("Patient", fmt.Sprint("p", i), 1, storetest.At(i), nil))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() > 0 {
		t.Errorf("WAL of %d bytes left after Close", fi.Size())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	copied := filepath.Join(dir, "copy", "fhir.db")
	if err := os.MkdirAll(filepath.Dir(copied), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(copied, b, 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Open(copied)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range 50 {
		if _, err := c.Read(context.Background(), "Patient", fmt.Sprint("p", i)); err != nil {
			t.Fatalf("copy of the closed file: Patient/p%d: %v", i, err)
		}
	}
}
