package sbomsvc

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/wharfhq/wharf/internal/registry"
	"github.com/wharfhq/wharf/internal/registry/manifest"
	"github.com/wharfhq/wharf/internal/registry/names"
	"github.com/wharfhq/wharf/internal/scan/inventory"
	"github.com/wharfhq/wharf/internal/scan/sbom"
	"github.com/wharfhq/wharf/internal/store/blob/fs"
	"github.com/wharfhq/wharf/internal/store/meta"
	"github.com/wharfhq/wharf/internal/store/meta/sqlstore"
)

const acct = "111122223333"

const dpkgStatus = `Package: zlib1g
Status: install ok installed
Priority: optional
Section: libs
Installed-Size: 160
Maintainer: Mark Brown <broonie@debian.org>
Architecture: amd64
Multi-Arch: same
Source: zlib
Version: 1:1.2.13.dfsg-1
Description: compression library - runtime

Package: libc6
Status: install ok installed
Priority: optional
Section: libs
Installed-Size: 12991
Maintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>
Architecture: amd64
Multi-Arch: same
Source: glibc
Version: 2.36-9+deb12u4
Description: GNU C Library: Shared libraries

`

const osRelease = `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
`

func layerTar(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, content := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(content)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type fixture struct {
	t    *testing.T
	reg  *registry.Service
	repo meta.Repository
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	ms, err := sqlstore.OpenSQLiteWith(ctx, filepath.Join(dir, "meta.db"), sqlstore.SQLiteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ms.Close() })
	if err := ms.CreateAccount(ctx, meta.Account{ID: acct, Name: "t"}); err != nil {
		t.Fatal(err)
	}
	bs, err := fs.NewWithOptions(dir, fs.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	reg := registry.New(ms, bs, registry.Options{CreateOnPush: true})
	repo, err := reg.Repository(ctx, acct, "team/app", true)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, reg: reg, repo: repo}
}

func (f *fixture) blob(b []byte) digest.Digest {
	f.t.Helper()
	d := digest.FromBytes(b)
	if _, err := f.reg.PutBlob(context.Background(), f.repo, d, int64(len(b)), bytes.NewReader(b)); err != nil {
		f.t.Fatal(err)
	}
	return d
}

func (f *fixture) manifest(mt string, body []byte, tag string) meta.Manifest {
	f.t.Helper()
	ref := names.Reference{Tag: tag}
	if tag == "" {
		ref = names.Reference{Digest: digest.FromBytes(body)}
	}
	if _, err := f.reg.PutManifest(context.Background(), f.repo, ref, mt, body, registry.Actor{Principal: "t", Via: "test"}); err != nil {
		f.t.Fatal(err)
	}
	m, err := f.reg.GetManifest(context.Background(), f.repo, names.Reference{Digest: digest.FromBytes(body)})
	if err != nil {
		f.t.Fatal(err)
	}
	return m
}

