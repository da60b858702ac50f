package auth

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwa"

	"github.com/dccfhir/dccfhir/store"
	"github.com/dccfhir/dccfhir/store/sqlite"
)

// failingEpoch is the real SQLite store whose next epoch write fails
// (a busy database, a full disk): a fault, not a mock.
type failingEpoch struct {
	store.Store
	fail atomic.Bool
}

func (f *failingEpoch) PutRecord(ctx context.Context, r *store.Record) error {
	if r.Kind == KindConfig && r.Key == epochKey && f.fail.Swap(false) {
		return errors.New("database is locked")
	}
	return f.Store.PutRecord(ctx, r)
}

// A client removal whose epoch write fails must not leave the removed
// client's tokens working once the administrator retried the removal.
func TestRemoveClientEpochFailure(t *testing.T) {
	ctx := context.Background()
	eng, err := sqlite.Open(filepath.Join(t.TempDir(), "dcc.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	st := &failingEpoch{Store: eng}
	srv, err := New(ctx, Config{Store: st, BaseURL: "http://127.0.0.1:1/fhir", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	k := newClientKeyFor(t, jwa.ES384, "k1")
	if _, err := srv.reg.AddClient(ctx, ClientSpec{ID: "lab", Kind: "backend", JWKS: k.jwks, Scopes: "system/*.rs"}); err != nil {
		t.Fatal(err)
	}
	priv, _ := json.Marshal(k.priv)
	tok, err := IssueToken(ctx, srv.reg, TokenRequest{ClientID: "lab", Key: priv})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Verify(ctx, tok); err != nil {
		t.Fatalf("fresh token refused: %v", err)
	}
	st.fail.Store(true)
	if err := srv.reg.RemoveClient(ctx, "lab"); err == nil {
		t.Fatal("the failed epoch write was not reported")
	}
	// The administrator sees the error and runs dccfhir client remove again.
	if err := srv.reg.RemoveClient(ctx, "lab"); err != nil && !errors.Is(err, ErrUnknown) {
		t.Fatal(err)
	}
	if _, err := srv.Verify(ctx, tok); err == nil {
		t.Error("the removed client's token is still accepted after the removal was retried (the epoch never moved)")
	}
}
