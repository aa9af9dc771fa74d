package registry

import (
	"encoding/json"
	"path"

	"github.com/wharfhq/wharf/internal/store/meta"
)

// Tag mutability settings, as ECR names them.
const (
	Mutable                = "MUTABLE"
	Immutable              = "IMMUTABLE"
	ImmutableWithExclusion = "IMMUTABLE_WITH_EXCLUSION"
	MutableWithExclusion   = "MUTABLE_WITH_EXCLUSION"
)

// ExclusionFilter is one tag filter of a *_WITH_EXCLUSION setting, stored
// as JSON in meta.Repository.MutabilityRule.
type ExclusionFilter struct {
	FilterType string `json:"filterType"` // WILDCARD
	Filter     string `json:"filter"`
}

// ParseExclusionFilters decodes a repository's stored filters.
func ParseExclusionFilters(rule string) []ExclusionFilter {
	if rule == "" {
		return nil
	}
	var fs []ExclusionFilter
	if json.Unmarshal([]byte(rule), &fs) != nil {
		return nil
	}
	return fs
}

// EncodeExclusionFilters encodes filters for storage.
func EncodeExclusionFilters(fs []ExclusionFilter) string {
	if len(fs) == 0 {
		return ""
	}
	b, _ := json.Marshal(fs)
	return string(b)
}

// matches reports whether a WILDCARD filter matches the tag ('*' matches
// any run of characters; tags contain no '/').
func (f ExclusionFilter) matches(tag string) bool {
	ok, err := path.Match(f.Filter, tag)
	return err == nil && ok
}

// TagImmutable reports whether a tag of the repository may not be moved
// once it exists.
func TagImmutable(r meta.Repository, tag string) bool {
	excluded := func() bool {
		for _, f := range ParseExclusionFilters(r.MutabilityRule) {
			if f.matches(tag) {
				return true
			}
		}
		return false
	}
	switch r.TagMutability {
	case Immutable:
		return true
	case ImmutableWithExclusion:
		return !excluded()
	case MutableWithExclusion:
		return excluded()
	}
	return false
}
