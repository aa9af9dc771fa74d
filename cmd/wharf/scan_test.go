package main

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/wharfhq/wharf/internal/app"
	"github.com/wharfhq/wharf/internal/config"
	"github.com/wharfhq/wharf/internal/registry"
	"github.com/wharfhq/wharf/internal/registry/names"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// seedDebian creates team/app:latest, an image with an os-release and a
// dpkg database, in a data directory.
func seedDebian(t *testing.T, dir string) string {
	t.Helper()
	ctx := context.Background()
	cfg := config.Defaults()
	cfg.DataDir = dir
	st, err := app.OpenStores(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Meta.Close()
	if err := st.Meta.CreateAccount(ctx, meta.Account{ID: "123456789012", Name: "test"}); err != nil {
		t.Fatal(err)
	}
	reg := registry.New(st.Meta, st.Blobs, registry.Options{})
	r, err := reg.CreateRepository(ctx, meta.Repository{AccountID: "123456789012", Name: "team/app"})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, body := range map[string]string{
		"etc/os-release":      "ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n",
		"var/lib/dpkg/status": "Package: bash\nStatus: install ok installed\nArchitecture: amd64\nVersion: 5.2.15-2+b2\n\n",
	} {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)})
		tw.Write([]byte(body))
	}
	tw.Close()
	layer := buf.Bytes()
	cfgBlob := []byte(`{"os":"linux","architecture":"amd64"}`)
	for _, b := range [][]byte{cfgBlob, layer} {
		if _, err := reg.PutBlob(ctx, r, digest.FromBytes(b), int64(len(b)), bytes.NewReader(b)); err != nil {
			t.Fatal(err)
		}
	}
	m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%d}]}`,
		digest.FromBytes(cfgBlob), len(cfgBlob), digest.FromBytes(layer), len(layer))
	res, err := reg.PutManifest(ctx, r, names.Reference{Tag: "latest"}, "", []byte(m), registry.Actor{Principal: "tester", Via: "oci"})
	if err != nil {
		t.Fatal(err)
	}
	return string(res.Digest)
}

func TestScanSBOMCommand(t *testing.T) {
	dir := t.TempDir()
	data := "--data=" + dir
	t.Setenv("WHARF_ACCOUNT_ID", "")
	img := seedDebian(t, dir)

	out, err := run(t, "scan", "sbom", "team/app", "latest", "--format", "spdx", "--registry-host", "registry.example.com", data)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var doc struct {
		SPDXVersion string `json:"spdxVersion"`
		Packages    []struct {
			Name string `json:"name"`
		} `json:"packages"`
		DocumentNamespace string `json:"documentNamespace"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || doc.SPDXVersion != "SPDX-2.3" || len(doc.Packages) != 3 || doc.Packages[2].Name != "bash" ||
		!strings.HasPrefix(doc.DocumentNamespace, "https://registry.example.com/") {
		t.Fatalf("spdx %v: %.300s", err, out)
	}
	file := filepath.Join(t.TempDir(), "sbom.json")
	out, err = run(t, "scan", "sbom", "team/app", img, "--attach", "-o", file, data)
	if err != nil || !strings.Contains(out, "attached application/vnd.cyclonedx+json to team/app@"+img) {
		t.Fatalf("attach: %v %s", err, out)
	}
	if b, err := os.ReadFile(file); err != nil || !bytes.Contains(b, []byte(`"specVersion": "1.6"`)) {
		t.Fatalf("output file: %v %.200s", err, b)
	}
	if out, err = run(t, "scan", "sbom", "team/app", img, "--attach", "-o", file, data); err != nil || !strings.Contains(out, "already attached") {
		t.Fatalf("re-attach: %v %s", err, out)
	}
	if _, err = run(t, "scan", "sbom", "team/app", "latest", "--format", "swid", data); err == nil {
		t.Fatal("unknown format accepted")
	}
	if _, err = run(t, "scan", "sbom", "team/app", "nope", data); err == nil {
		t.Fatal("unknown tag accepted")
	}
}

