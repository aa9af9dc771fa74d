package scan_test

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/wharfhq/wharf/internal/registry"
	"github.com/wharfhq/wharf/internal/registry/manifest"
	"github.com/wharfhq/wharf/internal/registry/names"
	"github.com/wharfhq/wharf/internal/scan"
	"github.com/wharfhq/wharf/internal/scan/vulndb"
	"github.com/wharfhq/wharf/internal/store/blob/fs"
	"github.com/wharfhq/wharf/internal/store/meta"
	"github.com/wharfhq/wharf/internal/store/meta/sqlstore"
)

// The tests run the whole pipeline for real: images whose layers are
// built here from this machine's files (its /etc/os-release and dpkg
// status, a Go binary compiled by the test), stored in a filesystem blob
// store and SQLite, catalogued by internal/scan/inventory and matched by
// internal/scan/vulndb against OSV advisories the tests write.

const testAccount = "123456789012"

type env struct {
	t    *testing.T
	meta *sqlstore.Store
	reg  *registry.Service
	svc  *scan.Service
	now  time.Time
	dir  string
}

func newEnv(t testing.TB) *env {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(dir, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	bs, err := fs.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateAccount(ctx, meta.Account{ID: testAccount, Name: "test"}); err != nil {
		t.Fatal(err)
	}
	e := &env{meta: st, dir: dir, now: time.Date(2026, 4, 1, 12, 0, 0, 0, time.UTC)}
	if tt, ok := t.(*testing.T); ok {
		e.t = tt
	}
	e.reg = registry.New(st, bs, registry.Options{CreateOnPush: true})
	e.svc = scan.New(e.reg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	e.svc.Clock = func() time.Time { return e.now }
	e.reg.OnPush(e.svc.OnPush)
	return e
}

func (e *env) repo(t testing.TB, name string, scanOnPush bool) meta.Repository {
	t.Helper()
	r, err := e.reg.CreateRepository(context.Background(), meta.Repository{AccountID: testAccount, Name: name, ScanOnPush: scanOnPush})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// putBlob stores b in the repository and returns its descriptor JSON.
func (e *env) putBlob(t testing.TB, r meta.Repository, mediaType string, b []byte) string {
	t.Helper()
	d := digest.FromBytes(b)
	if _, err := e.reg.PutBlob(context.Background(), r, d, int64(len(b)), bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf(`{"mediaType":%q,"digest":%q,"size":%d}`, mediaType, d, len(b))
}

// putImage stores an image of the given layers (tar.gz bytes) for a
// platform "os/arch" and returns its manifest.
func (e *env) putImage(t testing.TB, r meta.Repository, tag, platform string, layers ...[]byte) []byte {
	t.Helper()
	os, arch, _ := strings.Cut(platform, "/")
	cfg := fmt.Sprintf(`{"os":%q,"architecture":%q,"rootfs":{"type":"layers","diff_ids":[]},"config":{}}`, os, arch)
	cd := e.putBlob(t, r, manifest.OCIImageConfig, []byte(cfg))
	var ls []string
	for _, l := range layers {
		ls = append(ls, e.putBlob(t, r, "application/vnd.oci.image.layer.v1.tar+gzip", l))
	}
	m := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":%s,"layers":[%s]}`, manifest.OCIManifest, cd, strings.Join(ls, ",")))
	e.putManifest(t, r, tag, manifest.OCIManifest, m)
	return m
}

func (e *env) putManifest(t testing.TB, r meta.Repository, tag, mediaType string, m []byte) string {
	t.Helper()
	ref := names.Reference{Tag: tag}
	if tag == "" {
		ref = names.Reference{Digest: digest.FromBytes(m)}
	}
	res, err := e.reg.PutManifest(context.Background(), r, ref, mediaType, m, registry.Actor{Principal: "tester", Via: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return string(res.Digest)
}

// tarGz builds a gzipped tar of files (path -> content).
func tarGz(t testing.TB, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	dirs := map[string]bool{}
	for _, p := range paths {
		for d := filepath.Dir(p); d != "." && !dirs[d]; d = filepath.Dir(d) {
			dirs[d] = true
		}
	}
	ds := make([]string, 0, len(dirs))
	for d := range dirs {
		ds = append(ds, d)
	}
	slices.Sort(ds)
	for _, d := range ds {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755}); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range paths {
		mode := int64(0o644)
		if strings.Contains(p, "/bin/") {
			mode = 0o755
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: p, Mode: mode, Size: int64(len(files[p]))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(files[p]); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// hostFile reads a file of this machine, skipping the test when absent.
func hostFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("this machine has no %s: %v", path, err)
	}
	return b
}

// dpkgPackage is a package of a dpkg status file.
type dpkgPackage struct {
	Name, Version, Source string
}

// parseStatus lists the installed packages of a dpkg status file.
func parseStatus(b []byte) []dpkgPackage {
	var out []dpkgPackage
	var cur dpkgPackage
	installed := false
	flush := func() {
		if cur.Name != "" && installed {
			out = append(out, cur)
		}
		cur, installed = dpkgPackage{}, false
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			flush()
			continue
		}
		k, v, ok := strings.Cut(line, ": ")
		if !ok {
			continue
		}
		switch k {
		case "Package":
			cur.Name = v
		case "Version":
			cur.Version = v
		case "Source":
			cur.Source = v
		case "Status":
			installed = strings.HasSuffix(v, " installed")
		}
	}
	flush()
	return out
}

// lonePackages are installed packages that are their own source (same
// name and version) and the only binary of it: an advisory on the source
// then affects exactly that one package, so the findings can be asserted
// exactly.
func lonePackages(pkgs []dpkgPackage) []dpkgPackage {
	binaries := map[string]int{}
	for _, p := range pkgs {
		src := p.Name
		if p.Source != "" {
			src, _, _ = strings.Cut(p.Source, " ")
		}
		binaries[src]++
	}
	var out []dpkgPackage
	for _, p := range pkgs {
		if p.Source == "" && binaries[p.Name] == 1 && !strings.ContainsAny(p.Name, "+") {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b dpkgPackage) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// debianRelease is this machine's Debian major release ("12"), skipping
// the test on another distribution.
func debianRelease(t testing.TB, osRelease []byte) string {
	t.Helper()
	var id, ver string
	for _, line := range strings.Split(string(osRelease), "\n") {
		k, v, _ := strings.Cut(line, "=")
		v = strings.Trim(v, `"`)
		switch k {
		case "ID":
			id = v
		case "VERSION_ID":
			ver = v
		}
	}
	if id != "debian" || ver == "" {
		t.Skipf("this machine runs %s %s, not Debian", id, ver)
	}
	return ver
}

var (
	goBinaryOnce sync.Once
	goBinary     []byte
	goBinaryErr  error
)

// buildGoBinary compiles a small Go program (once per test binary): its
// build information names the standard library's version.
func buildGoBinary(t testing.TB) []byte {
	t.Helper()
	goBinaryOnce.Do(func() {
		dir, err := os.MkdirTemp("", "wharf-scan-gobin")
		if err != nil {
			goBinaryErr = err
			return
		}
		defer os.RemoveAll(dir)
		src := "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello\") }\n"
		if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644); err != nil {
			goBinaryErr = err
			return
		}
		if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/hello\n\ngo 1.22\n"), 0o644); err != nil {
			goBinaryErr = err
			return
		}
		cmd := exec.Command("go", "build", "-trimpath", "-o", "hello", ".")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod", "GOTOOLCHAIN=local")
		if out, err := cmd.CombinedOutput(); err != nil {
			goBinaryErr = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		goBinary, goBinaryErr = os.ReadFile(filepath.Join(dir, "hello"))
	})
	if goBinaryErr != nil {
		t.Fatal(goBinaryErr)
	}
	return goBinary
}

// goVersion is the toolchain's version without "go" ("1.26.8").
func goVersion(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOVERSION").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(strings.TrimSpace(string(out)), "go")
}

// advisory is an OSV record the tests write.
type advisory struct {
	ID, Ecosystem, Package, Fixed, Vector string
	Modified                              time.Time
	Withdrawn                             bool
}

func (a advisory) json() []byte {
	rec := map[string]any{
		"schema_version": "1.6.0",
		"id":             a.ID,
		"modified":       a.Modified.UTC().Format(time.RFC3339),
		"published":      "2026-01-01T00:00:00Z",
		"summary":        a.ID + " in " + a.Package,
		"details":        "Test advisory " + a.ID + ".",
		"references":     []map[string]string{{"type": "ADVISORY", "url": "https://example.com/" + a.ID}},
		"affected": []map[string]any{{
			"package": map[string]string{"ecosystem": a.Ecosystem, "name": a.Package},
			"ranges":  []map[string]any{{"type": "ECOSYSTEM", "events": []map[string]string{{"introduced": "0"}, {"fixed": a.Fixed}}}},
		}},
	}
	if a.Ecosystem == "Go" {
		rec["affected"].([]map[string]any)[0]["ranges"] = []map[string]any{{"type": "SEMVER",
			"events": []map[string]string{{"introduced": "0"}, {"fixed": a.Fixed}}}}
	}
	if a.Vector != "" {
		rec["severity"] = []map[string]string{{"type": "CVSS_V3", "score": a.Vector}}
	}
	if a.Withdrawn {
		rec["withdrawn"] = a.Modified.UTC().Format(time.RFC3339)
	}
	b, _ := json.MarshalIndent(rec, "", "  ")
	return b
}

// importAdvisories writes the advisories to a new directory and imports it.
func (e *env) importAdvisories(t testing.TB, name string, advs ...advisory) vulndb.ImportReport {
	t.Helper()
	dir := filepath.Join(e.dir, "osv-"+name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, a := range advs {
		if err := os.WriteFile(filepath.Join(dir, a.ID+".json"), a.json(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := vulndb.Import(context.Background(), e.meta, dir, vulndb.ImportOptions{Source: "test-" + name})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Invalid != 0 {
		t.Fatalf("invalid advisories: %+v", rep.InvalidRecords)
	}
	return rep
}

// CVSS vectors of known base scores.
const (
	cvssCritical = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H" // 9.8
	cvssHigh     = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H" // 7.5
	cvssMedium   = "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:L/I:L/A:N" // 5.4
)
