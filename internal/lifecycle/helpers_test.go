package lifecycle

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func ago(days float64) time.Time {
	return now.Add(-time.Duration(days * float64(day)))
}

// img is an image pushed days ago with tags.
func img(digest string, days float64, tags ...string) Image {
	return Image{Digest: digest, Tags: tags, PushedAt: ago(days)}
}

func mustParse(t testing.TB, doc string) *Policy {
	t.Helper()
	p, err := Parse([]byte(doc))
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, doc)
	}
	return p
}

// rule builds one rule's JSON.
func rule(priority int, selection, action string) string {
	return fmt.Sprintf(`{"rulePriority":%d,"description":"rule %d","selection":%s,"action":%s}`, priority, priority, selection, action)
}

func policy(rules ...string) string {
	return `{"rules":[` + strings.Join(rules, ",") + `]}`
}

const (
	expire     = `{"type":"expire"}`
	transition = `{"type":"transition","targetStorageClass":"archive"}`
)

// summary renders actions as "digest:TYPE:priority", in Evaluate's order.
func summary(actions []Action) []string {
	out := make([]string, 0, len(actions))
	for _, a := range actions {
		out = append(out, fmt.Sprintf("%s:%s:%d", a.Digest, a.Type, a.RulePriority))
	}
	return out
}

// sortedSummary is summary sorted by digest, for readable expectations.
func sortedSummary(actions []Action) []string {
	s := summary(actions)
	slices.Sort(s)
	return s
}

func checkActions(t *testing.T, got []Action, want ...string) {
	t.Helper()
	g := sortedSummary(got)
	w := slices.Clone(want)
	slices.Sort(w)
	if len(w) == 0 {
		w = []string{}
	}
	if !slices.Equal(g, w) {
		t.Errorf("actions:\n got  %q\n want %q", g, w)
	}
}
