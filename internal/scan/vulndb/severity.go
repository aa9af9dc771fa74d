package vulndb

import (
	"encoding/json"
	"math"
	"strings"

	gocvss20 "github.com/pandatix/go-cvss/20"
	gocvss30 "github.com/pandatix/go-cvss/30"
	gocvss31 "github.com/pandatix/go-cvss/31"
	gocvss40 "github.com/pandatix/go-cvss/40"
)

// Where a rating came from, best first.
const (
	fromNone = iota
	fromWord // a database's own word (GHSA database_specific.severity)
	fromCVSS
	fromDistro // the distribution's rating: Ubuntu priority, Debian urgency, Red Hat impact
)

// rating is the severity of an advisory for one affected package.
type rating struct {
	severity    string
	score       float64
	vector      string
	cvssVersion string
	from        int
}

// severityRank orders severities for sorting (higher is worse).
func severityRank(s string) int {
	switch s {
	case SeverityCritical:
		return 5
	case SeverityHigh:
		return 4
	case SeverityMedium:
		return 3
	case SeverityLow:
		return 2
	case SeverityInformational:
		return 1
	}
	return 0
}

// rate computes the rating of affected entry af of record r.
//
// The distribution's own rating wins where the data carries one, the
// package's before the record's: a severity of type "Ubuntu", Ubuntu's
// ecosystem_specific.ubuntu_priority, Debian's urgency (ecosystem_specific
// or database_specific), or the impact word Red Hat, AlmaLinux and Rocky
// Linux put at the head of their summaries ("Important: ..."). Otherwise
// the CVSS base score decides, from the newest CVSS version given (v4.0,
// then v3.1/v3.0, then v2.0; the package's severity list before the
// record's): 9.0-10 CRITICAL, 7.0-8.9 HIGH, 4.0-6.9 MEDIUM, 0.1-3.9 LOW,
// 0 INFORMATIONAL. CVSS v2 has no critical band, so a v2 score of 7 or
// more is HIGH, as NVD rates v2. Then a database's own word (GitHub's
// database_specific.severity; MODERATE is MEDIUM). With nothing,
// UNDEFINED. Score and Vector carry the CVSS found whatever decided.
func rate(r *osvRecord, af *osvAffected) rating {
	var out rating
	// CVSS first: it fills Score/Vector whatever decides the severity.
	for _, list := range [][]osvSeverity{af.Severity, r.Severity} {
		if c, ok := bestCVSS(list); ok {
			out = c
			break
		}
	}
	if s := distroRating(r, af); s != "" {
		out.severity, out.from = s, fromDistro
		return out
	}
	if out.from == fromCVSS {
		return out
	}
	for _, raw := range []json.RawMessage{af.DatabaseSpecific, r.DatabaseSpecific} {
		if s := wordSeverity(str(readSpecific(raw).Severity)); s != "" {
			out.severity, out.from = s, fromWord
			return out
		}
	}
	out.severity = SeverityUndefined
	return out
}

// bestCVSS scores the newest valid CVSS vector of a severity list.
func bestCVSS(list []osvSeverity) (rating, bool) {
	for _, want := range []string{"CVSS_V4", "CVSS_V3", "CVSS_V2"} {
		for _, s := range list {
			if !strings.EqualFold(s.Type, want) {
				continue
			}
			if score, ver, ok := cvssScore(want, strings.TrimSpace(s.Score)); ok {
				return rating{severity: scoreSeverity(score, ver), score: score, vector: strings.TrimSpace(s.Score),
					cvssVersion: ver, from: fromCVSS}, true
			}
		}
	}
	return rating{}, false
}

// cvssScore parses a vector with go-cvss and returns its base score. A
// malformed vector (or a panic in the parser, never expected) is not ok.
func cvssScore(typ, vector string) (score float64, version string, ok bool) {
	defer func() {
		if recover() != nil {
			score, version, ok = 0, "", false
		}
	}()
	switch typ {
	case "CVSS_V4":
		c, err := gocvss40.ParseVector(vector)
		if err != nil {
			return 0, "", false
		}
		score, version = c.Score(), "4.0"
	case "CVSS_V3":
		switch {
		case strings.HasPrefix(vector, "CVSS:3.1/"):
			c, err := gocvss31.ParseVector(vector)
			if err != nil {
				return 0, "", false
			}
			score, version = c.BaseScore(), "3.1"
		case strings.HasPrefix(vector, "CVSS:3.0/"):
			c, err := gocvss30.ParseVector(vector)
			if err != nil {
				return 0, "", false
			}
			score, version = c.BaseScore(), "3.0"
		default:
			return 0, "", false
		}
	case "CVSS_V2":
		v := strings.TrimPrefix(vector, "CVSS:2.0/")
		v = strings.TrimSuffix(strings.TrimPrefix(v, "("), ")")
		c, err := gocvss20.ParseVector(v)
		if err != nil {
			return 0, "", false
		}
		score, version = c.BaseScore(), "2.0"
	default:
		return 0, "", false
	}
	if math.IsNaN(score) || score < 0 || score > 10 {
		return 0, "", false
	}
	return score, version, true
}

