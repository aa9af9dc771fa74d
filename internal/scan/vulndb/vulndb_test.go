package vulndb

import (
	"archive/zip"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wharfhq/wharf/internal/scan/inventory"
	"github.com/wharfhq/wharf/internal/store/meta"
	"github.com/wharfhq/wharf/internal/store/meta/sqlstore"
)

func openStore(t testing.TB) meta.Store {
	t.Helper()
	s, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var fixedNow = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

func importFixtures(t *testing.T, st meta.Store) ImportReport {
	t.Helper()
	rep, err := Import(t.Context(), st, "testdata/osv", ImportOptions{Source: "fixtures", Now: func() time.Time { return fixedNow }})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func load(t *testing.T, st meta.Store) *DB {
	t.Helper()
	db, err := Load(t.Context(), st)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// summary renders findings compactly for comparison.
func summary(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		s := fmt.Sprintf("%s %s %s@%s", f.Severity, f.ID, f.Package.Name, f.Package.Version)
		if f.FixedVersion != "" {
			s += " fixed=" + f.FixedVersion
		}
		out = append(out, s)
	}
	return out
}

func deb(name, version, src, srcVersion string) inventory.Package {
	return inventory.Package{Name: name, Version: version, SourceName: src, SourceVersion: srcVersion,
		Ecosystem: "Debian", Kind: inventory.KindOS}
}

func lang(eco, name, version string) inventory.Package {
	return inventory.Package{Name: name, Version: version, Ecosystem: eco, Kind: inventory.KindLanguage}
}

func TestImportAndMatch(t *testing.T) {
	st := openStore(t)
	rep := importFixtures(t, st)
	if rep.Added != 18 || rep.Records != 18 || rep.Invalid != 0 || rep.Updated+rep.Unchanged+rep.Older != 0 || rep.Files != 17 {
		t.Fatalf("report: %+v", rep)
	}
	if !rep.UpdatedAt.Equal(time.Date(2024, 7, 1, 12, 0, 0, 0, time.UTC)) {
		t.Fatalf("updated at %v", rep.UpdatedAt)
	}
	db := load(t, st)
	// Withdrawn records are not indexed; DEBIAN-CVE-2024-1003's year-1
	// "withdrawn" means none.
	if db.Count() != 17 || !db.UpdatedAt().Equal(rep.UpdatedAt) || db.Stats().SkippedRanges != 0 || db.Stats().Unreadable != 0 {
		t.Fatalf("count %d updated %v stats %+v", db.Count(), db.UpdatedAt(), db.Stats())
	}

	for _, tc := range []struct {
		name string
		inv  inventory.Inventory
		want []string
	}{
		{
			name: "debian 12: source package, fixed version not reported, bundle folded into its CVEs",
			inv: inventory.Inventory{Distro: inventory.Distro{ID: "debian", VersionID: "12"}, Packages: []inventory.Package{
				deb("libssl3", "3.0.11-1~deb12u2", "openssl", ""),
				deb("openssl", "3.0.13-1~deb12u1", "", ""),
				deb("libssl-dev", "3.0.13-1~deb12u1+b1", "openssl", "3.0.13-1~deb12u1"),
				deb("zlib1g", "1:1.2.13.dfsg-1", "zlib", ""),
			}},
			want: []string{
				"MEDIUM DEBIAN-CVE-2024-1001 libssl3@3.0.11-1~deb12u2 fixed=3.0.13-1~deb12u1",
				"LOW DEBIAN-CVE-2024-1002 libssl3@3.0.11-1~deb12u2 fixed=3.0.13-1~deb12u1",
				"INFORMATIONAL DEBIAN-CVE-2024-1003 zlib1g@1:1.2.13.dfsg-1",
			},
		},
		{
			name: "debian 11 by codename: its own release's fix",
			inv: inventory.Inventory{Distro: inventory.Distro{ID: "debian", VersionCodename: "bullseye"}, Packages: []inventory.Package{
				deb("openssl", "1.1.1w-0+deb11u1", "", ""),
			}},
			want: []string{"MEDIUM DEBIAN-CVE-2024-1001 openssl@1.1.1w-0+deb11u1 fixed=1.1.1w-0+deb11u2"},
		},
		{
			name: "ubuntu 22.04 LTS: Ubuntu's priority over CVSS; Pro stream not matched",
			inv: inventory.Inventory{Distro: inventory.Distro{ID: "ubuntu", VersionID: "22.04"}, Packages: []inventory.Package{
				{Name: "libssl3", Version: "3.0.2-0ubuntu1.15", SourceName: "openssl", Ecosystem: "Ubuntu", Kind: inventory.KindOS},
				{Name: "openssl", Version: "3.0.2-0ubuntu1.16", Ecosystem: "Ubuntu", Kind: inventory.KindOS},
			}},
			want: []string{"LOW UBUNTU-CVE-2024-2001 libssl3@3.0.2-0ubuntu1.15 fixed=3.0.2-0ubuntu1.16"},
		},
		{
			name: "ubuntu 24.04: the package's priority over the record's",
			inv: inventory.Inventory{Distro: inventory.Distro{ID: "ubuntu", VersionID: "24.04"}, Packages: []inventory.Package{
				{Name: "openssl", Version: "3.0.13-0ubuntu3.1", Ecosystem: "Ubuntu", Kind: inventory.KindOS},
			}},
			want: []string{"HIGH UBUNTU-CVE-2024-2001 openssl@3.0.13-0ubuntu3.1 fixed=3.0.13-0ubuntu3.2"},
		},
		{
			name: "ubuntu 23.10 is not LTS: no match",
			inv: inventory.Inventory{Distro: inventory.Distro{ID: "ubuntu", VersionID: "23.10"}, Packages: []inventory.Package{
				{Name: "openssl", Version: "3.0.2-0ubuntu1.15", Ecosystem: "Ubuntu", Kind: inventory.KindOS},
			}},
		},
		{
			name: "alpine 3.19 by origin",
			inv: inventory.Inventory{Distro: inventory.Distro{ID: "alpine", VersionID: "3.19.1"}, Packages: []inventory.Package{
				{Name: "ssl_client", Version: "1.36.1-r15", SourceName: "busybox", Ecosystem: "Alpine", Kind: inventory.KindOS},
				{Name: "busybox", Version: "1.36.1-r16", Ecosystem: "Alpine", Kind: inventory.KindOS},
			}},
			want: []string{"MEDIUM ALPINE-CVE-2024-3001 ssl_client@1.36.1-r15 fixed=1.36.1-r16"},
		},
		{
			name: "almalinux 9: binary package names, Red Hat impact over CVSS",
			inv: inventory.Inventory{Distro: inventory.Distro{ID: "almalinux", VersionID: "9.3"}, Packages: []inventory.Package{
				{Name: "openssl-libs", Version: "1:3.0.7-24.el9", SourceName: "openssl", Ecosystem: "AlmaLinux", Kind: inventory.KindOS},
				{Name: "openssl-libs", Version: "1:3.0.7-25.el9_3", SourceName: "openssl", Ecosystem: "AlmaLinux", Kind: inventory.KindOS},
			}},
			want: []string{"HIGH ALSA-2024:1001 openssl-libs@1:3.0.7-24.el9 fixed=1:3.0.7-25.el9_3"},
		},
		{
			name: "language packages",
			inv: inventory.Inventory{Packages: []inventory.Package{
				lang("Go", "golang.org/x/net", "v0.22.0"),
				lang("Go", "golang.org/x/net", "v0.23.0"),
				lang("Go", "stdlib", "go1.22.1"),
				lang("Go", "stdlib", "go1.21.9"),
				lang("npm", "lodash", "4.17.20"),
				lang("npm", "lodash", "4.17.21"),
				lang("npm", "minimist", "1.2.5"),
				lang("npm", "example-lib", "1.2.3"),
				lang("npm", "example-lib", "1.2.4"),
				lang("npm", "example-lib", "0.9.0"),
				lang("PyPI", "Zope.Interface", "5.4.0"),
				lang("PyPI", "zope_interface", "6.0"),
				lang("PyPI", "ctx", "0.2.2"),
				lang("PyPI", "ctx", "0.2.3"),
				lang("Maven", "org.apache.logging.log4j:log4j-core", "2.14.1"),
				lang("Maven", "org.apache.logging.log4j:log4j-core", "2.0-beta8"),
				lang("Maven", "org.apache.logging.log4j:log4j-core", "2.15.0"),
				lang("crates.io", "smallvec", "1.6.0"),
				lang("crates.io", "smallvec", "0.6.2"),
				lang("RubyGems", "rack", "2.2.6.3"),
				lang("RubyGems", "rack", "2.2.6.10"),
				lang("RubyGems", "rack", "3.0.6"),
				lang("Packagist", "symfony/http-kernel", "5.4.19"),
				lang("Packagist", "symfony/http-kernel", "6.2.6"),
			}},
			want: []string{
				"CRITICAL GHSA-jfh8-c2jp-5v3q org.apache.logging.log4j:log4j-core@2.14.1 fixed=2.15.0",
				"CRITICAL RUSTSEC-2021-0003 smallvec@1.6.0 fixed=1.6.1",
				"HIGH GHSA-35jh-r3h4-6jhm lodash@4.17.20 fixed=4.17.21",
				"HIGH PYSEC-2024-0001 Zope.Interface@5.4.0 fixed=6.0",
				"MEDIUM GHSA-4v7x-pqxf-cx7m golang.org/x/net@v0.22.0 fixed=0.23.0",
				"MEDIUM GHSA-rack-0000-0001 rack@2.2.6.3 fixed=2.2.6.4",
				"MEDIUM GHSA-rack-0000-0001 rack@3.0.6 fixed=3.0.6.1",
				"MEDIUM GHSA-sym-0000-0001 symfony/http-kernel@5.4.19 fixed=5.4.20",
				"LOW GHSA-lllf-0000-aaaa example-lib@1.2.3",
				"UNDEFINED GO-2024-0001 stdlib@go1.22.1 fixed=1.22.2",
				"UNDEFINED MAL-2024-0001 ctx@0.2.2",
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := summary(db.Match(&tc.inv))
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "))
			}
		})
	}
}

func TestFindingDetails(t *testing.T) {
	st := openStore(t)
	importFixtures(t, st)
	db := load(t, st)
	inv := &inventory.Inventory{Distro: inventory.Distro{ID: "debian", VersionID: "12"}, Packages: []inventory.Package{
		deb("libssl3", "3.0.11-1~deb12u2", "openssl", ""),
	}}
	fs := db.Match(inv)
	if len(fs) != 2 {
		t.Fatalf("findings: %v", summary(fs))
	}
	f := fs[0]
	// The distribution's urgency decides; the CVSS found is still given.
	if f.Severity != SeverityMedium || f.Score != 9.8 || f.CVSSVersion != "3.1" || !strings.HasPrefix(f.Vector, "CVSS:3.1/AV:N") {
		t.Fatalf("severity: %+v", f)
	}
	if !slices.Equal(f.Aliases, []string{"DSA-5999-1"}) || !slices.Equal(f.Upstream, []string{"CVE-2024-1001"}) || f.CVE() != "CVE-2024-1001" {
		t.Fatalf("ids: aliases %v upstream %v cve %q", f.Aliases, f.Upstream, f.CVE())
	}
	if f.URI != "https://security-tracker.debian.org/tracker/CVE-2024-1001" || f.Details == "" ||
		!f.Published.Equal(time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)) ||
		!f.Modified.Equal(time.Date(2024, 6, 1, 10, 0, 0, 123456789, time.UTC)) || f.Package.Name != "libssl3" {
		t.Fatalf("finding: %+v", f)
	}
	if fs[1].URI != "https://osv.dev/vulnerability/DEBIAN-CVE-2024-1002" {
		t.Fatalf("default uri %q", fs[1].URI)
	}

	// Aliases of each other: one finding, named by the GHSA, rated by
	// the record that has a CVSS vector.
	fs = db.Match(&inventory.Inventory{Packages: []inventory.Package{lang("Go", "golang.org/x/net", "v0.17.0")}})
	if len(fs) != 1 {
		t.Fatalf("x/net: %v", summary(fs))
	}
	f = fs[0]
	if f.ID != "GHSA-4v7x-pqxf-cx7m" || !slices.Equal(f.Aliases, []string{"CVE-2024-4001", "GO-2024-0001"}) || f.CVE() != "CVE-2024-4001" ||
		f.Score != 5.3 || f.Severity != SeverityMedium || f.Summary == "" {
		t.Fatalf("merged: %+v", f)
	}
	// CVSS v4 scored, v2 kept below CRITICAL.
	fs = db.Match(&inventory.Inventory{Packages: []inventory.Package{lang("npm", "lodash", "4.0.0"), lang("PyPI", "zope.interface", "4.0")}})
	if len(fs) != 2 || fs[0].CVSSVersion != "4.0" || fs[0].Score != 8.6 || fs[1].CVSSVersion != "2.0" || fs[1].Score != 10 || fs[1].Severity != SeverityHigh {
		t.Fatalf("cvss: %+v", fs)
	}
}

