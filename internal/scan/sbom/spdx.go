package sbom

import (
	"bytes"
	"fmt"
	"net/url"
	"strings"

	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdx/v2/common"
	spdx "github.com/spdx/tools-golang/spdx/v2/v2_3"

	"github.com/wharfhq/wharf/internal/scan/inventory"
)

const (
	noAssertion = "NOASSERTION"
	imageID     = "Image"
)

// SPDX writes an SPDX 2.3 JSON document of the image: the document
// DESCRIBES the image (a CONTAINER package with its pkg:oci purl), which
// CONTAINS the distro (an OPERATING-SYSTEM package) and every package, each
// with its version, purl external reference and declared licenses
// (identifiers when known, else LicenseRefs with the name as extracted text).
func SPDX(inv *inventory.Inventory, subject Subject) ([]byte, error) {
	if inv == nil {
		return nil, fmt.Errorf("sbom: no inventory")
	}
	if err := subject.validate(); err != nil {
		return nil, err
	}
	platform := subject.platform(inv)
	host := subject.Registry
	if host == "" {
		host = "wharf.invalid" // reserved: never resolves, but the namespace must be a URI
	}
	ns := (&url.URL{Scheme: "https", Host: host, Path: "/spdx/" + subject.Repository + "/" +
		strings.ReplaceAll(subject.Digest, ":", "-") + "-" + subject.documentID("spdx", platform).String()}).String()

	tool := "wharf"
	if subject.ToolVersion != "" {
		tool += "-" + subject.ToolVersion
	}
	doc := &spdx.Document{
		SPDXVersion:       spdx.Version,
		DataLicense:       spdx.DataLicense,
		SPDXIdentifier:    "DOCUMENT",
		DocumentName:      subject.name(),
		DocumentNamespace: ns,
		CreationInfo: &spdx.CreationInfo{
			Creators: []common.Creator{{CreatorType: "Tool", Creator: tool}},
			Created:  timestamp(subject.Created),
		},
	}
	image := &spdx.Package{
		PackageName:               subject.Repository,
		PackageSPDXIdentifier:     imageID,
		PackageVersion:            subject.Digest,
		PackageDownloadLocation:   noAssertion,
		FilesAnalyzed:             false,
		IsFilesAnalyzedTagPresent: true,
		PackageLicenseConcluded:   noAssertion,
		PackageLicenseDeclared:    noAssertion,
		PackageCopyrightText:      noAssertion,
		PrimaryPackagePurpose:     "CONTAINER",
		PackageExternalReferences: []*spdx.PackageExternalReference{{
			Category: common.CategoryPackageManager, RefType: common.TypePackageManagerPURL, Locator: subject.imagePURL(platform),
		}},
	}
	if platform != "" {
		image.PackageComment = "platform " + platform
	}
	if alg, hexd, ok := strings.Cut(subject.Digest, ":"); ok && alg == "sha256" {
		image.PackageChecksums = []common.Checksum{{Algorithm: common.SHA256, Value: hexd}}
	}
	doc.Packages = append(doc.Packages, image)
	doc.Relationships = append(doc.Relationships, &spdx.Relationship{
		RefA: common.MakeDocElementID("", "DOCUMENT"), RefB: common.MakeDocElementID("", imageID), Relationship: common.TypeRelationshipDescribe,
	})
	contains := func(id common.ElementID) {
		doc.Relationships = append(doc.Relationships, &spdx.Relationship{
			RefA: common.MakeDocElementID("", imageID), RefB: common.MakeDocElementID("", string(id)), Relationship: common.TypeRelationshipContains,
		})
	}

	if d := inv.Distro; d.ID != "" {
		id := common.ElementID("OperatingSystem-" + spdxIDPart(d.ID))
		doc.Packages = append(doc.Packages, &spdx.Package{
			PackageName:               d.ID,
			PackageSPDXIdentifier:     id,
			PackageVersion:            d.VersionID,
			PackageDescription:        d.PrettyName,
			PackageDownloadLocation:   noAssertion,
			FilesAnalyzed:             false,
			IsFilesAnalyzedTagPresent: true,
			PackageLicenseConcluded:   noAssertion,
			PackageLicenseDeclared:    noAssertion,
			PackageCopyrightText:      noAssertion,
			PrimaryPackagePurpose:     "OPERATING-SYSTEM",
		})
		contains(id)
	}

	extracted := map[string]bool{}
	for _, p := range packages(inv) {
		id := common.ElementID("Package-" + spdxIDPart(p.Name) + "-" + shortHash(p.ref))
		sp := &spdx.Package{
			PackageName:               p.Name,
			PackageSPDXIdentifier:     id,
			PackageVersion:            p.Version,
			PackageDownloadLocation:   noAssertion,
			FilesAnalyzed:             false,
			IsFilesAnalyzedTagPresent: true,
			PackageLicenseConcluded:   noAssertion,
			PackageLicenseDeclared:    noAssertion,
			PackageCopyrightText:      noAssertion,
		}
		if p.Kind == inventory.KindLanguage {
			sp.PrimaryPackagePurpose = "LIBRARY"
		}
		if p.PURL != "" {
			sp.PackageExternalReferences = []*spdx.PackageExternalReference{{
				Category: common.CategoryPackageManager, RefType: common.TypePackageManagerPURL, Locator: p.PURL,
			}}
		}
		if p.SourceName != "" {
			src := p.SourceName
			if p.SourceVersion != "" {
				src += " " + p.SourceVersion
			}
			sp.PackageSourceInfo = "built from source package " + src
		}
		if len(p.Locations) > 0 {
			sp.PackageComment = "found at " + strings.Join(p.Locations, ", ")
		}
		if len(p.Licenses) > 0 {
			var terms []string
			seen := map[string]bool{}
			for _, l := range p.Licenses {
				term, ok := spdxID(l)
				if !ok {
					term = licenseRef(l)
					if !extracted[term] {
						extracted[term] = true
						doc.OtherLicenses = append(doc.OtherLicenses, &spdx.OtherLicense{
							LicenseIdentifier: term, ExtractedText: l, LicenseName: l,
						})
					}
				}
				if !seen[term] {
					seen[term] = true
					terms = append(terms, term)
				}
			}
			// Several licenses found for one package are all declared
			// (a package shipping files under each).
			sp.PackageLicenseDeclared = strings.Join(terms, " AND ")
		}
		doc.Packages = append(doc.Packages, sp)
		contains(id)
	}

	var buf bytes.Buffer
	if err := spdxjson.Write(doc, &buf, spdxjson.Indent("  "), spdxjson.EscapeHTML(false)); err != nil {
		return nil, fmt.Errorf("sbom: encoding SPDX: %w", err)
	}
	return buf.Bytes(), nil
}

// spdxIDPart keeps the characters SPDX identifiers allow (letters, digits,
// '.', '-'), replacing the others with '-'.
func spdxIDPart(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !isAlnum(c) && c != '.' && c != '-' {
			b[i] = '-'
		}
	}
	return string(b)
}
