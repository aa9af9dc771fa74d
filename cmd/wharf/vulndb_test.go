package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wharfhq/wharf/internal/app"
	"github.com/wharfhq/wharf/internal/config"
	"github.com/wharfhq/wharf/internal/scan"
)

func TestVulndbCommands(t *testing.T) {
	dir := t.TempDir()
	data := "--data=" + dir
	feed := filepath.Join(t.TempDir(), "feed")
	os.MkdirAll(feed, 0o755)
	os.WriteFile(filepath.Join(feed, "a.json"), []byte(`[
	{"id": "DEBIAN-CVE-2024-1", "modified": "2024-06-01T00:00:00Z", "affected": [{"package": {"ecosystem": "Debian:12", "name": "openssl"},
	  "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.0.13-1"}]}]}]},
	{"id": "GHSA-aaaa-bbbb-cccc", "modified": "2024-07-01T00:00:00Z", "affected": [{"package": {"ecosystem": "npm", "name": "lodash"},
	  "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "4.17.21"}]}]}]},
	{"modified": "2024-07-01T00:00:00Z"}
	]`), 0o600)

	out, err := run(t, "vulndb", "status", data)
	if err != nil || !strings.Contains(out, "advisories: 0") || !strings.Contains(out, "no source imported yet") {
		t.Fatalf("empty status: %v\n%s", err, out)
	}
	out, err = run(t, "vulndb", "import", feed, "--source", "test-feed", data)
	if err != nil || !strings.Contains(out, `as source "test-feed"`) || !strings.Contains(out, "2 added, 0 updated, 0 unchanged, 0 older, 1 invalid") ||
		!strings.Contains(out, "vulnerabilitySourceUpdatedAt: 2024-07-01T00:00:00Z") || !strings.Contains(out, `a.json[2]: missing "id"`) {
		t.Fatalf("import: %v\n%s", err, out)
	}
	out, err = run(t, "vulndb", "import", feed, "--source", "test-feed", "--json", data)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Added, Unchanged, Invalid int
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.Added != 0 || rep.Unchanged != 2 || rep.Invalid != 1 {
		t.Fatalf("second import: %v %+v\n%s", err, rep, out)
	}
	out, err = run(t, "vulndb", "status", data)
	if err != nil || !strings.Contains(out, "advisories: 2") || !strings.Contains(out, "test-feed") ||
		!strings.Contains(out, "Debian:12") || !strings.Contains(out, "npm") || !strings.Contains(out, "+0 ~0 =2 <0 !1") {
		t.Fatalf("status: %v\n%s", err, out)
	}
	out, err = run(t, "vulndb", "status", "--json", data)
	var st struct {
		Advisories int
		UpdatedAt  string `json:"vulnerabilitySourceUpdatedAt"`
		Ecosystems []struct{ Ecosystem string }
	}
	if err != nil || json.Unmarshal([]byte(out), &st) != nil || st.Advisories != 2 || st.UpdatedAt != "2024-07-01T00:00:00Z" || len(st.Ecosystems) != 2 {
		t.Fatalf("status json: %v %+v\n%s", err, st, out)
	}
	if _, err := run(t, "vulndb", "import", filepath.Join(feed, "missing.zip"), data); err == nil {
		t.Fatal("a missing path was accepted")
	}
	if _, err := run(t, "vulndb", "import", data); err == nil {
		t.Fatal("import without a path was accepted")
	}
}

// TestVulndbImportQueuesRescan: an import that changes the data queues one
// rescan job for the server; an import that changes nothing queues none.
func TestVulndbImportQueuesRescan(t *testing.T) {
	dir := t.TempDir()
	data := "--data=" + dir
	feed := filepath.Join(t.TempDir(), "a.json")
	os.WriteFile(feed, []byte(`{"id": "GHSA-aaaa-bbbb-cccc", "modified": "2024-07-01T00:00:00Z", "affected": [{"package": {"ecosystem": "npm", "name": "lodash"},
	  "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "4.17.21"}]}]}]}`), 0o600)
	rescans := func() int {
		t.Helper()
		cfg := config.Defaults()
		cfg.DataDir = dir
		st, err := app.OpenStores(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Meta.Close()
		js, err := st.Meta.ListJobs(context.Background(), scan.KindRescan)
		if err != nil {
			t.Fatal(err)
		}
		return len(js)
	}
	for i, want := range []int{1, 1} {
		if _, err := run(t, "vulndb", "import", feed, data); err != nil {
			t.Fatal(err)
		}
		if got := rescans(); got != want {
			t.Fatalf("after import %d: %d rescan jobs, want %d", i+1, got, want)
		}
	}
}
