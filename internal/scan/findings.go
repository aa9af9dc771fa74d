package scan

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/gob"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/wharfhq/wharf/internal/scan/vulndb"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// Finding statuses (Amazon Inspector's): a finding is ACTIVE while the
// latest match reports it and CLOSED once a match no longer does (the
// package was upgraded in a new image, or the advisory was withdrawn or
// corrected).
const (
	StatusActive = "ACTIVE"
	StatusClosed = "CLOSED"
)

// closedRetention is how long a CLOSED finding is kept with its image's
// scan before it is forgotten.
const closedRetention = 30 * 24 * time.Hour

// Finding is a vulnerability finding of an image, with its history.
type Finding struct {
	vulndb.Finding
	Status string `json:"status"`
	// FirstObservedAt is when a match first reported it; LastObservedAt
	// the latest match that did (for an ACTIVE finding, the scan's
	// completion time); UpdatedAt when its status or content last changed.
	FirstObservedAt time.Time `json:"firstObservedAt"`
	LastObservedAt  time.Time `json:"lastObservedAt"`
	UpdatedAt       time.Time `json:"updatedAt"`
	// Platforms are the platforms (os/arch[/variant]) it was found on;
	// for an index, possibly several.
	Platforms []string `json:"platforms,omitempty"`
}

// Key identifies a finding across scans: the advisory and the package
// (ecosystem, name, version) it affects.
func (f *Finding) Key() string { return findingKey(&f.Finding) }

func findingKey(f *vulndb.Finding) string {
	return f.ID + "\x00" + f.Package.Ecosystem + "\x00" + f.Package.Name + "\x00" + f.Package.Version
}

// severityRank orders severities from the most severe.
func severityRank(s string) int {
	switch s {
	case vulndb.SeverityCritical:
		return 0
	case vulndb.SeverityHigh:
		return 1
	case vulndb.SeverityMedium:
		return 2
	case vulndb.SeverityLow:
		return 3
	case vulndb.SeverityInformational:
		return 4
	}
	return 5
}

// Severities lists ECR's severities from the most severe.
var Severities = []string{vulndb.SeverityCritical, vulndb.SeverityHigh, vulndb.SeverityMedium,
	vulndb.SeverityLow, vulndb.SeverityInformational, vulndb.SeverityUndefined}

// normSeverity maps a severity the matcher gave to ECR's set.
func normSeverity(s string) string {
	if severityRank(s) < 5 {
		return s
	}
	return vulndb.SeverityUndefined
}

// sortFindings orders findings as the API lists them: active first, then
// by severity, advisory id and package.
func sortFindings(fs []Finding) {
	// Keys are built once, not per comparison.
	type entry struct {
		closed bool
		rank   int
		key    string
		f      Finding
	}
	es := make([]entry, len(fs))
	for i := range fs {
		es[i] = entry{fs[i].Status != StatusActive, severityRank(fs[i].Severity), fs[i].Key(), fs[i]}
	}
	slices.SortFunc(es, func(a, b entry) int {
		if a.closed != b.closed {
			if a.closed {
				return 1
			}
			return -1
		}
		if d := a.rank - b.rank; d != 0 {
			return d
		}
		return strings.Compare(a.key, b.key)
	})
	for i := range es {
		fs[i] = es[i].f
	}
}

// matchSet is the findings one match produced, deduplicated by key, with
// the platforms each was found on.
type matchSet struct {
	keys  []string // sorted
	byKey map[string]*Finding
}

// newMatchSet builds the set of a match over platforms: found[i] are the
// findings on platforms[i].
func newMatchSet(platforms []string, found [][]vulndb.Finding) *matchSet {
	ms := &matchSet{byKey: map[string]*Finding{}}
	for i, fs := range found {
		for j := range fs {
			f := &fs[j]
			k := findingKey(f)
			cur, ok := ms.byKey[k]
			if !ok {
				nf := &Finding{Finding: *f}
				nf.Severity = normSeverity(nf.Severity)
				// Stored times come back in UTC; so must these, for
				// sameContent to compare like with like.
				nf.Published, nf.Modified = utc(nf.Published), utc(nf.Modified)
				ms.byKey[k] = nf
				ms.keys = append(ms.keys, k)
				cur = nf
			}
			if p := platforms[i]; p != "" && !slices.Contains(cur.Platforms, p) {
				cur.Platforms = append(cur.Platforms, p)
			}
		}
	}
	slices.Sort(ms.keys)
	for _, f := range ms.byKey {
		slices.Sort(f.Platforms)
	}
	return ms
}

