package scan

import (
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/wharfhq/wharf/internal/store/meta"
)

func TestFilterMatches(t *testing.T) {
	for _, tc := range []struct {
		filter, name string
		want         bool
	}{
		{"*", "team/app", true},
		{"team/*", "team/app", true},
		{"team/*", "team/sub/app", true}, // '*' crosses slashes
		{"team/*", "other/app", false},
		{"*app", "team/app", true},
		{"*app", "team/apps", false},
		{"t*m/*p", "team/app", true},
		{"a*b*c", "aXbYbZc", true},
		{"a*b*c", "aXbYbZ", false},
		{"prod", "team/prod-api", true}, // no wildcard: contains
		{"prod", "team/pro", false},
		{"**", "", true},
	} {
		if got := (Filter{Filter: tc.filter, FilterType: FilterWildcard}).Matches(tc.name); got != tc.want {
			t.Errorf("%q matches %q = %v, want %v", tc.filter, tc.name, got, tc.want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	wild := []Filter{{Filter: "*", FilterType: FilterWildcard}}
	for _, tc := range []struct {
		name string
		c    Config
		ok   bool
	}{
		{"default", Config{}, true},
		{"basic on push", Config{ScanType: TypeBasic, Rules: []Rule{{ScanFrequency: ScanOnPush, RepositoryFilters: wild}}}, true},
		{"basic manual", Config{ScanType: TypeBasic, Rules: []Rule{{ScanFrequency: Manual, RepositoryFilters: wild}}}, true},
		{"basic continuous", Config{ScanType: TypeBasic, Rules: []Rule{{ScanFrequency: ContinuousScan, RepositoryFilters: wild}}}, false},
		{"enhanced both", Config{ScanType: TypeEnhanced, Rules: []Rule{
			{ScanFrequency: ContinuousScan, RepositoryFilters: wild}, {ScanFrequency: ScanOnPush, RepositoryFilters: wild}}}, true},
		{"enhanced manual", Config{ScanType: TypeEnhanced, Rules: []Rule{{ScanFrequency: Manual, RepositoryFilters: wild}}}, false},
		{"duplicate frequency", Config{ScanType: TypeEnhanced, Rules: []Rule{
			{ScanFrequency: ScanOnPush, RepositoryFilters: wild}, {ScanFrequency: ScanOnPush, RepositoryFilters: wild}}}, false},
		{"no filters", Config{ScanType: TypeBasic, Rules: []Rule{{ScanFrequency: ScanOnPush}}}, false},
		{"bad filter type", Config{ScanType: TypeBasic, Rules: []Rule{{ScanFrequency: ScanOnPush, RepositoryFilters: []Filter{{Filter: "*", FilterType: "PREFIX"}}}}}, false},
		{"bad scan type", Config{ScanType: "DEEP"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.c.Validate()
			if (err == nil) != tc.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("error %v does not wrap ErrInvalidConfig", err)
			}
			if err == nil && (tc.c.ScanType == "" || tc.c.Rules == nil) {
				t.Fatalf("defaults not filled in: %+v", tc.c)
			}
		})
	}
}

func TestConfigFor(t *testing.T) {
	f := func(s string) []Filter { return []Filter{{Filter: s, FilterType: FilterWildcard}} }
	repo := func(name string, onPush bool) meta.Repository { return meta.Repository{Name: name, ScanOnPush: onPush} }
	basic := DefaultConfig()
	basicRules := Config{ScanType: TypeBasic, Rules: []Rule{{ScanFrequency: ScanOnPush, RepositoryFilters: f("team/*")}}}
	enhanced := Config{ScanType: TypeEnhanced, Rules: []Rule{
		{ScanFrequency: ScanOnPush, RepositoryFilters: f("*")},
		{ScanFrequency: ContinuousScan, RepositoryFilters: append(f("prod/*"), f("*-live")...)},
	}}
	for _, tc := range []struct {
		name    string
		c       Config
		r       meta.Repository
		freq    string
		push    bool
		applied []string
	}{
		{"basic, repository flag off", basic, repo("a", false), Manual, false, nil},
		{"basic, repository flag on", basic, repo("a", true), ScanOnPush, true, nil},
		{"basic rule", basicRules, repo("team/a", false), ScanOnPush, true, []string{"team/*"}},
		{"basic rule misses, flag on", basicRules, repo("other", true), ScanOnPush, true, nil},
		{"enhanced on push", enhanced, repo("dev/a", false), ScanOnPush, true, []string{"*"}},
		{"enhanced continuous wins", enhanced, repo("prod/a", false), ContinuousScan, true, []string{"prod/*"}},
		{"enhanced continuous, second filter", enhanced, repo("x-live", false), ContinuousScan, true, []string{"*-live"}},
		{"enhanced ignores the repository flag", Config{ScanType: TypeEnhanced, Rules: []Rule{}}, repo("a", true), Manual, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.c.For(tc.r)
			var applied []string
			for _, f := range got.AppliedFilters {
				applied = append(applied, f.Filter)
			}
			if got.ScanFrequency != tc.freq || got.ScanOnPush != tc.push || !slices.Equal(applied, tc.applied) {
				t.Fatalf("For = %+v, want %s push=%v applied=%v", got, tc.freq, tc.push, tc.applied)
			}
			if tc.c.Continuous(tc.r) != (tc.freq == ContinuousScan) {
				t.Fatal("Continuous disagrees with For")
			}
		})
	}
	if basic.HasContinuous() || !enhanced.HasContinuous() {
		t.Fatal("HasContinuous")
	}
}

// FuzzWildcard checks the linear-time matcher against the regular
// expression a WILDCARD filter stands for (filters come from API callers).
func FuzzWildcard(f *testing.F) {
	for _, s := range [][2]string{{"*", "a"}, {"a*b*c", "aXbYbZc"}, {"team/*", "team/x/y"}, {"**a", "ba"}, {"a*", ""}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, name string) {
		if len(pattern) > 64 || len(name) > 256 || !strings.Contains(pattern, "*") ||
			!utf8.ValidString(name) || !utf8.ValidString(pattern) { // the regexp works on runes, the matcher on bytes
			return
		}
		parts := strings.Split(pattern, "*")
		for i, p := range parts {
			parts[i] = regexp.QuoteMeta(p)
		}
		re := regexp.MustCompile(`^(?s:` + strings.Join(parts, ".*") + `)$`)
		if got, want := (Filter{Filter: pattern, FilterType: FilterWildcard}).Matches(name), re.MatchString(name); got != want {
			t.Fatalf("%q matches %q = %v, want %v", pattern, name, got, want)
		}
	})
}
