package importer

import (
	"bufio"
	"compress/bzip2"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// listFiles expands folders (recursively, in name order) and returns the
// importable files with their total size.
func listFiles(paths []string) ([]string, int64, error) {
	var out []string
	var total int64
	for _, p := range paths {
		err := filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				return nil
			}
			name := strings.TrimSuffix(strings.TrimSuffix(d.Name(), ".gz"), ".bz2")
			if !strings.HasSuffix(name, ".json") && !strings.HasSuffix(name, ".ndjson") && !strings.HasSuffix(name, ".jsonl") {
				return nil
			}
			if fi, err := d.Info(); err == nil {
				total += fi.Size()
			}
			out = append(out, path)
			return nil
		})
		if err != nil {
			return nil, 0, err
		}
	}
	sort.SliceStable(out, func(i, k int) bool { return filepath.Base(out[i]) < filepath.Base(out[k]) })
	return out, total, nil
}

// countingReader counts the bytes read from the file on disk (progress).
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func open(path string) (io.ReadCloser, *countingReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	cr := &countingReader{r: bufio.NewReaderSize(f, 1<<16)}
	var r io.Reader = cr
	switch {
	case strings.HasSuffix(path, ".gz"):
		zr, err := gzip.NewReader(cr)
		if err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		r = zr
	case strings.HasSuffix(path, ".bz2"):
		r = bzip2.NewReader(cr)
	}
	return struct {
		io.Reader
		io.Closer
	}{r, f}, cr, nil
}
