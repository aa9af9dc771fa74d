package vulndb

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// The OSV schema (https://ossf.github.io/osv-schema/), as much of it as
// matching and reporting read. Unknown fields are ignored, as the schema
// asks of clients reading a newer minor version.

type osvRecord struct {
	SchemaVersion    string          `json:"schema_version"`
	ID               string          `json:"id"`
	Modified         string          `json:"modified"`
	Published        string          `json:"published"`
	Withdrawn        string          `json:"withdrawn"`
	Aliases          []string        `json:"aliases"`
	Upstream         []string        `json:"upstream"`
	Summary          string          `json:"summary"`
	Details          string          `json:"details"`
	Severity         []osvSeverity   `json:"severity"`
	Affected         []osvAffected   `json:"affected"`
	References       []osvReference  `json:"references"`
	DatabaseSpecific json.RawMessage `json:"database_specific"`
}

type osvSeverity struct {
	Type  string `json:"type"`
	Score string `json:"score"`
}

type osvAffected struct {
	Package           osvPackage      `json:"package"`
	Severity          []osvSeverity   `json:"severity"`
	Ranges            []osvRange      `json:"ranges"`
	Versions          []string        `json:"versions"`
	EcosystemSpecific json.RawMessage `json:"ecosystem_specific"`
	DatabaseSpecific  json.RawMessage `json:"database_specific"`
}

type osvPackage struct {
	Ecosystem string `json:"ecosystem"`
	Name      string `json:"name"`
	PURL      string `json:"purl"`
}

type osvRange struct {
	Type   string     `json:"type"`
	Repo   string     `json:"repo"`
	Events []osvEvent `json:"events"`
}

// osvEvent holds one of its fields; the schema forbids more than one.
type osvEvent struct {
	Introduced   string `json:"introduced"`
	Fixed        string `json:"fixed"`
	LastAffected string `json:"last_affected"`
	Limit        string `json:"limit"`
}

type osvReference struct {
	Type string `json:"type"`
	URL  string `json:"url"`
}

// advisory is a parsed, validated record.
type advisory struct {
	rec       osvRecord
	modified  time.Time
	published time.Time
	withdrawn time.Time
}

// maxIDLen bounds advisory ids (real ones are under 50 bytes).
const maxIDLen = 256

// parseAdvisory decodes and validates one OSV record: it must be a JSON
// object with an id (printable, no spaces) and an RFC 3339 modified time.
func parseAdvisory(raw []byte) (*advisory, error) {
	var rec osvRecord
	if err := json.Unmarshal(raw, &rec); err != nil {
		return nil, fmt.Errorf("bad JSON: %w", err)
	}
	if err := validID(rec.ID); err != nil {
		return nil, err
	}
	a := &advisory{rec: rec}
	var err error
	if rec.Modified == "" {
		return nil, errors.New(`missing "modified"`)
	}
	if a.modified, err = parseTime(rec.Modified); err != nil || a.modified.IsZero() {
		return nil, fmt.Errorf(`bad "modified" %q`, clip(rec.Modified))
	}
	// Optional times: an unreadable one is dropped rather than failing
	// the record (Debian's converter writes year 1 for "unknown").
	a.published, _ = parseTime(rec.Published)
	a.withdrawn, _ = parseTime(rec.Withdrawn)
	return a, nil
}

func validID(id string) error {
	switch {
	case id == "":
		return errors.New(`missing "id"`)
	case len(id) > maxIDLen:
		return fmt.Errorf(`"id" longer than %d bytes`, maxIDLen)
	case !utf8.ValidString(id):
		return errors.New(`"id" is not UTF-8`)
	}
	for _, r := range id {
		if unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return fmt.Errorf(`bad "id" %q`, clip(id))
		}
	}
	return nil
}

// parseTime reads an RFC 3339 time; "" and times in year 1 or before (a
// converter's zero value) are the zero time.
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, err
	}
	if t.Year() <= 1 {
		return time.Time{}, nil
	}
	return t.UTC(), nil
}

// clip shortens a value quoted in an error message.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// packageKeys are the (normalised ecosystem, normalised name) pairs the
// record names, deduplicated, in order of appearance.
func (a *advisory) packageKeys() []PackageKey {
	var out []PackageKey
	seen := map[PackageKey]bool{}
	for _, af := range a.rec.Affected {
		k, ok := advisoryKey(af.Package)
		if !ok || seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, k)
	}
	return out
}

// uri is the advisory's reference URL: its ADVISORY reference, else its
// first, else its osv.dev page.
func (a *advisory) uri() string {
	for _, r := range a.rec.References {
		if r.Type == "ADVISORY" && r.URL != "" {
			return r.URL
		}
	}
	for _, r := range a.rec.References {
		if r.URL != "" {
			return r.URL
		}
	}
	return "https://osv.dev/vulnerability/" + a.rec.ID
}

// cleanIDs trims, drops empty and repeated ids and the record's own.
func cleanIDs(own string, ids []string) []string {
	var out []string
	for _, id := range ids {
		id = strings.TrimSpace(id)
		if id == "" || id == own || validID(id) != nil {
			continue
		}
		dup := false
		for _, o := range out {
			if o == id {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, id)
		}
	}
	return out
}
