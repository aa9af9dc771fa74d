package lifecycle

import "strings"

// tagFilter is a rule's tagPrefixList or tagPatternList, ready to match.
// ECR: "An image is successfully matched if all of the tags in the
// tagPatternList or tagPrefixList value are matched against any of the
// image's tags": every entry must match at least one of the image's tags.
type tagFilter struct {
	prefixes []string
	patterns [][]string // each pattern split at '*'
}

func newTagFilter(s *Selection) tagFilter {
	f := tagFilter{prefixes: s.TagPrefixList}
	for _, p := range s.TagPatternList {
		f.patterns = append(f.patterns, strings.Split(p, "*"))
	}
	return f
}

func (f *tagFilter) match(tags []string) bool {
	for _, pre := range f.prefixes {
		if !anyTag(tags, func(t string) bool { return strings.HasPrefix(t, pre) }) {
			return false
		}
	}
	for _, parts := range f.patterns {
		if !anyTag(tags, func(t string) bool { return globMatch(parts, t) }) {
			return false
		}
	}
	return true
}

func anyTag(tags []string, ok func(string) bool) bool {
	for _, t := range tags {
		if ok(t) {
			return true
		}
	}
	return false
}

// MatchPattern reports whether tag matches a tagPatternList entry: '*'
// stands for any run of characters, possibly empty; everything else
// matches itself, case-sensitively, and the whole tag must match.
func MatchPattern(pattern, tag string) bool {
	return globMatch(strings.Split(pattern, "*"), tag)
}

// globMatch matches s against a pattern already split at its wildcards.
// Taking the leftmost occurrence of every middle part is enough: with '*'
// as the only wildcard, an earlier match never rules out a later one.
func globMatch(parts []string, s string) bool {
	if len(parts) == 1 {
		return s == parts[0]
	}
	first, last := parts[0], parts[len(parts)-1]
	if len(s) < len(first)+len(last) || !strings.HasPrefix(s, first) || !strings.HasSuffix(s, last) {
		return false
	}
	s = s[len(first) : len(s)-len(last)]
	for _, mid := range parts[1 : len(parts)-1] {
		i := strings.Index(s, mid)
		if i < 0 {
			return false
		}
		s = s[i+len(mid):]
	}
	return true
}
