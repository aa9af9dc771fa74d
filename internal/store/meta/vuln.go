package meta

import (
	"context"
	"time"
)

// This file holds open vulnerability data (internal/scan/vulndb): OSV
// advisories as imported, indexed by the packages they affect so that a
// scanner can load only what concerns the packages it has, and the sources
// they were imported from. The store keeps each advisory's document opaque;
// only its id, modification time, withdrawal and package keys are columns.

// VulnPackage is a package an advisory affects, as the matcher looks it up:
// the OSV ecosystem (with its release suffix for OS ecosystems, "Debian:12")
// and the package name, both normalised by the vulndb package.
type VulnPackage struct {
	Ecosystem string `json:"ecosystem"`
	Name      string `json:"name"`
}

// VulnAdvisory is one stored advisory.
type VulnAdvisory struct {
	ID string
	// Modified is the advisory's OSV "modified" time: given two versions of
	// one id, the later is authoritative.
	Modified time.Time
	// Withdrawn is the OSV "withdrawn" time (zero: not withdrawn).
	Withdrawn time.Time
	// Source names the import source that wrote this version.
	Source string
	// ImportedAt is when this version was stored (zero on input: now).
	ImportedAt time.Time
	// Packages are the keys it affects (deduplicated by the store).
	Packages []VulnPackage
	// Data is the advisory document, opaque to the store (vulndb keeps
	// the OSV JSON compressed).
	Data []byte
}

// VulnPutOutcome says what PutVulnAdvisories did with one advisory.
type VulnPutOutcome int

const (
	// VulnAdded: the id was new.
	VulnAdded VulnPutOutcome = iota + 1
	// VulnUpdated: a version with an earlier Modified was replaced.
	VulnUpdated
	// VulnUnchanged: the stored version has the same Modified; kept.
	VulnUnchanged
	// VulnOlder: the stored version is newer; kept.
	VulnOlder
)

// VulnPutResult is the outcome for one advisory of a PutVulnAdvisories call.
type VulnPutResult struct {
	Outcome VulnPutOutcome
	// Previous are the package keys of the version an update replaced, so
	// that packages an advisory no longer names can be rescanned too.
	Previous []VulnPackage
}

// VulnSource is an import source: a named feed (a directory of OSV files,
// an osv.dev all.zip, ...) and what its last import did.
type VulnSource struct {
	Name string
	// Path is where it was last imported from.
	Path string
	// ImportedAt is when it was last imported (zero on input: now).
	ImportedAt time.Time
	// UpdatedAt is the newest advisory "modified" time it has carried:
	// ECR's vulnerabilitySourceUpdatedAt. The store keeps the later of the
	// stored and the given value.
	UpdatedAt time.Time
	// Counts of the last import.
	Added, Updated, Unchanged, Older, Invalid int64
	// Advisories is the number of stored advisories, not withdrawn, whose
	// stored version this source wrote (set by ListVulnSources; ignored on
	// input).
	Advisories int64
}

// VulnEcosystemCount is the number of advisories (not withdrawn) affecting
// at least one package of an ecosystem.
type VulnEcosystemCount struct {
	Ecosystem  string
	Advisories int64
}

// VulnQuery selects advisories to list.
type VulnQuery struct {
	// AfterID pages: only ids sorting after it (byte order).
	AfterID string
	// Limit <= 0 means no limit.
	Limit int
	// IncludeWithdrawn lists withdrawn advisories too.
	IncludeWithdrawn bool
	// WithoutData leaves Data nil (cheaper when only ids and times are
	// needed).
	WithoutData bool
}

// VulnStore keeps vulnerability advisories and their import sources.
type VulnStore interface {
	// PutVulnAdvisories writes the advisories in one transaction: an id not
	// stored yet is added, one stored with an earlier Modified is replaced
	// (document, withdrawal, source and package keys), and otherwise the
	// stored version stays. It returns one result per input, in order; an
	// id given twice is decided in input order.
	PutVulnAdvisories(ctx context.Context, advs []VulnAdvisory) ([]VulnPutResult, error)
	// ListVulnAdvisories returns advisories by increasing id, with their
	// package keys.
	ListVulnAdvisories(ctx context.Context, q VulnQuery) ([]VulnAdvisory, error)
	// VulnAdvisoriesFor returns the advisories (not withdrawn) affecting any
	// of the given packages, by increasing id, with their package keys.
	VulnAdvisoriesFor(ctx context.Context, pkgs []VulnPackage) ([]VulnAdvisory, error)
	// CountVulnAdvisories counts the advisories not withdrawn, in all and
	// per ecosystem (by ecosystem name).
	CountVulnAdvisories(ctx context.Context) (total int64, perEcosystem []VulnEcosystemCount, err error)

	// PutVulnSource records an import of a source (insert or update).
	PutVulnSource(ctx context.Context, src VulnSource) error
	// ListVulnSources lists the sources by name.
	ListVulnSources(ctx context.Context) ([]VulnSource, error)
}