func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

// hash identifies the set's content: equal hashes mean a rescan found
// exactly what the previous match found, so nothing needs rewriting.
func (ms *matchSet) hash() string {
	h := sha256.New()
	var buf []byte
	for _, k := range ms.keys {
		buf = appendContent(buf[:0], ms.byKey[k])
		h.Write(buf)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// appendContent appends what a match reports of a finding (every field
// but its history), unambiguously delimited: the input of hash and of
// sameContent, cheaper than encoding the finding as JSON (a rescan hashes
// every finding of every image).
func appendContent(b []byte, f *Finding) []byte {
	str := func(s string) {
		b = strconv.AppendInt(b, int64(len(s)), 10)
		b = append(b, ':')
		b = append(b, s...)
	}
	strs := func(ss []string) {
		b = strconv.AppendInt(b, int64(len(ss)), 10)
		b = append(b, '[')
		for _, s := range ss {
			str(s)
		}
	}
	str(f.ID)
	strs(f.Aliases)
	str(f.Summary)
	str(f.Details)
	str(f.URI)
	str(f.Severity)
	b = strconv.AppendFloat(b, f.Score, 'g', -1, 64)
	str(f.Vector)
	str(f.CVSSVersion)
	p := &f.Package
	str(p.Name)
	str(p.Version)
	str(p.Ecosystem)
	str(p.Kind)
	str(p.SourceName)
	str(p.SourceVersion)
	str(p.Arch)
	str(p.PURL)
	strs(p.Locations)
	strs(p.Licenses)
	str(f.FixedVersion)
	b = strconv.AppendInt(b, f.Published.UnixNano(), 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, f.Modified.UnixNano(), 10)
	strs(f.Platforms)
	return b
}

// counts returns the set's findings by severity.
func (ms *matchSet) counts() map[string]int {
	var out map[string]int
	for _, f := range ms.byKey {
		if out == nil {
			out = map[string]int{}
		}
		out[f.Severity]++
	}
	return out
}

// merged is the outcome of merging a match into an image's findings.
type merged struct {
	findings []Finding
	// newCritical lists the ids of CRITICAL findings no previous match of
	// the image had reported.
	newCritical []string
	changed     bool
}

// merge applies a match at time now to the previous findings: findings
// seen before keep their first observation, those gone become CLOSED, and
// CLOSED findings older than closedRetention are forgotten.
func merge(prev []Finding, ms *matchSet, now time.Time) merged {
	old := make(map[string]*Finding, len(prev))
	for i := range prev {
		old[prev[i].Key()] = &prev[i]
	}
	var out merged
	for _, k := range ms.keys {
		f := *ms.byKey[k]
		f.Status, f.LastObservedAt = StatusActive, now
		p, seen := old[k]
		switch {
		case !seen:
			f.FirstObservedAt, f.UpdatedAt = now, now
			out.changed = true
			if f.Severity == vulndb.SeverityCritical && !slices.Contains(out.newCritical, f.ID) {
				out.newCritical = append(out.newCritical, f.ID)
			}
		case p.Status == StatusActive && sameContent(p, &f):
			f.FirstObservedAt, f.UpdatedAt = p.FirstObservedAt, p.UpdatedAt
		default: // reopened, or its advisory changed
			f.FirstObservedAt, f.UpdatedAt = p.FirstObservedAt, now
			out.changed = true
		}
		out.findings = append(out.findings, f)
	}
	for i := range prev {
		p := prev[i]
		if _, still := ms.byKey[p.Key()]; still {
			continue
		}
		if p.Status == StatusActive {
			p.Status, p.UpdatedAt = StatusClosed, now
			out.changed = true
		} else if now.Sub(p.UpdatedAt) > closedRetention {
			out.changed = true
			continue
		}
		out.findings = append(out.findings, p)
	}
	sortFindings(out.findings)
	return out
}

// sameContent compares what a match reports of a finding (not its history).
func sameContent(a, b *Finding) bool {
	return bytes.Equal(appendContent(nil, a), appendContent(nil, b))
}

// storedFindings is the encoding of an image's findings in the store.
type storedFindings struct {
	V        int       `json:"v"`
	Findings []Finding `json:"findings"`
}

func encodeFindings(fs []Finding) ([]byte, error) {
	if fs == nil {
		fs = []Finding{}
	}
	return encodeStored(storedFindings{V: 1, Findings: fs})
}

func decodeFindings(b []byte) ([]Finding, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var sf storedFindings
	if err := decodeStored(b, &sf); err != nil {
		return nil, fmt.Errorf("scan: stored findings: %w", err)
	}
	return sf.Findings, nil
}

// Stored inventories and findings are gob compressed with zstd at its
// fastest level. A rescan decodes the inventory of every image and
// re-encodes the findings of every image that changed: gob decodes an
// inventory about 3.5 times faster than JSON, and zstd's fastest level
// compresses several times faster than gzip's for a similar size. Gob
// carries field names, so fields may be added.
var (
	zstdEncoder, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
	zstdDecoder, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(maxStoredBytes))
)

// maxStoredBytes bounds what a stored value may inflate to.
const maxStoredBytes = 1 << 30

// encodeStored and decodeStored are safe for concurrent use (zstd's
// EncodeAll and DecodeAll are).
func encodeStored(v any) ([]byte, error) {
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(v); err != nil {
		return nil, err
	}
	return zstdEncoder.EncodeAll(buf.Bytes(), make([]byte, 0, buf.Len()/3)), nil
}

func decodeStored(b []byte, v any) error {
	raw, err := zstdDecoder.DecodeAll(b, nil)
	if err != nil {
		return err
	}
	return gob.NewDecoder(bytes.NewReader(raw)).Decode(v)
}

// Report is the scan state of an image: the read API of gates and
// suppressions (what an image's latest scan found, and whether it is done).
type Report struct {
	RepoID int64
	Digest string
	// Status is a meta.Scan* constant (IN_PROGRESS, COMPLETE, FAILED,
	// UNSUPPORTED_IMAGE); Description says why a scan failed.
	Status      string
	Description string
	RequestedAt time.Time
	// CompletedAt is the latest match of the image against the
	// vulnerability data (zero before the first completes);
	// SourceUpdatedAt the update time of the data used.
	CompletedAt     time.Time
	SourceUpdatedAt time.Time
	// Counts are the ACTIVE findings by severity (only non-zero ones).
	Counts map[string]int
	// Findings are ACTIVE then CLOSED, by severity, advisory and package.
	// While a new scan is in progress they are those of the previous one.
	Findings []Finding
	// ExpiredAt is when the image's scan eligibility lapsed (zero: it
	// did not); see Status.
	ExpiredAt time.Time
}

// Active returns the report's active findings.
func (r *Report) Active() []Finding {
	var out []Finding
	for _, f := range r.Findings {
		if f.Status == StatusActive {
			out = append(out, f)
		}
	}
	return out
}

// ErrNotScanned is returned by GetReport for an image that was never
// scanned (or does not exist); it wraps meta.ErrNotFound.
var ErrNotScanned = fmt.Errorf("scan: image not scanned: %w", meta.ErrNotFound)

// GetReport returns the scan report of an image (repository id, manifest
// digest). Reading it needs no Service: gates and suppressions call it
// with the store.
func GetReport(ctx context.Context, st meta.ScanStore, repoID int64, digest string) (*Report, error) {
	sc, err := st.GetScan(ctx, repoID, digest)
	if errors.Is(err, meta.ErrNotFound) {
		return nil, ErrNotScanned
	}
	if err != nil {
		return nil, err
	}
	fs, err := decodeFindings(sc.Findings)
	if err != nil {
		return nil, err
	}
	for i := range fs {
		if fs[i].Status == StatusActive {
			fs[i].LastObservedAt = sc.CompletedAt
		}
	}
	return &Report{
		RepoID: repoID, Digest: digest,
		Status: sc.Status, Description: sc.Description,
		RequestedAt: sc.RequestedAt, CompletedAt: sc.CompletedAt, SourceUpdatedAt: sc.SourceUpdatedAt,
		Counts: sc.Counts, Findings: fs, ExpiredAt: sc.ExpiredAt,
	}, nil
}

// GetSummaries returns the scan status and counts (no findings) of images
// of a repository, by digest, in one store round trip per 500 images:
// listings such as DescribeImages read them for a whole page.
func GetSummaries(ctx context.Context, st meta.ScanStore, repoID int64, digests []string) (map[string]meta.ImageScan, error) {
	return st.GetScans(ctx, repoID, digests)
}
