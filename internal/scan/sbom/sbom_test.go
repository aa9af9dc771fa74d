package sbom

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdx/v2/common"

	"github.com/wharfhq/wharf/internal/scan/inventory"
)

const digestA = "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"

func testInventory() *inventory.Inventory {
	return &inventory.Inventory{
		Platform: "linux/amd64",
		Distro:   inventory.Distro{ID: "debian", VersionID: "12", VersionCodename: "bookworm", PrettyName: "Debian GNU/Linux 12 (bookworm)"},
		Packages: []inventory.Package{
			{Name: "zlib1g", Version: "1:1.2.13.dfsg-1", Ecosystem: "Debian", Kind: inventory.KindOS, SourceName: "zlib",
				Arch: "amd64", PURL: "pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1?arch=amd64&distro=debian-12",
				Locations: []string{"var/lib/dpkg/status"}, Licenses: []string{"Zlib"}},
			{Name: "golang.org/x/net", Version: "v0.17.0", Ecosystem: "Go", Kind: inventory.KindLanguage,
				PURL: "pkg:golang/golang.org/x/net@v0.17.0", Locations: []string{"usr/bin/app"}, Licenses: []string{"BSD-3-Clause"}},
			{Name: "libc6", Version: "2.36-9+deb12u4", Ecosystem: "Debian", Kind: inventory.KindOS, SourceName: "glibc",
				Arch: "amd64", PURL: "pkg:deb/debian/libc6@2.36-9+deb12u4?arch=amd64&distro=debian-12",
				Locations: []string{"var/lib/dpkg/status"}, Licenses: []string{"GPL-2+", "LGPL-2.1+", "Unicode Data Files"}},
			// The same module found in a second binary: one component, two locations.
			{Name: "golang.org/x/net", Version: "v0.17.0", Ecosystem: "Go", Kind: inventory.KindLanguage,
				PURL: "pkg:golang/golang.org/x/net@v0.17.0", Locations: []string{"usr/bin/tool"}, Licenses: []string{"BSD-3-Clause"}},
			{Name: "left-pad", Version: "1.3.0", Ecosystem: "npm", Kind: inventory.KindLanguage,
				PURL: "pkg:npm/left-pad@1.3.0", Locations: []string{"app/node_modules/left-pad/package.json"}, Licenses: []string{"WTFPL"}},
		},
	}
}

func testSubject() Subject {
	return Subject{Registry: "127.0.0.1:5000", Repository: "team/app", Digest: digestA,
		Created: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC), ToolVersion: "1.2.3"}
}

func shuffled(inv *inventory.Inventory, seed uint64) *inventory.Inventory {
	c := *inv
	c.Packages = slices.Clone(inv.Packages)
	r := rand.New(rand.NewPCG(seed, seed))
	r.Shuffle(len(c.Packages), func(i, j int) { c.Packages[i], c.Packages[j] = c.Packages[j], c.Packages[i] })
	return &c
}

func TestCycloneDXStructure(t *testing.T) {
	out, err := CycloneDX(testInventory(), testSubject())
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(out, &raw); err != nil {
		t.Fatal(err)
	}
	if raw["specVersion"] != "1.6" || raw["bomFormat"] != "CycloneDX" || !strings.Contains(raw["$schema"].(string), "1.6") {
		t.Fatalf("header: specVersion %v bomFormat %v $schema %v", raw["specVersion"], raw["bomFormat"], raw["$schema"])
	}
	bom := new(cdx.BOM)
	if err := cdx.NewBOMDecoder(bytes.NewReader(out), cdx.BOMFileFormatJSON).Decode(bom); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(bom.SerialNumber) {
		t.Errorf("serial number %q is not a name-based urn:uuid", bom.SerialNumber)
	}
	if bom.Metadata == nil || bom.Metadata.Component == nil {
		t.Fatal("no metadata component")
	}
	if bom.Metadata.Timestamp != "2026-03-04T05:06:07Z" {
		t.Errorf("timestamp %q", bom.Metadata.Timestamp)
	}
	img := bom.Metadata.Component
	wantPURL := "pkg:oci/app@sha256%3A2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae?arch=amd64&repository_url=127.0.0.1%3A5000/team/app"
	if img.Type != cdx.ComponentTypeContainer || img.Name != "team/app" || img.Version != digestA || img.PackageURL != wantPURL {
		t.Errorf("image component %+v", img)
	}
	if bom.Metadata.Tools == nil || bom.Metadata.Tools.Components == nil || (*bom.Metadata.Tools.Components)[0].Version != "1.2.3" {
		t.Errorf("tools %+v", bom.Metadata.Tools)
	}
	comps := *bom.Components
	// OS first, then OS packages, then language packages; the duplicate merged.
	var got []string
	for _, c := range comps {
		got = append(got, string(c.Type)+" "+c.Name)
	}
	want := []string{"operating-system debian", "library libc6", "library zlib1g", "library golang.org/x/net", "library left-pad"}
	if !slices.Equal(got, want) {
		t.Fatalf("components\n got %q\nwant %q", got, want)
	}
	if comps[0].Version != "12" || comps[0].Description != "Debian GNU/Linux 12 (bookworm)" {
		t.Errorf("os component %+v", comps[0])
	}
	refs := map[string]bool{}
	for _, c := range comps {
		if c.BOMRef == "" || refs[c.BOMRef] {
			t.Errorf("bom-ref %q empty or duplicate", c.BOMRef)
		}
		refs[c.BOMRef] = true
	}
	libc := comps[1]
	if libc.PackageURL != "pkg:deb/debian/libc6@2.36-9+deb12u4?arch=amd64&distro=debian-12" || libc.Version != "2.36-9+deb12u4" {
		t.Errorf("libc6 %+v", libc)
	}
	var lic []string
	for _, l := range *libc.Licenses {
		if l.License.ID != "" {
			lic = append(lic, "id:"+l.License.ID)
		} else {
			lic = append(lic, "name:"+l.License.Name)
		}
	}
	if !slices.Equal(lic, []string{"id:GPL-2.0-or-later", "id:LGPL-2.1-or-later", "name:Unicode Data Files"}) {
		t.Errorf("libc6 licenses %q", lic)
	}
	if p := property(libc, propSourceName); p != "glibc" {
		t.Errorf("source name property %q", p)
	}
	xnet := comps[3]
	if xnet.Evidence == nil || len(*xnet.Evidence.Occurrences) != 2 {
		t.Fatalf("x/net occurrences %+v", xnet.Evidence)
	}
	if (*xnet.Evidence.Occurrences)[0].Location != "usr/bin/app" || (*xnet.Evidence.Occurrences)[1].Location != "usr/bin/tool" {
		t.Errorf("x/net locations %+v", *xnet.Evidence.Occurrences)
	}
}

