package metatest

import (
	"testing"

	"github.com/wharfhq/wharf/internal/store/meta"
)

func testListIndexesOf(t *testing.T, s meta.Store) {
	c := ctx(t)
	r, other := repo(t, s, "app"), repo(t, s, "other")
	amd, arm := push(t, s, r.ID, "amd64", ""), push(t, s, r.ID, "arm64", "")
	i1, err := index(t, s, r.ID, "v1", amd.Digest, arm.Digest)
	must(t, err)
	i2, err := index(t, s, r.ID, "v2", amd.Digest)
	must(t, err)
	oamd := push(t, s, other.ID, "amd64", "")
	_, err = index(t, s, other.ID, "v1", oamd.Digest)
	must(t, err)

	got, err := s.ListIndexesOf(c, r.ID, amd.Digest)
	must(t, err)
	want := []string{i1.Digest, i2.Digest}
	if want[0] > want[1] {
		want[0], want[1] = want[1], want[0]
	}
	equalSlice(t, "indexes of amd64", got, want)
	got, err = s.ListIndexesOf(c, r.ID, arm.Digest)
	must(t, err)
	equalSlice(t, "indexes of arm64", got, []string{i1.Digest})
	// Blobs referenced by a manifest are not children; an index lists nothing.
	got, err = s.ListIndexesOf(c, r.ID, i1.Digest)
	must(t, err)
	equalSlice(t, "indexes of an index", got, nil)
}
