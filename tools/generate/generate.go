// Package generate makes a synthetic regional cancer network in FHIR R4, in
// the DCC profiles: establishments, labs and platforms (FINESS),
// practitioners (RPPS, MSSanté), tumour boards and their sessions, and for
// each patient a qualified identity (INS test identifier), a primary cancer
// with its TNM stage, the tumour-board case with its form and report, a PPS
// for some, and the molecular-analysis circuit (request, specimen, tracking
// Task, genomic report with variants, notifications).
//
// The output depends on the seed only: every patient draws from its own PCG
// stream keyed by (seed, patient number), ids are name-based UUIDs of
// (seed, key), and JSON is written member by member in a fixed order. So the
// same seed gives byte-identical files, and patient i is the same whatever N.
//
// Two layouts: transaction Bundles (one per patient, urn:uuid: references
// inside, conditional references to the shared resources, which come first
// in batch Bundles named 0-*.json that create them conditionally on their
// identifiers), or NDJSON per resource type with ids and Type/id references.
package generate

import (
	"bufio"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
)

// DefaultPatients is the reference region's number of distinct patients.
const DefaultPatients = 27069

// MaxPatients bounds N: the INS test matricule carries the patient number
// in six digits.
const MaxPatients = 999_998

// Config says what to generate.
type Config struct {
	Patients int
	Seed     uint64
}

// Generator builds the region and its patients.
type Generator struct {
	cfg    Config
	region *Region
}

// New builds the shared region for cfg.
func New(cfg Config) (*Generator, error) {
	if cfg.Patients < 0 || cfg.Patients > MaxPatients {
		return nil, fmt.Errorf("patients: %d is out of range 0..%d", cfg.Patients, MaxPatients)
	}
	return &Generator{cfg: cfg, region: newRegion(cfg.Seed)}, nil
}

// Patients is N.
func (g *Generator) Patients() int { return g.cfg.Patients }

// SharedGroups returns the shared resources in the order they must be
// written, one group per batch file: organisations, practitioners, roles,
// forms, then the board sessions the patients use.
func (g *Generator) SharedGroups() [][]*Resource {
	reg := g.region
	var orgs, pracs, roles []*Resource
	for _, list := range [][]*org{reg.orgs, reg.labs, reg.platforms} {
		for _, o := range list {
			orgs = append(orgs, o.res)
		}
	}
	for _, ro := range reg.roles {
		pracs = append(pracs, ro.pract)
		roles = append(roles, ro.res)
	}
	groups := [][]*Resource{orgs, pracs, roles, reg.formList}
	meetings := g.sessions()
	const chunk = 1000
	for i := 0; i < len(meetings); i += chunk {
		groups = append(groups, meetings[i:min(i+chunk, len(meetings))])
	}
	return groups
}

// sessions are the meetings the N patients' cases are presented at, in key
// order.
func (g *Generator) sessions() []*Resource {
	return g.Sessions(0, g.cfg.Patients)
}

// BatchBundle is a batch Bundle that creates rs conditionally: a re-run, or
// another generator run with the same seed, finds them by identifier.
func BatchBundle(rs []*Resource) []byte {
	return bundle("batch", rs, true)
}

// TransactionBundle is one patient's transaction Bundle. With conditional,
// every entry is a conditional create on its identifier (idempotent; slower
// to ingest); without, plain creates, as an EHR pushing new data would send.
func TransactionBundle(rs []*Resource, conditional bool) []byte {
	return bundle("transaction", rs, conditional)
}

func bundle(typ string, rs []*Resource, conditional bool) []byte {
	b := []byte(`{"resourceType":"Bundle","type":"` + typ + `","entry":[`)
	for i, r := range rs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"fullUrl":"urn:uuid:`...)
		b = append(b, r.ID...)
		b = append(b, `","resource":`...)
		b = append(b, r.JSON(false)...)
		b = append(b, `,"request":{"method":"POST","url":"`...)
		b = append(b, r.Type...)
		b = append(b, '"')
		if conditional && r.Cond != "" {
			b = append(b, `,"ifNoneExist":`...)
			b = appendString(b, condQuery(r.Cond))
		}
		b = append(b, `}}`...)
	}
	return append(b, "]}\n"...)
}

// condQuery escapes the value of "identifier=system|value" for a URL query.
func condQuery(cond string) string {
	k, v, _ := cutEq(cond)
	return k + "=" + url.QueryEscape(v)
}

func cutEq(s string) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '=' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// Format is the output layout.
type Format string

// The layouts.
const (
	FormatBundle Format = "bundle"
	FormatNDJSON Format = "ndjson"
)

// WriteOptions control WriteDir.
type WriteOptions struct {
	Format Format
	Gzip   bool
	// Progress, when set, is called with the number of patients written.
	Progress func(done int)
}

