// Package mongotest gives tests a MongoDB to run against: the deployment
// named by DCC_TEST_MONGODB_URI when set, else a FerretDB (SQLite backend)
// embedded in the test process, so the MongoDB engine is tested over the
// real wire protocol on machines without MongoDB. Each test gets a fresh
// database. Only tests import this package, so the dccfhir binary never
// links FerretDB.
package mongotest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	mstore "github.com/dccfhir/dccfhir/store/mongo"
)

// EnvURI names the environment variable of a real MongoDB to test against.
const EnvURI = "DCC_TEST_MONGODB_URI"

var (
	once    sync.Once
	baseURI string
	dir     string
	stop    context.CancelFunc
	done    chan struct{}
	initErr error
)

func start() {
	if u := os.Getenv(EnvURI); u != "" {
		baseURI = u
		return
	}
	dir, initErr = os.MkdirTemp("", "dccfhir-ferretdb-")
	if initErr != nil {
		return
	}
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: "127.0.0.1:0"},
		Handler:   "sqlite",
		SQLiteURL: "file:" + dir + "/",
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		initErr = err
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	stop = cancel
	done = make(chan struct{})
	go func() {
		defer close(done)
		_ = f.Run(ctx)
	}()
	baseURI = f.MongoDBURI()
}

// Embedded reports whether tests run on the embedded FerretDB (not on a
// real MongoDB from DCC_TEST_MONGODB_URI).
func Embedded() bool { return os.Getenv(EnvURI) == "" }

// URI returns the URI of a fresh, empty database, dropped when t ends.
// Under -short (the fast tier) it skips t: the MongoDB engine's tests are
// the full tier.
func URI(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("MongoDB engine (FerretDB) test (-short)")
	}
	once.Do(start)
	if initErr != nil {
		t.Fatalf("mongotest: start FerretDB: %v", initErr)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "t" + hex.EncodeToString(b[:])
	uri := withDatabase(baseURI, name)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := mongo.Connect(options.Client().ApplyURI(uri))
		if err != nil {
			return
		}
		defer func() { _ = c.Disconnect(ctx) }()
		_ = c.Database(name).Drop(ctx)
	})
	return uri
}

// Open opens the MongoDB engine on a fresh database, closed when t ends.
func Open(t testing.TB) *mstore.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := mstore.Open(ctx, URI(t))
	if err != nil {
		t.Fatalf("mongotest: open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// Main runs a test binary's tests and then stops the embedded FerretDB and
// removes its files; call it from TestMain.
func Main(m *testing.M) int {
	code := m.Run()
	if stop != nil {
		stop()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
		}
	}
	if dir != "" {
		_ = os.RemoveAll(dir)
	}
	return code
}

// withDatabase puts name as the database path of a mongodb:// URI,
// keeping hosts and options.
func withDatabase(uri, name string) string {
	scheme, rest, ok := strings.Cut(uri, "://")
	if !ok {
		return uri
	}
	hosts, opts := rest, ""
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		hosts = rest[:i]
		tail := rest[i:]
		if j := strings.Index(tail, "?"); j >= 0 {
			opts = tail[j:]
		}
	}
	return scheme + "://" + hosts + "/" + name + opts
}