func property(c cdx.Component, name string) string {
	if c.Properties == nil {
		return ""
	}
	for _, p := range *c.Properties {
		if p.Name == name {
			return p.Value
		}
	}
	return ""
}

func TestSPDXStructure(t *testing.T) {
	out, err := SPDX(testInventory(), testSubject())
	if err != nil {
		t.Fatal(err)
	}
	doc, err := spdxjson.Read(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if doc.SPDXVersion != "SPDX-2.3" || doc.DataLicense != "CC0-1.0" || doc.SPDXIdentifier != "DOCUMENT" {
		t.Fatalf("header %q %q %q", doc.SPDXVersion, doc.DataLicense, doc.SPDXIdentifier)
	}
	if doc.DocumentName != "team/app@"+digestA {
		t.Errorf("name %q", doc.DocumentName)
	}
	if !strings.HasPrefix(doc.DocumentNamespace, "https://127.0.0.1:5000/spdx/team/app/sha256-2c26b46b") || strings.Contains(doc.DocumentNamespace, "#") {
		t.Errorf("namespace %q", doc.DocumentNamespace)
	}
	if doc.CreationInfo.Created != "2026-03-04T05:06:07Z" || doc.CreationInfo.Creators[0].Creator != "wharf-1.2.3" || doc.CreationInfo.Creators[0].CreatorType != "Tool" {
		t.Errorf("creation info %+v", doc.CreationInfo)
	}
	byID := map[common.ElementID]int{}
	for i, p := range doc.Packages {
		if _, dup := byID[p.PackageSPDXIdentifier]; dup {
			t.Errorf("duplicate SPDXID %q", p.PackageSPDXIdentifier)
		}
		byID[p.PackageSPDXIdentifier] = i
		if !regexp.MustCompile(`^[A-Za-z0-9.-]+$`).MatchString(string(p.PackageSPDXIdentifier)) {
			t.Errorf("SPDXID %q has invalid characters", p.PackageSPDXIdentifier)
		}
		if p.PackageDownloadLocation == "" {
			t.Errorf("%s: no downloadLocation", p.PackageName)
		}
	}
	if len(doc.Packages) != 6 { // image, OS, 4 distinct packages
		t.Fatalf("%d packages", len(doc.Packages))
	}
	img := doc.Packages[0]
	if img.PackageSPDXIdentifier != imageID || img.PrimaryPackagePurpose != "CONTAINER" || img.PackageChecksums[0].Value != strings.TrimPrefix(digestA, "sha256:") {
		t.Errorf("image package %+v", img)
	}
	if doc.Packages[1].PrimaryPackagePurpose != "OPERATING-SYSTEM" || doc.Packages[1].PackageName != "debian" {
		t.Errorf("os package %+v", doc.Packages[1])
	}
	var describes, contains int
	for _, r := range doc.Relationships {
		switch r.Relationship {
		case common.TypeRelationshipDescribe:
			describes++
			if r.RefA.ElementRefID != "DOCUMENT" || r.RefB.ElementRefID != imageID {
				t.Errorf("DESCRIBES %+v", r)
			}
		case common.TypeRelationshipContains:
			contains++
			if r.RefA.ElementRefID != imageID {
				t.Errorf("CONTAINS from %q", r.RefA.ElementRefID)
			}
			if _, ok := byID[r.RefB.ElementRefID]; !ok {
				t.Errorf("CONTAINS names unknown %q", r.RefB.ElementRefID)
			}
		}
	}
	if describes != 1 || contains != 5 {
		t.Errorf("%d DESCRIBES, %d CONTAINS", describes, contains)
	}
	purls := map[string]string{}
	for _, p := range doc.Packages {
		for _, r := range p.PackageExternalReferences {
			if r.Category == common.CategoryPackageManager && r.RefType == common.TypePackageManagerPURL {
				purls[p.PackageName] = r.Locator
			}
		}
	}
	if purls["left-pad"] != "pkg:npm/left-pad@1.3.0" || purls["libc6"] == "" || !strings.HasPrefix(purls["team/app"], "pkg:oci/app@") {
		t.Errorf("purls %v", purls)
	}
	var libc6 string
	for _, p := range doc.Packages {
		if p.PackageName == "libc6" {
			libc6 = p.PackageLicenseDeclared
			if p.PackageSourceInfo != "built from source package glibc" {
				t.Errorf("sourceInfo %q", p.PackageSourceInfo)
			}
		}
	}
	ref := licenseRef("Unicode Data Files")
	if libc6 != "GPL-2.0-or-later AND LGPL-2.1-or-later AND "+ref {
		t.Errorf("libc6 licenseDeclared %q", libc6)
	}
	if len(doc.OtherLicenses) != 1 || doc.OtherLicenses[0].LicenseIdentifier != ref || doc.OtherLicenses[0].ExtractedText != "Unicode Data Files" {
		t.Errorf("extracted licenses %+v", doc.OtherLicenses)
	}
}

func TestDeterministic(t *testing.T) {
	for _, f := range []Format{CycloneDX16, SPDX23} {
		t.Run(string(f), func(t *testing.T) {
			a, err := Generate(f, testInventory(), testSubject())
			if err != nil {
				t.Fatal(err)
			}
			for seed := uint64(1); seed <= 5; seed++ {
				b, err := Generate(f, shuffled(testInventory(), seed), testSubject())
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(a, b) {
					t.Fatalf("seed %d: output depends on package order", seed)
				}
			}
			other := testSubject()
			other.Digest = "sha256:" + strings.Repeat("b", 64)
			c, err := Generate(f, testInventory(), other)
			if err != nil {
				t.Fatal(err)
			}
			id := func(b []byte) string {
				var m struct {
					SerialNumber      string `json:"serialNumber"`
					DocumentNamespace string `json:"documentNamespace"`
				}
				if err := json.Unmarshal(b, &m); err != nil {
					t.Fatal(err)
				}
				return m.SerialNumber + m.DocumentNamespace
			}
			if id(a) == "" || id(a) == id(c) {
				t.Errorf("document id %q does not depend on the digest (other: %q)", id(a), id(c))
			}
		})
	}
}

func TestEmptyInventoryAndErrors(t *testing.T) {
	for _, f := range []Format{CycloneDX16, SPDX23} {
		out, err := Generate(f, &inventory.Inventory{}, Subject{Repository: "scratch", Digest: digestA})
		if err != nil {
			t.Fatalf("%s: empty inventory: %v", f, err)
		}
		if !json.Valid(out) {
			t.Fatalf("%s: invalid JSON", f)
		}
		if _, err := Generate(f, &inventory.Inventory{}, Subject{Repository: "x", Digest: "nope"}); err == nil {
			t.Errorf("%s: bad digest accepted", f)
		}
		if _, err := Generate(f, nil, testSubject()); err == nil {
			t.Errorf("%s: nil inventory accepted", f)
		}
	}
	if _, err := Generate("XML", testInventory(), testSubject()); err == nil {
		t.Error("unknown format accepted")
	}
}

func TestParseFormat(t *testing.T) {
	for in, want := range map[string]Format{"cyclonedx": CycloneDX16, "CYCLONEDX_1_6": CycloneDX16, "spdx": SPDX23, "SPDX_2_3": SPDX23} {
		if got, ok := ParseFormat(in); !ok || got != want {
			t.Errorf("ParseFormat(%q) = %q, %v", in, got, ok)
		}
	}
	if _, ok := ParseFormat("swid"); ok {
		t.Error("swid accepted")
	}
	if CycloneDX16.MediaType() != MediaTypeCycloneDX || SPDX23.MediaType() != MediaTypeSPDX {
		t.Error("media types")
	}
}

func TestLicenseRef(t *testing.T) {
	for _, n := range []string{"Unicode Data Files", "public-domain", "GPL/2", ""} {
		r := licenseRef(n)
		if !regexp.MustCompile(`^LicenseRef-[A-Za-z0-9.-]+$`).MatchString(r) {
			t.Errorf("licenseRef(%q) = %q", n, r)
		}
	}
	if licenseRef("a b") == licenseRef("a-b") {
		t.Error("distinct names share a LicenseRef")
	}
}