func TestImportIdempotentAndNewerReplaces(t *testing.T) {
	st := openStore(t)
	first := importFixtures(t, st)
	if len(first.Touched) == 0 || !slices.Contains(first.Touched, PackageKey{Ecosystem: "Debian:12", Name: "openssl"}) ||
		!slices.Contains(first.Touched, PackageKey{Ecosystem: "PyPI", Name: "zope-interface"}) {
		t.Fatalf("touched: %v", first.Touched)
	}
	second := importFixtures(t, st)
	if second.Added != 0 || second.Updated != 0 || second.Unchanged != first.Added || second.Invalid != 0 || len(second.Touched) != 0 {
		t.Fatalf("second import: %+v", second)
	}

	// A newer version of one advisory replaces it: it now names another
	// package, and both the old and the new keys are reported.
	dir := t.TempDir()
	newer := `{"id": "PYSEC-2024-0001", "modified": "2024-02-01T00:00:00Z",
	  "affected": [{"package": {"ecosystem": "PyPI", "name": "zope.schema"},
	    "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "7.0"}]}]}]}`
	older := `{"id": "GHSA-35jh-r3h4-6jhm", "modified": "2023-01-01T00:00:00Z", "affected": []}`
	os.WriteFile(filepath.Join(dir, "update.json"), []byte("["+newer+",\n"+older+"]"), 0o600)
	rep, err := Import(t.Context(), st, filepath.Join(dir, "update.json"), ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Updated != 1 || rep.Older != 1 || rep.Added != 0 || rep.Records != 2 || rep.Source != filepath.Join(dir, "update.json") ||
		!slices.Equal(rep.Touched, []PackageKey{{Ecosystem: "PyPI", Name: "zope-interface"}, {Ecosystem: "PyPI", Name: "zope-schema"}}) {
		t.Fatalf("update: %+v", rep)
	}
	db := load(t, st)
	fs := db.Match(&inventory.Inventory{Packages: []inventory.Package{
		lang("PyPI", "zope.interface", "5.0"), lang("PyPI", "Zope.Schema", "6.1"), lang("npm", "lodash", "4.17.20"),
	}})
	if got := summary(fs); !slices.Equal(got, []string{
		"HIGH GHSA-35jh-r3h4-6jhm lodash@4.17.20 fixed=4.17.21",
		"UNDEFINED PYSEC-2024-0001 Zope.Schema@6.1 fixed=7.0",
	}) {
		t.Fatalf("after update: %v", got)
	}

	srcs, err := st.ListVulnSources(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(srcs) != 2 || srcs[1].Name != "fixtures" || srcs[1].Unchanged != 18 || !srcs[1].ImportedAt.Equal(fixedNow) ||
		srcs[0].Updated != 1 || !srcs[0].UpdatedAt.Equal(time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("sources: %+v", srcs)
	}
}

// writeZip builds an osv.dev-style all.zip from the fixtures (one
// advisory per entry) plus entries to skip or refuse.
func writeZip(t *testing.T, path string, extra map[string]string) int {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	n := 0
	err = filepath.WalkDir("testdata/osv/debian", func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		w, err := zw.Create(filepath.Base(p))
		if err != nil {
			return err
		}
		n++
		_, err = w.Write(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range extra {
		w, _ := zw.Create(name)
		w.Write([]byte(body))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return n
}

func TestImportZip(t *testing.T) {
	st := openStore(t)
	path := filepath.Join(t.TempDir(), "all.zip")
	n := writeZip(t, path, map[string]string{
		"README.txt":    "not an advisory",
		"big.json":      `{"id": "X-1", "modified": "2024-01-01T00:00:00Z", "details": "` + strings.Repeat("x", 4096) + `"}`,
		"no-id.json":    `{"modified": "2024-01-01T00:00:00Z"}`,
		"garbage.json":  `{"id": "X-2", "modified": `,
		"bad-time.json": `{"id": "X-3", "modified": "yesterday"}`,
	})
	rep, err := Import(t.Context(), st, path, ImportOptions{Source: "debian", MaxEntryBytes: 2048, BatchSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Added != n || rep.Invalid != 4 || rep.Files != n+3 {
		t.Fatalf("report: %+v", rep)
	}
	reasons := map[string]string{}
	for _, iv := range rep.InvalidRecords {
		reasons[strings.TrimPrefix(iv.File, path+"!")] = iv.Reason
	}
	if !strings.Contains(reasons["big.json"], "limit") || reasons["no-id.json"] != `missing "id"` ||
		!strings.HasPrefix(reasons["garbage.json"], "bad JSON") || !strings.Contains(reasons["bad-time.json"], `bad "modified"`) {
		t.Fatalf("reasons: %v", reasons)
	}
	again, err := Import(t.Context(), st, path, ImportOptions{Source: "debian", MaxEntryBytes: 2048})
	if err != nil || again.Added != 0 || again.Unchanged != n {
		t.Fatalf("again: %+v %v", again, err)
	}
	if db := load(t, st); db.Count() != n {
		t.Fatalf("count %d", db.Count())
	}
}

func TestImportInvalidAndErrors(t *testing.T) {
	st := openStore(t)
	if _, err := Import(t.Context(), st, filepath.Join(t.TempDir(), "missing"), ImportOptions{}); err == nil || !os.IsNotExist(unwrapAll(err)) {
		t.Fatalf("missing path: %v", err)
	}
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
	files := map[string]string{
		"ok.json":         `{"id": "GO-1", "modified": "2024-01-01T00:00:00Z"}`,
		"sub/stream.json": `{"id": "GO-2", "modified": "2024-01-01T00:00:00Z"}` + "\n" + `{"id": "GO-3", "modified": "2024-01-02T00:00:00Z"}`,
		"sub/array.json":  `[{"id": "GO-4", "modified": "2024-01-01T00:00:00Z"}, {"id": 5, "modified": "x"}, "text", {"id": "GO-6", "modified": "2024-01-01T00:00:00Z"}]`,
		"empty.json":      "  \n",
		"truncated.json":  `[{"id": "GO-7", "modified": "2024-01-01T00:00:00Z"}, {"id"`,
		"spaces.json":     `{"id": "GO 8", "modified": "2024-01-01T00:00:00Z"}`,
		"not-osv.txt":     `ignored`,
		"broken.zip":      `not a zip`,
		"sub/UPPER.JSON":  `{"id": "GO-9", "modified": "2024-01-01T00:00:00+02:00"}`,
	}
	for name, body := range files {
		os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600)
	}
	rep, err := Import(t.Context(), st, dir, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Added != 7 || rep.Invalid != 6 {
		t.Fatalf("report: %+v", rep)
	}
	var got []string
	for _, iv := range rep.InvalidRecords {
		rel, _ := filepath.Rel(dir, iv.File)
		got = append(got, rel)
	}
	slices.Sort(got)
	want := []string{"broken.zip", "empty.json", "spaces.json", "sub/array.json[1]", "sub/array.json[2]", "truncated.json[1]"}
	if !slices.Equal(got, want) {
		t.Fatalf("invalid files %v, want %v (%+v)", got, want, rep.InvalidRecords)
	}
	// GO-9's modified is in another zone: the newest is still GO-3's.
	if !rep.UpdatedAt.Equal(time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("updated at %v", rep.UpdatedAt)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := Import(ctx, st, dir, ImportOptions{}); err == nil {
		t.Fatal("a cancelled import succeeded")
	}
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}

func TestLoadForAndKeys(t *testing.T) {
	st := openStore(t)
	importFixtures(t, st)
	inv := &inventory.Inventory{Distro: inventory.Distro{ID: "debian", VersionID: "12"}, Packages: []inventory.Package{
		deb("libssl3", "3.0.11-1~deb12u2", "openssl", ""),
		lang("PyPI", "Zope.Interface", "5.4.0"),
	}}
	keys := PackageKeys(inv)
	want := []PackageKey{{Ecosystem: "Debian", Name: "openssl"}, {Ecosystem: "Debian:12", Name: "openssl"}, {Ecosystem: "PyPI", Name: "zope-interface"}}
	if !slices.Equal(keys, want) {
		t.Fatalf("keys %v", keys)
	}
	db, err := LoadFor(t.Context(), st, keys)
	if err != nil {
		t.Fatal(err)
	}
	if db.Count() != 4 {
		t.Fatalf("targeted load indexed %d", db.Count())
	}
	full := load(t, st)
	if a, b := summary(db.Match(inv)), summary(full.Match(inv)); !slices.Equal(a, b) || len(a) != 3 {
		t.Fatalf("targeted %v, full %v", a, b)
	}
}

func TestMatchConcurrent(t *testing.T) {
	st := openStore(t)
	importFixtures(t, st)
	db := load(t, st)
	inv := &inventory.Inventory{Distro: inventory.Distro{ID: "alpine", VersionID: "3.19"}, Packages: []inventory.Package{
		{Name: "ssl_client", Version: "1.36.1-r15", SourceName: "busybox", Ecosystem: "Alpine", Kind: inventory.KindOS},
		lang("npm", "lodash", "4.17.20"), lang("RubyGems", "rack", "2.2.6.3"),
	}}
	want := summary(db.Match(inv))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				if got := summary(db.Match(inv)); !slices.Equal(got, want) {
					t.Errorf("concurrent match: %v", got)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestUnparseableVersions(t *testing.T) {
	st := openStore(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.json"), []byte(`[
	{"id": "DSA-9-1", "modified": "2024-01-01T00:00:00Z", "affected": [{"package": {"ecosystem": "Debian:12", "name": "bash"},
	  "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "5.2.15-2+b1"}]}], "versions": ["x:weird"]}]},
	{"id": "DSA-9-2", "modified": "2024-01-01T00:00:00Z", "affected": [{"package": {"ecosystem": "Debian:12", "name": "bash"},
	  "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "x:1.0"}]}]}]},
	{"id": "DSA-9-3", "modified": "2024-01-01T00:00:00Z", "affected": [{"package": {"ecosystem": "Debian:12", "name": "bash"},
	  "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0", "fixed": "6"}]}]}]},
	{"id": "OSSF-1", "modified": "2024-01-01T00:00:00Z", "affected": [{"package": {"ecosystem": "OSS-Fuzz", "name": "bash"},
	  "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "6"}]}]},
	  {"package": {"ecosystem": "Debian:12", "name": "bash"}, "ranges": [{"type": "GIT", "repo": "https://x", "events": [{"introduced": "0"}]}]}]}
	]`), 0o600)
	if _, err := Import(t.Context(), st, dir, ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	db := load(t, st)
	// DSA-9-2's range has an unparseable fix and DSA-9-3's an event with
	// two bounds; OSS-Fuzz has no version order: dropped, not guessed.
	if s := db.Stats(); s.SkippedRanges != 3 || s.Entries != 1 {
		t.Fatalf("stats %+v", s)
	}
	d := inventory.Distro{ID: "debian", VersionID: "12"}
	for _, tc := range []struct {
		version string
		want    []string
	}{
		{"5.2.15-2", []string{"UNDEFINED DSA-9-1 bash@5.2.15-2 fixed=5.2.15-2+b1"}},
		{"5.2.15-2+b1", nil},
		{"no digits", nil},
		{"", nil},
		{"x:weird", []string{"UNDEFINED DSA-9-1 bash@x:weird"}}, // unparseable, but listed
		{"x:1.0", nil},
	} {
		got := summary(db.Match(&inventory.Inventory{Distro: d, Packages: []inventory.Package{deb("bash", tc.version, "", "")}}))
		if !slices.Equal(got, tc.want) {
			t.Errorf("%q: got %v, want %v", tc.version, got, tc.want)
		}
	}
}
