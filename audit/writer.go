package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/dccfhir/dccfhir/fhir/search"
	"github.com/dccfhir/dccfhir/fhir/search/query"
	"github.com/dccfhir/dccfhir/store"
)

// LockKey is the storage lock every append takes: one chain, one writer
// at a time, across processes sharing the storage.
const LockKey = "audit.chain"

// maxBatch bounds the events of one group commit; maxLinger how long a
// batch waits for the requests the previous commit released (see loop).
const (
	maxBatch  = 256
	maxLinger = 2 * time.Millisecond
)

// ErrClosed is a Record after Close.
var ErrClosed = errors.New("audit: writer closed")

// Config is what a Writer needs.
type Config struct {
	Store    store.Store
	Registry *search.Registry // indexes the events (AuditEvent?patient=…)
	// BaseURL is the server's FHIR base: the source and server agent, and
	// the base absolute references are indexed against.
	BaseURL string
	Now     func() time.Time // nil: time.Now
}

// Writer appends AuditEvents to the chain of one storage.
type Writer struct {
	cfg Config

	// hint is the last event appended, by this process; an append checks
	// it (the event is there with that hash: its transaction committed)
	// and reads the ids after it (another process may have appended).
	mu   sync.Mutex
	hint head

	// recording counts the Record calls in progress (the group commit
	// waits for them, see loop).
	recording atomic.Int64

	reqs chan *pending
	quit chan struct{}
	done chan struct{}
	once sync.Once
}

type head struct {
	seq   int64
	hash  string
	known bool
}

type pending struct {
	ev   *ready
	done chan error
}

// ready is an event encoded and indexed by its requester, in parallel
// with the others: the writer, serial, only chains it. body is the
// canonical encoding of the event without extension, id and meta, which
// sort just before "outcome", at cut; idx its index, whose _id and
// _lastUpdated entries the writer sets.
type ready struct {
	body []byte
	cut  int
	idx  *query.Index
}

// placeholderID stands for the id while the event is indexed ahead.
const placeholderID = "0000000000000000"

// prepare encodes and indexes ev.
func (w *Writer) prepare(ev *Event) (*ready, error) {
	if ev.Recorded.IsZero() {
		ev.Recorded = w.cfg.Now()
	}
	ae := ev.tree(w.cfg.BaseURL)
	validUTF8(ae)
	body, err := marshal(ae)
	if err != nil {
		return nil, err
	}
	cut := bytes.Index(body, []byte(`,"outcome":`))
	if cut < 0 {
		return nil, errors.New("audit: an event without outcome")
	}
	ae["id"] = placeholderID
	ae["meta"] = map[string]any{"versionId": "1", "lastUpdated": ev.Recorded.UTC().Format(stamp)}
	idx, err := search.ExtractLocal(w.cfg.Registry, Type, ae, w.cfg.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("index of an AuditEvent: %w", err)
	}
	unindex(idx)
	var ids, dates int
	for _, t := range idx.Tokens {
		if t.Param == "_id" {
			ids++
		}
	}
	for _, d := range idx.Dates {
		if d.Param == "_lastUpdated" {
			dates++
		}
	}
	if ids != 1 || dates != 1 {
		return nil, fmt.Errorf("audit: the index has %d _id and %d _lastUpdated entries, not one of each", ids, dates)
	}
	return &ready{body: body, cut: cut + 1, idx: idx}, nil
}

// stamp is the format of recorded and meta.lastUpdated.
const stamp = "2006-01-02T15:04:05.000000Z07:00"

// NewWriter returns a running Writer; Close stops it.
func NewWriter(cfg Config) *Writer {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	w := &Writer{cfg: cfg, reqs: make(chan *pending, maxBatch), quit: make(chan struct{}), done: make(chan struct{})}
	go w.loop()
	return w
}

// Close stops the group-commit goroutine after the batch in progress.
func (w *Writer) Close() {
	w.once.Do(func() { close(w.quit) })
	<-w.done
}

