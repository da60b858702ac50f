package importer

import (
	"errors"
	"io/fs"
	"os"
	"strings"
	"sync"
)

// journal records completed units, one key per line, each append fsynced
// so that what it says survives a crash.
type journal struct {
	mu   sync.Mutex
	f    *os.File
	seen map[string]bool
}

func openJournal(path string) (*journal, error) {
	j := &journal{seen: map[string]bool{}}
	if data, err := os.ReadFile(path); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if l != "" {
				j.seen[l] = true
			}
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	j.f = f
	return j, nil
}

func (j *journal) has(key string) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.seen[key]
}

func (j *journal) add(key string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.seen[key] = true
	if _, err := j.f.WriteString(key + "\n"); err != nil {
		return err
	}
	return j.f.Sync()
}

func (j *journal) close() error { return j.f.Close() }
