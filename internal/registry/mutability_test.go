package registry

import (
	"testing"

	"github.com/wharfhq/wharf/internal/store/meta"
)

func TestTagImmutable(t *testing.T) {
	rule := EncodeExclusionFilters([]ExclusionFilter{{"WILDCARD", "latest"}, {"WILDCARD", "dev-*"}})
	cases := []struct {
		mut, tag string
		want     bool
	}{
		{Mutable, "v1", false},
		{Immutable, "latest", true},
		{ImmutableWithExclusion, "v1", true},
		{ImmutableWithExclusion, "latest", false},
		{ImmutableWithExclusion, "dev-123", false},
		{ImmutableWithExclusion, "xdev-1", true},
		{MutableWithExclusion, "v1", false},
		{MutableWithExclusion, "latest", true},
		{MutableWithExclusion, "dev-9", true},
	}
	for _, c := range cases {
		r := meta.Repository{TagMutability: c.mut, MutabilityRule: rule}
		if got := TagImmutable(r, c.tag); got != c.want {
			t.Errorf("%s %s: got %v want %v", c.mut, c.tag, got, c.want)
		}
	}
}
