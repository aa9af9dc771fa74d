package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/wharfhq/wharf/internal/config"
)

func TestFirstStartCreatesAndReusesCredentials(t *testing.T) {
	dir := t.TempDir()
	cfg := config.Defaults()
	cfg.DataDir = dir
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := New(context.Background(), cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	first := a.Bootstrap
	a.Close()
	if !first.Created || !regexp.MustCompile(`^[1-9][0-9]{11}$`).MatchString(first.AccountID) ||
		!regexp.MustCompile(`^AKIA[A-Z2-7]{16}$`).MatchString(first.AccessKeyID) || len(first.Secret) != 40 {
		t.Fatalf("bootstrap %+v", first)
	}
	path := filepath.Join(dir, CredentialsFile)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file mode %v, want 0600", st.Mode().Perm())
	}
	id, secret, err := readCredentials(path)
	if err != nil || id != first.AccessKeyID || secret != first.Secret {
		t.Fatalf("file holds %q %q %v", id, secret, err)
	}
	// A second start reuses the same account and key and prints nothing.
	a, err = New(context.Background(), cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	second := a.Bootstrap
	a.Close()
	if second.Created || second.AccountID != first.AccountID || second.AccessKeyID != first.AccessKeyID {
		t.Fatalf("second start %+v, first %+v", second, first)
	}
}

func TestFixedCredentialsFromConfig(t *testing.T) {
	dir := t.TempDir()
	cfg := config.Defaults()
	cfg.DataDir = dir
	cfg.AccountID = "111122223333"
	cfg.AdminAccessKeyID = "AKIAFIXEDFIXEDFIXED1"
	cfg.AdminSecretAccessKey = "fixed-secret"
	a, err := New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if a.Bootstrap.Created || a.Bootstrap.AccountID != "111122223333" {
		t.Fatalf("%+v", a.Bootstrap)
	}
	k, err := a.Stores.Meta.GetAccessKey(context.Background(), "AKIAFIXEDFIXEDFIXED1")
	if err != nil || k.Secret != "fixed-secret" || k.AccountID != "111122223333" || !k.Active {
		t.Fatalf("key %+v %v", k, err)
	}
	if _, err := os.Stat(filepath.Join(dir, CredentialsFile)); !os.IsNotExist(err) {
		t.Fatalf("fixed credentials were written to disk: %v", err)
	}
}

func sha256hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func itoa(n int) string { return strconv.Itoa(n) }