func TestScanSuppressCommands(t *testing.T) {
	dir := t.TempDir()
	data := "--data=" + dir
	t.Setenv("WHARF_ACCOUNT_ID", "")
	seedDebian(t, dir)

	out, err := run(t, "scan", "suppress", "team/app", "CVE-2024-1", "--justification", "not reachable", "--expires", "720h", data)
	if err != nil || !strings.Contains(out, "suppressed CVE-2024-1 in team/app until ") {
		t.Fatalf("suppress: %v %s", err, out)
	}
	if out, err = run(t, "scan", "suppress", "--registry", "CVE-2024-2", "--justification", "everywhere", "--until", time.Now().Add(24*time.Hour).UTC().Format(time.RFC3339), "--package", "bash", data); err != nil ||
		!strings.Contains(out, "in every repository, package bash") {
		t.Fatalf("registry-wide: %v %s", err, out)
	}
	for _, bad := range [][]string{
		{"scan", "suppress", "team/app", "CVE-2024-1", "--expires", "720h"},                          // no justification
		{"scan", "suppress", "team/app", "CVE-2024-1", "--justification", "x"},                       // no expiry
		{"scan", "suppress", "team/app", "CVE-2024-1", "--justification", "x", "--expires", "9000h"}, // over a year
		{"scan", "suppress", "team/none", "CVE-2024-1", "--justification", "x", "--expires", "1h"},   // no repository
		{"scan", "suppress", "--registry", "team/app", "CVE-2024-1", "--justification", "x", "--expires", "1h"},
	} {
		if out, err := run(t, append(bad, data)...); err == nil {
			t.Errorf("%q accepted: %s", bad, out)
		}
	}
	out, err = run(t, "scan", "suppressions", "team/app", data)
	if err != nil || !strings.Contains(out, "CVE-2024-1") || !strings.Contains(out, "not reachable") || !strings.Contains(out, "*") || !strings.Contains(out, "system:cli/") {
		t.Fatalf("list: %v\n%s", err, out)
	}
	if out, err = run(t, "scan", "unsuppress", "team/app", "CVE-2024-1", data); err != nil || !strings.Contains(out, "lifted") {
		t.Fatalf("unsuppress: %v %s", err, out)
	}
	if _, err = run(t, "scan", "unsuppress", "team/app", "CVE-2024-1", data); err == nil || !strings.Contains(err.Error(), "no suppression") {
		t.Fatalf("second unsuppress: %v", err)
	}
	out, err = run(t, "scan", "suppressions", data, "--json")
	if err != nil || strings.Count(strings.TrimSpace(out), "\n") != 0 || !strings.Contains(out, `"findingId":"CVE-2024-2"`) {
		t.Fatalf("json list: %v\n%s", err, out)
	}
	out, err = run(t, "audit", "--action", "scan.", data)
	if err != nil || strings.Count(out, "scan.suppress") != 2 || strings.Count(out, "scan.unsuppress") != 1 {
		t.Fatalf("audit: %v\n%s", err, out)
	}
}

func TestScanEligibilityCommand(t *testing.T) {
	dir := t.TempDir()
	data := "--data=" + dir
	t.Setenv("WHARF_ACCOUNT_ID", "")
	seedDebian(t, dir)

	out, err := run(t, "scan", "eligibility", data)
	if err != nil || !strings.Contains(out, "push LIFETIME, pull none") {
		t.Fatalf("default: %v %s", err, out)
	}
	if out, err = run(t, "scan", "eligibility", "--push", "30d", "--pull", "DAYS_90", data); err != nil ||
		!strings.Contains(out, "set the scan eligibility of") || !strings.Contains(out, "push DAYS_30, pull DAYS_90") {
		t.Fatalf("set: %v %s", err, out)
	}
	// One flag keeps the other.
	if out, err = run(t, "scan", "eligibility", "--pull", "none", data); err != nil || !strings.Contains(out, "push DAYS_30, pull none") {
		t.Fatalf("pull none: %v %s", err, out)
	}
	out, err = run(t, "scan", "eligibility", "--json", data)
	if err != nil || !strings.Contains(out, `"rescanDuration":"DAYS_30"`) || strings.Contains(out, "pullDateRescanDuration") {
		t.Fatalf("json: %v %s", err, out)
	}
	for _, bad := range [][]string{{"--push", "7d"}, {"--pull", "lifetime"}, {"--push", "forever"}} {
		if _, err := run(t, append([]string{"scan", "eligibility", data}, bad...)...); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
