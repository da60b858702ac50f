package app

import (
	"context"
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"sqlite:./data/dccfhir.db", "sqlite:./data/dccfhir.db"},
		{"mongodb://db:27017/dcc", "mongodb://db:27017/dcc"},
		{"mongodb://admin:s3cret@db:27017/dcc", "mongodb://xxxxx@db:27017/dcc"},
		{"mongodb+srv://tok3n@cluster.example.org/?authMechanismProperties=AWS_SESSION_TOKEN:s3cret", "mongodb+srv://xxxxx@cluster.example.org/"},
		{"mongodb://db/?tlsCertificateKeyFilePassword=s3cret", "mongodb://db/"},
		{"mongo://admin:s3cret@db:27017", "mongo://xxxxx@db:27017"},
		{"mongodb://a:b@%zz", "(storage URI hidden: it is not scheme://host/…)"},
		{"admin:s3cret@db:27017", "(storage URI hidden: it is not scheme://host/…)"},
		{"mongodb:admin:s3cret@db", "(storage URI hidden: it is not scheme://host/…)"},
		{"mongodb://db/#s3cret", "mongodb://db/"},
	} {
		if got := Redact(c.in); got != c.want {
			t.Errorf("Redact(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestOpenStoreHidesSecrets: a mistyped storage URI is named in the error
// without its password.
func TestOpenStoreHidesSecrets(t *testing.T) {
	_, err := OpenStore(context.Background(), "mongo://admin:s3cret@db:27017")
	if err == nil || strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "db:27017") {
		t.Fatalf("error %v", err)
	}
	if _, err := OpenStore(context.Background(), "admin:s3cret@db:27017"); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("error %v", err)
	}
}