// WriteDir writes the region into dir: 0-NN-*.json batch Bundles and
// patient-NNNNNN.json transaction Bundles, or one <Type>.ndjson per type.
func (g *Generator) WriteDir(ctx context.Context, dir string, o WriteOptions) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	ext := ".json"
	if o.Format == FormatNDJSON {
		ext = ".ndjson"
	}
	if o.Gzip {
		ext += ".gz"
	}
	switch o.Format {
	case FormatBundle, "":
		names := []string{"organizations", "practitioners", "practitioner-roles", "forms"}
		for k, grp := range g.SharedGroups() {
			name := "meetings"
			if k < len(names) {
				name = names[k]
			}
			if err := writeFile(filepath.Join(dir, fmt.Sprintf("0-%02d-%s%s", k+1, name, ext)), o.Gzip, BatchBundle(grp)); err != nil {
				return err
			}
		}
		return g.parallelPatients(ctx, o.Progress, func(i int, rs []*Resource) error {
			return writeFile(filepath.Join(dir, fmt.Sprintf("patient-%06d%s", i+1, ext)), o.Gzip, TransactionBundle(rs, false))
		})
	case FormatNDJSON:
		return g.writeNDJSON(ctx, dir, ext, o)
	}
	return fmt.Errorf("unknown format %q", o.Format)
}

func (g *Generator) writeNDJSON(ctx context.Context, dir, ext string, o WriteOptions) error {
	files := map[string]*ndjsonFile{}
	var order []string
	out := func(r *Resource) error {
		f := files[r.Type]
		if f == nil {
			var err error
			if f, err = openNDJSON(filepath.Join(dir, r.Type+ext), o.Gzip); err != nil {
				return err
			}
			files[r.Type] = f
			order = append(order, r.Type)
		}
		f.w.Write(r.JSON(true))
		return f.w.WriteByte('\n')
	}
	closeAll := func() error {
		var first error
		for _, t := range order {
			if err := files[t].close(); err != nil && first == nil {
				first = err
			}
		}
		return first
	}
	for _, grp := range g.SharedGroups() {
		for _, r := range grp {
			if err := out(r); err != nil {
				closeAll()
				return err
			}
		}
	}
	// patients are generated in parallel but written in order
	err := g.orderedPatients(ctx, o.Progress, func(_ int, rs []*Resource) error {
		for _, r := range rs {
			if err := out(r); err != nil {
				return err
			}
		}
		return nil
	})
	if cerr := closeAll(); err == nil {
		err = cerr
	}
	return err
}

type ndjsonFile struct {
	f  *os.File
	gz *gzip.Writer
	w  *bufio.Writer
}

func openNDJSON(path string, gz bool) (*ndjsonFile, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	n := &ndjsonFile{f: f}
	var w io.Writer = f
	if gz {
		n.gz = gzip.NewWriter(f)
		w = n.gz
	}
	n.w = bufio.NewWriterSize(w, 1<<20)
	return n, nil
}

func (n *ndjsonFile) close() error {
	err := n.w.Flush()
	if n.gz != nil {
		if e := n.gz.Close(); err == nil {
			err = e
		}
	}
	if e := n.f.Close(); err == nil {
		err = e
	}
	return err
}

func writeFile(path string, gz bool, data []byte) error {
	if !gz {
		return os.WriteFile(path, data, 0o644)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	zw := gzip.NewWriter(f) // no name, no mtime: the bytes depend on the data only
	_, err = zw.Write(data)
	if e := zw.Close(); err == nil {
		err = e
	}
	if e := f.Close(); err == nil {
		err = e
	}
	return err
}

// parallelPatients generates patients on every core and hands each to fn
// (in any order; fn must be safe for concurrent use).
func (g *Generator) parallelPatients(ctx context.Context, progress func(int), fn func(i int, rs []*Resource) error) error {
	var (
		mu   sync.Mutex
		next int
		done int
		ferr error
		wg   sync.WaitGroup
	)
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				if ferr != nil || next >= g.cfg.Patients {
					mu.Unlock()
					return
				}
				if err := ctx.Err(); err != nil {
					ferr = err
					mu.Unlock()
					return
				}
				i := next
				next++
				mu.Unlock()
				err := fn(i, g.Patient(i))
				mu.Lock()
				done++
				if err != nil && ferr == nil {
					ferr = err
				}
				if progress != nil {
					progress(done)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return ferr
}

// orderedPatients generates ahead in parallel and calls fn in patient order.
func (g *Generator) orderedPatients(ctx context.Context, progress func(int), fn func(i int, rs []*Resource) error) error {
	const window = 64
	workers := runtime.GOMAXPROCS(0)
	for start := 0; start < g.cfg.Patients; start += window {
		if err := ctx.Err(); err != nil {
			return err
		}
		end := min(start+window, g.cfg.Patients)
		res := make([][]*Resource, end-start)
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := start + w; i < end; i += workers {
					res[i-start] = g.Patient(i)
				}
			}(w)
		}
		wg.Wait()
		for k, rs := range res {
			if err := fn(start+k, rs); err != nil {
				return err
			}
		}
		if progress != nil {
			progress(end)
		}
	}
	return nil
}

// Sessions returns the board meetings that patients [from, to) are
// presented at, for a caller generating patients beyond N (the load tool).
func (g *Generator) Sessions(from, to int) []*Resource {
	seen := map[string]session{}
	for i := from; i < to; i++ {
		s := g.plan(i).session
		seen[s.key] = s
	}
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]*Resource, len(keys))
	for i, k := range keys {
		out[i] = g.region.meeting(seen[k])
	}
	return out
}
