// Package vulndb holds open vulnerability data in the OSV schema: it imports
// advisories (a directory of OSV JSON files, one file, or osv.dev's
// per-ecosystem all.zip) into the metadata store and matches inventories
// against them with each ecosystem's version order.
package vulndb

import (
	"strings"
	"time"

	"github.com/wharfhq/wharf/internal/scan/inventory"
)

// Severities, spelled as ECR's FindingSeverity.
const (
	SeverityCritical      = "CRITICAL"
	SeverityHigh          = "HIGH"
	SeverityMedium        = "MEDIUM"
	SeverityLow           = "LOW"
	SeverityInformational = "INFORMATIONAL"
	SeverityUndefined     = "UNDEFINED"
)

// Finding is one advisory affecting one package of an inventory.
type Finding struct {
	// ID is the advisory's id as published (CVE-2024-1234, GHSA-...,
	// DLA-..., ...); Aliases its other ids.
	ID      string   `json:"id"`
	Aliases []string `json:"aliases,omitempty"`
	Summary string   `json:"summary,omitempty"`
	Details string   `json:"details,omitempty"`
	// URI is a reference URL for the advisory.
	URI string `json:"uri,omitempty"`
	// Severity is one of the Severity constants: the distribution's own
	// rating when the data carries one, else from the CVSS score.
	Severity string `json:"severity"`
	// Score and Vector are the CVSS base score and vector used ("" and 0
	// when there is none); CVSSVersion is "4.0", "3.1", "3.0" or "2.0".
	Score       float64 `json:"score,omitempty"`
	Vector      string  `json:"vector,omitempty"`
	CVSSVersion string  `json:"cvssVersion,omitempty"`
	// Package is the affected package as found in the inventory.
	Package inventory.Package `json:"package"`
	// FixedVersion is the first version that fixes it ("" when none).
	FixedVersion string    `json:"fixedVersion,omitempty"`
	Published    time.Time `json:"published,omitempty"`
	Modified     time.Time `json:"modified,omitempty"`
	// Upstream are the upstream vulnerabilities a distribution's advisory
	// refers to (OSV "upstream": the CVE of a DEBIAN-CVE-... record, the
	// CVEs a DSA fixes).
	Upstream []string `json:"upstream,omitempty"`
}

// CVE is the CVE id the finding is about, "" when it has none: its ID if
// that is one, else its first CVE alias, else its upstream CVE when it has
// exactly one (a distribution's per-CVE record). ECR names findings by
// CVE where there is one.
func (f *Finding) CVE() string {
	if strings.HasPrefix(f.ID, "CVE-") {
		return f.ID
	}
	for _, a := range f.Aliases {
		if strings.HasPrefix(a, "CVE-") {
			return a
		}
	}
	if len(f.Upstream) == 1 && strings.HasPrefix(f.Upstream[0], "CVE-") {
		return f.Upstream[0]
	}
	return ""
}
