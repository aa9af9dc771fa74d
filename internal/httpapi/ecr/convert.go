package ecr

import (
	"github.com/wharfhq/wharf/internal/awsjson/ecrapi"
	"github.com/wharfhq/wharf/internal/registry"
)

func decodeExclusionFilters(rule string) []ecrapi.ImageTagMutabilityExclusionFilter {
	var out []ecrapi.ImageTagMutabilityExclusionFilter
	for _, f := range registry.ParseExclusionFilters(rule) {
		ft := ecrapi.ImageTagMutabilityExclusionFilterType(f.FilterType)
		out = append(out, ecrapi.ImageTagMutabilityExclusionFilter{FilterType: &ft, Filter: ecrapi.Ptr(f.Filter)})
	}
	return out
}

func encodeExclusionFilters(in []ecrapi.ImageTagMutabilityExclusionFilter) string {
	var fs []registry.ExclusionFilter
	for _, f := range in {
		fs = append(fs, registry.ExclusionFilter{FilterType: string(ecrapi.Deref(f.FilterType)), Filter: ecrapi.Deref(f.Filter)})
	}
	return registry.EncodeExclusionFilters(fs)
}
