package sbom

import (
	"bytes"
	"fmt"

	cdx "github.com/CycloneDX/cyclonedx-go"

	"github.com/wharfhq/wharf/internal/scan/inventory"
)

// Property names Wharf adds to components (CycloneDX properties are
// namespaced by convention).
const (
	propSourceName    = "wharf:package:sourceName"
	propSourceVersion = "wharf:package:sourceVersion"
	propEcosystem     = "wharf:package:ecosystem"
	propPlatform      = "wharf:image:platform"
)

// CycloneDX writes a CycloneDX 1.6 JSON BOM of the image: metadata names
// the image as a container component (with its pkg:oci purl), components
// are the packages (type library; the distro as an operating-system
// component), each with version, purl, licenses and the paths it was found
// at (evidence occurrences).
func CycloneDX(inv *inventory.Inventory, subject Subject) ([]byte, error) {
	if inv == nil {
		return nil, fmt.Errorf("sbom: no inventory")
	}
	if err := subject.validate(); err != nil {
		return nil, err
	}
	platform := subject.platform(inv)
	image := cdx.Component{
		BOMRef:     subject.imagePURL(platform),
		Type:       cdx.ComponentTypeContainer,
		Name:       subject.Repository,
		Version:    subject.Digest,
		PackageURL: subject.imagePURL(platform),
	}
	if platform != "" {
		image.Properties = &[]cdx.Property{{Name: propPlatform, Value: platform}}
	}
	tool := cdx.Component{Type: cdx.ComponentTypeApplication, Name: "wharf", Version: subject.ToolVersion}
	bom := cdx.NewBOM()
	bom.SerialNumber = "urn:uuid:" + subject.documentID("cyclonedx", platform).String()
	bom.Version = 1
	bom.Metadata = &cdx.Metadata{
		Timestamp: timestamp(subject.Created),
		Tools:     &cdx.ToolsChoice{Components: &[]cdx.Component{tool}},
		Component: &image,
	}

	comps := []cdx.Component{}
	if d := inv.Distro; d.ID != "" {
		comps = append(comps, cdx.Component{
			BOMRef:      "os:" + d.ID + "@" + d.VersionID,
			Type:        cdx.ComponentTypeOS,
			Name:        d.ID,
			Version:     d.VersionID,
			Description: d.PrettyName,
		})
	}
	for _, p := range packages(inv) {
		c := cdx.Component{
			BOMRef:     p.ref,
			Type:       cdx.ComponentTypeLibrary,
			Name:       p.Name,
			Version:    p.Version,
			PackageURL: p.PURL,
		}
		if ls := cdxLicenses(p.Licenses); ls != nil {
			c.Licenses = ls
		}
		var props []cdx.Property
		if p.Ecosystem != "" {
			props = append(props, cdx.Property{Name: propEcosystem, Value: p.Ecosystem})
		}
		if p.SourceName != "" {
			props = append(props, cdx.Property{Name: propSourceName, Value: p.SourceName})
		}
		if p.SourceVersion != "" {
			props = append(props, cdx.Property{Name: propSourceVersion, Value: p.SourceVersion})
		}
		if len(props) > 0 {
			c.Properties = &props
		}
		if len(p.Locations) > 0 {
			occ := make([]cdx.EvidenceOccurrence, len(p.Locations))
			for i, l := range p.Locations {
				occ[i] = cdx.EvidenceOccurrence{Location: l}
			}
			c.Evidence = &cdx.Evidence{Occurrences: &occ}
		}
		comps = append(comps, c)
	}
	bom.Components = &comps

	var buf bytes.Buffer
	enc := cdx.NewBOMEncoder(&buf, cdx.BOMFileFormatJSON)
	enc.SetPretty(true)
	enc.SetEscapeHTML(false)
	if err := enc.EncodeVersion(bom, cdx.SpecVersion1_6); err != nil {
		return nil, fmt.Errorf("sbom: encoding CycloneDX: %w", err)
	}
	return buf.Bytes(), nil
}

// cdxLicenses writes SPDX identifiers as ids and anything else as names.
func cdxLicenses(names []string) *cdx.Licenses {
	if len(names) == 0 {
		return nil
	}
	ls := make(cdx.Licenses, 0, len(names))
	seen := map[string]bool{}
	for _, n := range names {
		lic := &cdx.License{Name: n}
		if id, ok := spdxID(n); ok {
			lic = &cdx.License{ID: id}
			n = id
		}
		if seen[n] {
			continue
		}
		seen[n] = true
		ls = append(ls, cdx.LicenseChoice{License: lic})
	}
	return &ls
}