// scoreSeverity maps a CVSS base score to ECR's severities.
func scoreSeverity(score float64, version string) string {
	switch {
	case score >= 9 && version != "2.0":
		return SeverityCritical
	case score >= 7:
		return SeverityHigh
	case score >= 4:
		return SeverityMedium
	case score > 0:
		return SeverityLow
	}
	return SeverityInformational
}

// distroRating is the distribution's own rating of the package, "" when
// the data has none (or says "not yet assigned").
func distroRating(r *osvRecord, af *osvAffected) string {
	ubuntu := func(list []osvSeverity) string {
		for _, s := range list {
			if strings.EqualFold(s.Type, "Ubuntu") {
				if sev := ubuntuPriority(s.Score); sev != "" {
					return sev
				}
			}
		}
		return ""
	}
	// The package's own rating before the record's.
	eco, db := readSpecific(af.EcosystemSpecific), readSpecific(af.DatabaseSpecific)
	for _, sev := range []func() string{
		func() string { return ubuntu(af.Severity) },
		func() string { return ubuntuPriority(str(eco.UbuntuPriority)) },
		func() string { return debianUrgency(str(eco.Urgency)) },
		func() string { return debianUrgency(str(db.Urgency)) },
		func() string { return ubuntu(r.Severity) },
		func() string { return debianUrgency(str(readSpecific(r.DatabaseSpecific).Urgency)) },
		func() string {
			if word, _, ok := strings.Cut(r.Summary, ":"); ok && redHatFamily(r.ID) {
				return redHatImpact(word)
			}
			return ""
		},
	} {
		if s := sev(); s != "" {
			return s
		}
	}
	return ""
}

// ubuntuPriority maps Ubuntu's priorities.
func ubuntuPriority(p string) string {
	switch strings.ToLower(strings.TrimSpace(p)) {
	case "critical":
		return SeverityCritical
	case "high":
		return SeverityHigh
	case "medium":
		return SeverityMedium
	case "low":
		return SeverityLow
	case "negligible":
		return SeverityInformational
	}
	return "" // "untriaged" and unknown words
}

// debianUrgency maps the Debian security tracker's urgencies; the
// tracker marks some with asterisks ("low*"), which do not change the
// level.
func debianUrgency(u string) string {
	switch strings.TrimRight(strings.ToLower(strings.TrimSpace(u)), "*") {
	case "high":
		return SeverityHigh
	case "medium":
		return SeverityMedium
	case "low":
		return SeverityLow
	case "unimportant":
		return SeverityInformational
	}
	return "" // "not yet assigned", "end-of-life"
}

func redHatFamily(id string) bool {
	for _, p := range []string{"RHSA-", "RHBA-", "RHEA-", "RLSA-", "RLBA-", "RLEA-", "RXSA-", "ALSA-", "ALBA-", "ALEA-"} {
		if strings.HasPrefix(id, p) {
			return true
		}
	}
	return false
}

// redHatImpact maps Red Hat's impact ratings.
func redHatImpact(w string) string {
	switch strings.ToLower(strings.TrimSpace(w)) {
	case "critical":
		return SeverityCritical
	case "important":
		return SeverityHigh
	case "moderate":
		return SeverityMedium
	case "low":
		return SeverityLow
	}
	return ""
}

// wordSeverity maps a database's severity word (GitHub's CRITICAL, HIGH,
// MODERATE, LOW).
func wordSeverity(w string) string {
	switch strings.ToUpper(strings.TrimSpace(w)) {
	case "CRITICAL":
		return SeverityCritical
	case "HIGH":
		return SeverityHigh
	case "MODERATE", "MEDIUM":
		return SeverityMedium
	case "LOW":
		return SeverityLow
	}
	return ""
}

// specific holds the fields rate reads from an ecosystem_specific or
// database_specific object.
type specific struct {
	Severity       json.RawMessage `json:"severity"`
	Urgency        json.RawMessage `json:"urgency"`
	UbuntuPriority json.RawMessage `json:"ubuntu_priority"`
}

// readSpecific decodes raw, leaving fields empty when it is not an object.
func readSpecific(raw json.RawMessage) specific {
	var sp specific
	if len(raw) == 0 || raw[0] != '{' || json.Unmarshal(raw, &sp) != nil {
		return specific{}
	}
	return sp
}

// str is a JSON string's value; "" for anything else.
func str(raw json.RawMessage) string {
	var s string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}