// Record writes ev in its own storage transaction, batched with the
// events other requests record at the same time, and returns when it is
// committed (nil) or failed: the request must not be answered as served
// before.
func (w *Writer) Record(ctx context.Context, ev *Event) error {
	w.recording.Add(1)
	defer w.recording.Add(-1)
	r, err := w.prepare(ev)
	if err != nil {
		return err
	}
	p := &pending{ev: r, done: make(chan error, 1)}
	select {
	case <-w.quit:
		return ErrClosed
	default:
	}
	select {
	case w.reqs <- p:
	case <-w.quit:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-p.done:
		return err
	case <-w.done: // closed with p still queued
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (w *Writer) loop() {
	defer close(w.done)
	// target is the number of requests recording when the previous
	// commit ended (its own and those queued meanwhile); wait how long
	// that commit took, at most maxLinger.
	target, wait := 0, time.Duration(0)
	for {
		var p *pending
		select {
		case p = <-w.reqs:
		case <-w.quit:
			return
		}
		batch := []*pending{p}
		// Under concurrent load the clients a commit releases come back
		// together, while those queued during it are taken at once:
		// committing only the queued ones settles into two half batches
		// that each pay a whole commit. Waiting for the released ones, up
		// to the time a commit takes, makes one commit of the two. Alone,
		// a request does not wait.
		var linger <-chan time.Time
		var timer *time.Timer
		if target > 1 && wait > 0 {
			timer = time.NewTimer(wait)
			linger = timer.C
		}
	drain:
		for len(batch) < maxBatch {
			select {
			case p = <-w.reqs:
				batch = append(batch, p)
				continue
			default:
			}
			if linger == nil || len(batch) >= target {
				break
			}
			select {
			case p = <-w.reqs:
				batch = append(batch, p)
			case <-linger:
				break drain
			}
		}
		if timer != nil {
			timer.Stop()
		}
		t0 := time.Now()
		err := w.commit(batch)
		wait = min(time.Since(t0), maxLinger)
		target = min(int(w.recording.Load()), maxBatch)
		for _, p := range batch {
			p.done <- err
		}
	}
}

func (w *Writer) commit(batch []*pending) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	evs := make([]*ready, len(batch))
	for i, p := range batch {
		evs[i] = p.ev
	}
	err := w.cfg.Store.Update(ctx, func(tx store.Tx) error {
		_, err := w.appendAll(ctx, tx, evs)
		return err
	})
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

// Append puts evs at the end of the chain inside tx (the transaction of a
// write: the events commit with it or not at all). It takes LockKey and
// keeps no state: a transaction run again appends again.
func (w *Writer) Append(ctx context.Context, tx store.Tx, evs []*Event) error {
	select {
	case <-w.quit:
		return ErrClosed // the trail is down: so are the writes
	default:
	}
	rs := make([]*ready, len(evs))
	for i, ev := range evs {
		var err error
		if rs[i], err = w.prepare(ev); err != nil {
			return err
		}
	}
	_, err := w.appendAll(ctx, tx, rs)
	return err
}

func (w *Writer) appendAll(ctx context.Context, tx store.Tx, evs []*ready) (head, error) {
	if err := tx.Lock(ctx, LockKey); err != nil {
		return head{}, err
	}
	w.mu.Lock()
	h := w.hint
	w.mu.Unlock()
	h, err := findHead(ctx, tx, h)
	if err != nil {
		return head{}, err
	}
	for _, ev := range evs {
		if h, err = w.put(ctx, tx, h, ev); err != nil {
			return head{}, err
		}
	}
	// The hint moves before the commit: if the transaction does not
	// commit, the next append finds the hinted event absent (or another
	// in its place) and looks for the head again.
	w.mu.Lock()
	w.hint = h
	w.mu.Unlock()
	return h, nil
}

// put writes r as the event after h: id, meta and the chain extension
// spliced into its encoding, hashed; its index given the id and time.
func (w *Writer) put(ctx context.Context, tx store.Tx, h head, r *ready) (head, error) {
	now := w.cfg.Now().UTC().Truncate(time.Microsecond)
	seq := h.seq + 1
	id := ID(seq)
	// The chain extension, id and meta, as marshal encodes them (keys
	// sorted, nothing to escape: a hex hash, digits, a constant URL, a
	// time), built by hand: this runs serially, for every event.
	var mid []byte
	mid = append(mid, `"extension":[{"extension":[{"url":"previous","valueString":"`...)
	mid = append(mid, h.hash...)
	prevEnd := len(mid) + len(`"}`) // where the hash sub-extension goes
	mid = append(mid, `"}],"url":"`+ChainURL+`"}],"id":"`...)
	mid = append(mid, id...)
	mid = append(mid, `","meta":{"lastUpdated":"`...)
	mid = now.AppendFormat(mid, stamp)
	mid = append(mid, `","versionId":"1"},`...)
	canon := make([]byte, 0, len(r.body)+len(mid))
	canon = append(canon, r.body[:r.cut]...)
	canon = append(canon, mid...)
	canon = append(canon, r.body[r.cut:]...)
	sum := sha256.Sum256(canon)
	hash := hex.EncodeToString(sum[:])
	at := r.cut + prevEnd
	b := make([]byte, 0, len(canon)+len(hashExt)+len(hash)+2)
	b = append(b, canon[:at]...)
	b = append(b, hashExt...)
	b = append(b, hash...)
	b = append(b, `"}`...)
	b = append(b, canon[at:]...)
	for i := range r.idx.Tokens {
		if r.idx.Tokens[i].Param == "_id" {
			r.idx.Tokens[i].Code = id
		}
	}
	for i := range r.idx.Dates {
		if r.idx.Dates[i].Param == "_lastUpdated" {
			r.idx.Dates[i].Low, r.idx.Dates[i].High = now.UnixMicro(), now.UnixMicro()
		}
	}
	err := tx.Put(ctx, &store.Write{Resource: store.Resource{Type: Type, ID: id, Version: 1, LastUpdated: now, Method: "POST", JSON: b}, Index: r.idx})
	if err != nil {
		return head{}, fmt.Errorf("AuditEvent/%s: %w", id, err)
	}
	return head{seq: seq, hash: hash, known: true}, nil
}

// findHead returns the last event of the chain, starting from the hint
// h: it reads the ids after it until one is absent (another process may
// have appended), or probes for the end when h is unknown.
func findHead(ctx context.Context, r store.Reader, h head) (head, error) {
	if h.known && h.seq > 0 {
		// the hinted event must be there, with the hinted hash
		res, err := r.Read(ctx, Type, ID(h.seq))
		switch {
		case errors.Is(err, store.ErrNotFound):
			h = head{}
		case err != nil:
			return head{}, err
		case res.Deleted || !bytes.Contains(res.JSON, []byte(`{"url":"hash","valueString":"`+h.hash+`"}`)):
			h = head{}
		}
	}
	if !h.known {
		n, err := lastSeq(ctx, r)
		if err != nil {
			return head{}, err
		}
		h = head{seq: n, known: true}
		if n > 0 {
			if h.hash, err = hashAt(ctx, r, n); err != nil {
				return head{}, err
			}
		}
	}
	moved := false
	for {
		_, err := r.Read(ctx, Type, ID(h.seq+1))
		if errors.Is(err, store.ErrNotFound) {
			break
		}
		if err != nil {
			return head{}, err
		}
		h.seq++
		moved = true
	}
	if moved {
		var err error
		if h.hash, err = hashAt(ctx, r, h.seq); err != nil {
			return head{}, err
		}
	}
	return h, nil
}

// hashAt is the hash event seq carries (the head: never purged).
func hashAt(ctx context.Context, r store.Reader, seq int64) (string, error) {
	res, err := r.Read(ctx, Type, ID(seq))
	if err != nil {
		return "", err
	}
	if res.Deleted {
		return "", fmt.Errorf("the head of the audit chain, AuditEvent/%s, is deleted", ID(seq))
	}
	ae, err := decode(res.JSON)
	if err != nil {
		return "", fmt.Errorf("AuditEvent/%s: %w", ID(seq), err)
	}
	_, h, err := links(ae)
	if err != nil {
		return "", fmt.Errorf("AuditEvent/%s: %w", ID(seq), err)
	}
	return h, nil
}

// exists reports whether event seq was ever written (a purged one too).
func exists(ctx context.Context, r store.Reader, seq int64) (bool, error) {
	_, err := r.Read(ctx, Type, ID(seq))
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// lastSeq finds the last event by reads alone: ids run 1, 2, … without
// gaps (purged events stay as tombstones), so doubling then bisecting
// takes about 2·log2(n) reads.
func lastSeq(ctx context.Context, r store.Reader) (int64, error) {
	ok, err := exists(ctx, r, 1)
	if err != nil || !ok {
		return 0, err
	}
	lo, hi := int64(1), int64(2) // lo exists; hi is the first power not known
	for {
		ok, err := exists(ctx, r, hi)
		if err != nil {
			return 0, err
		}
		if !ok {
			break
		}
		lo, hi = hi, hi*2
	}
	for hi-lo > 1 { // lo exists, hi does not
		mid := lo + (hi-lo)/2
		ok, err := exists(ctx, r, mid)
		if err != nil {
			return 0, err
		}
		if ok {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo, nil
}

// Unindexed are the AuditEvent search parameters the trail does not index:
// every event would pay their rows (a third of the index rows of a read's
// event), and none is needed to find an event: source is always this
// server, entity-type follows from entity-role (BALP: 2 System Object for
// role 4 and 24, 1 Person for role 1), agent-name is the username that
// agent:identifier finds. A search by them finds no event (docs/audit.md).
var Unindexed = []string{"agent-name", "entity-type", "source"}

// unindex removes the entries of the Unindexed parameters from ix.
func unindex(ix *query.Index) {
	ix.Strings = dropUnindexed(ix.Strings, func(e query.StringEntry) string { return e.Param })
	ix.Tokens = dropUnindexed(ix.Tokens, func(e query.TokenEntry) string { return e.Param })
	ix.Refs = dropUnindexed(ix.Refs, func(e query.RefEntry) string { return e.Param })
	ix.URIs = dropUnindexed(ix.URIs, func(e query.URIEntry) string { return e.Param })
}

func dropUnindexed[E any](es []E, param func(E) string) []E {
	out := es[:0]
	for _, e := range es {
		if !slices.Contains(Unindexed, param(e)) {
			out = append(out, e)
		}
	}
	return out
}

// validUTF8 replaces, in place, the invalid UTF-8 of the event's strings
// (a client_id, a username, a reason come from the client) by U+FFFD:
// encoding/json would write them so, and verify, decoding and encoding the
// stored event again, must find the same bytes.
func validUTF8(v any) any {
	switch t := v.(type) {
	case string:
		if !utf8.ValidString(t) {
			return strings.ToValidUTF8(t, "\uFFFD")
		}
	case map[string]any:
		for k, x := range t {
			t[k] = validUTF8(x)
		}
	case []any:
		for i, x := range t {
			t[i] = validUTF8(x)
		}
	}
	return v
}
