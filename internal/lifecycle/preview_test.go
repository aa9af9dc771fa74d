package lifecycle

import (
	"fmt"
	"testing"
)

func TestSummarizeDedup(t *testing.T) {
	base := Blob{"sha256:base", 1000}
	blobs := map[string][]Blob{
		// Two expiring images share a layer: it counts once.
		"old1": {{"sha256:cfg1", 10}, base, {"sha256:shared-old", 200}},
		"old2": {{"sha256:cfg2", 20}, base, {"sha256:shared-old", 200}},
		// A kept image still uses base: it is not freed.
		"new": {{"sha256:cfg3", 30}, base},
		// An archived image keeps its content.
		"arch": {{"sha256:cfg4", 40}, {"sha256:arch-layer", 400}},
		// Expiring, but its layer is also used by the archived image.
		"old3": {{"sha256:cfg5", 50}, {"sha256:arch-layer", 400}},
	}
	actions := []Action{
		{Digest: "old1", Type: ActionExpire, RulePriority: 1},
		{Digest: "old2", Type: ActionExpire, RulePriority: 1},
		{Digest: "old3", Type: ActionExpire, RulePriority: 1},
		{Digest: "arch", Type: ActionTransition, TargetStorageClass: StorageClassArchive, RulePriority: 2},
	}
	got := Summarize(actions, blobs)
	want := Summary{Expiring: 3, Transitioning: 1, BytesFreed: 10 + 20 + 200 + 50}
	if got != want {
		t.Fatalf("Summarize = %+v, want %+v", got, want)
	}
}

func TestSummarizeEdgeCases(t *testing.T) {
	if got := Summarize(nil, nil); got != (Summary{}) {
		t.Fatalf("empty: %+v", got)
	}
	// Images absent from the map reference nothing; the largest of
	// conflicting sizes counts; repeated actions count once.
	blobs := map[string][]Blob{
		"a": {{"sha256:x", 5}},
		"b": {{"sha256:x", 7}, {"sha256:neg", -3}},
	}
	actions := []Action{
		{Digest: "a", Type: ActionExpire},
		{Digest: "b", Type: ActionExpire},
		{Digest: "b", Type: ActionExpire},
		{Digest: "ghost", Type: ActionExpire},
	}
	got := Summarize(actions, blobs)
	if want := (Summary{Expiring: 3, BytesFreed: 7}); got != want {
		t.Fatalf("Summarize = %+v, want %+v", got, want)
	}
}

// The example end to end: keep the last 10 "v" images of 12 that
// share a base layer; the two oldest expire and only their own blobs are
// freed.
func TestSummarizeKeepLastTen(t *testing.T) {
	p := mustParse(t, policy(rule(1,
		`{"tagStatus":"tagged","tagPatternList":["v*"],"countType":"imageCountMoreThan","countNumber":10}`, expire)))
	var images []Image
	blobs := map[string][]Blob{}
	for i := 1; i <= 12; i++ {
		d := fmt.Sprintf("sha256:%02d", i)
		images = append(images, img(d, float64(100-i), fmt.Sprintf("v%d", i)))
		blobs[d] = []Blob{{"sha256:base", 1 << 20}, {"cfg-" + d, 100}, {"layer-" + d, 1000}}
	}
	actions := Evaluate(p, images, now)
	checkActions(t, actions, "sha256:01:EXPIRE:1", "sha256:02:EXPIRE:1")
	if got, want := Summarize(actions, blobs), (Summary{Expiring: 2, BytesFreed: 2 * 1100}); got != want {
		t.Fatalf("Summarize = %+v, want %+v", got, want)
	}
}