// image pushes a Debian-like image and returns its manifest.
func (f *fixture) image(arch, tag string) meta.Manifest {
	cfg := []byte(`{"architecture":"` + arch + `","os":"linux","rootfs":{"type":"layers"}}`)
	layer := layerTar(f.t, map[string]string{"etc/os-release": osRelease, "var/lib/dpkg/status": dpkgStatus})
	body := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%d}]}`,
		f.blob(cfg), len(cfg), f.blob(layer), len(layer)))
	return f.manifest(manifest.OCIManifest, body, tag)
}

func TestGenerateAndAttach(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	img := f.image("amd64", "v1")
	clock := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	s := &Service{Registry: f.reg, ToolVersion: "test", Now: func() time.Time { return clock }}

	doc, err := s.Generate(ctx, f.repo, img, sbom.CycloneDX16, "127.0.0.1:5000")
	if err != nil {
		t.Fatal(err)
	}
	if doc.Platform != "linux/amd64" || doc.MediaType != sbom.MediaTypeCycloneDX || doc.Subject.Digest != img.Digest {
		t.Fatalf("document %+v", doc)
	}
	var bom struct {
		SpecVersion string
		Components  []struct{ Type, Name, Version, Purl string }
	}
	if err := json.Unmarshal(doc.Content, &bom); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range bom.Components {
		got = append(got, c.Type+" "+c.Name+" "+c.Version)
	}
	if bom.SpecVersion != "1.6" || strings.Join(got, ",") != "operating-system debian 12,library libc6 2.36-9+deb12u4,library zlib1g 1:1.2.13.dfsg-1" {
		t.Fatalf("spec %s components %q", bom.SpecVersion, got)
	}

	att, err := s.Attach(ctx, f.repo, doc, registry.Actor{Principal: "t", Via: "test"})
	if err != nil || att.Existing {
		t.Fatalf("attach: %+v %v", att, err)
	}
	refs, err := f.reg.Meta().ListReferrers(ctx, f.repo.ID, img.Digest)
	if err != nil || len(refs) != 1 || refs[0].ArtifactType != sbom.MediaTypeCycloneDX || refs[0].Digest != att.Digest {
		t.Fatalf("referrers %+v %v", refs, err)
	}
	// The attached layer is the document.
	m, err := f.reg.GetManifest(ctx, f.repo, names.Reference{Digest: digest.Digest(att.Digest)})
	if err != nil {
		t.Fatal(err)
	}
	p, err := manifest.Parse(m.MediaType, m.Content)
	if err != nil || p.Subject == nil || string(p.Subject.Digest) != img.Digest || len(p.Layers) != 1 {
		t.Fatalf("artifact %s: %v", m.Content, err)
	}
	rd, _, err := f.reg.OpenBlob(ctx, f.repo, p.Layers[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	buf.ReadFrom(rd)
	rd.Close()
	if !bytes.Equal(buf.Bytes(), doc.Content) {
		t.Error("attached layer differs from the document")
	}

	// Attaching the same SBOM again (later) pushes nothing.
	clock = clock.Add(time.Hour)
	doc2, err := s.Generate(ctx, f.repo, img, sbom.CycloneDX16, "127.0.0.1:5000")
	if err != nil {
		t.Fatal(err)
	}
	if att2, err := s.Attach(ctx, f.repo, doc2, registry.Actor{Principal: "t", Via: "test"}); err != nil || !att2.Existing || att2.Digest != att.Digest {
		t.Fatalf("re-attach: %+v %v", att2, err)
	}
	// SPDX is another document.
	spdxDoc, err := s.Generate(ctx, f.repo, img, sbom.SPDX23, "127.0.0.1:5000")
	if err != nil {
		t.Fatal(err)
	}
	if att3, err := s.Attach(ctx, f.repo, spdxDoc, registry.Actor{Principal: "t", Via: "test"}); err != nil || att3.Existing {
		t.Fatalf("spdx attach: %+v %v", att3, err)
	}
	// An artifact (the SBOM itself) has no SBOM.
	if _, err := s.Generate(ctx, f.repo, m, sbom.SPDX23, ""); !errors.Is(err, ErrNotImage) {
		t.Errorf("artifact: %v", err)
	}
}

type storedInventories map[string]*inventory.Inventory

func (s storedInventories) ImageInventory(_ context.Context, _, _, d string) (*inventory.Inventory, bool, error) {
	inv, ok := s[d]
	return inv, ok, nil
}

func TestIndexPlatformAndStoredInventory(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	amd, arm := f.image("amd64", ""), f.image("arm64", "")
	idx := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[`+
		`{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%d,"platform":{"os":"linux","architecture":"amd64"}},`+
		`{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%d,"platform":{"os":"linux","architecture":"arm64","variant":"v8"}}]}`,
		amd.Digest, amd.Size, arm.Digest, arm.Size))
	index := f.manifest(manifest.OCIIndex, idx, "multi")
	extracted := 0
	s := &Service{Registry: f.reg,
		Inventories: storedInventories{amd.Digest: {Platform: "linux/amd64", Packages: []inventory.Package{{Name: "stored", Version: "1", Kind: inventory.KindOS}}}},
		Extract: func(ctx context.Context, l []inventory.Layer, o inventory.Options) (*inventory.Inventory, error) {
			extracted++
			return inventory.Extract(ctx, l, o)
		}}
	if _, err := s.Platform(ctx, f.repo, index, ""); !errors.Is(err, ErrIndex) || !strings.Contains(err.Error(), "linux/arm64/v8 "+arm.Digest) {
		t.Fatalf("index without platform: %v", err)
	}
	m, err := s.Platform(ctx, f.repo, index, "linux/arm64")
	if err != nil || m.Digest != arm.Digest {
		t.Fatalf("arm64: %v %v", m.Digest, err)
	}
	if m, err := s.Platform(ctx, f.repo, amd, "ignored"); err != nil || m.Digest != amd.Digest {
		t.Fatalf("plain image: %v", err)
	}
	// The stored inventory is used; the other platform is extracted.
	doc, err := s.Generate(ctx, f.repo, amd, sbom.SPDX23, "")
	if err != nil || !strings.Contains(string(doc.Content), `"name": "stored"`) || extracted != 0 {
		t.Fatalf("stored inventory: %v, %d extractions", err, extracted)
	}
	if _, err := s.Generate(ctx, f.repo, arm, sbom.SPDX23, ""); err != nil || extracted != 1 {
		t.Fatalf("extraction: %v, %d", err, extracted)
	}
}
