package metatest

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/wharfhq/wharf/internal/store/meta"
)

// meta.TransferStore: the listings and restoring writes of wharf migrate.

func testTransferListings(t *testing.T, s meta.Store) {
	c := ctx(t)
	r := repo(t, s, "app")
	other := repo(t, s, "other")

	// Blob links: live links of the repository only, in byte order, paged.
	m1 := push(t, s, r.ID, "one", "v1")
	m2 := push(t, s, r.ID, "two", "v2")
	loose := dg("loose")
	link(t, s, r.ID, loose)
	link(t, s, other.ID, dg("elsewhere"))
	_, refs1 := image(r.ID, "one")
	_, refs2 := image(r.ID, "two")
	want := slices.Sorted(slices.Values(append(append([]string{loose}, refs1.Blobs...), refs2.Blobs...)))
	var got []string
	after := ""
	for {
		page, err := s.ListBlobLinks(c, r.ID, after, 2)
		must(t, err)
		for _, b := range page {
			if b.Size != int64(len(b.Digest)) || b.CreatedAt.IsZero() {
				t.Fatalf("blob link %+v: wrong size or no creation time", b)
			}
			got = append(got, b.Digest)
		}
		if len(page) < 2 {
			break
		}
		after = page[len(page)-1].Digest
	}
	equalSlice(t, "blob links", got, want)
	all, err := s.ListBlobLinks(c, r.ID, "", 0)
	must(t, err)
	equal(t, "unlimited blob links", len(all), len(want))
	must(t, s.UnlinkBlob(c, r.ID, loose))
	all, err = s.ListBlobLinks(c, r.ID, "", 0)
	must(t, err)
	equal(t, "blob links after unlink", len(all), len(want)-1)

	// Manifest references: blobs (required and optional alike) and
	// children, each in byte order.
	opt := dg("non-distributable")
	m3, refs3 := image(r.ID, "three")
	link(t, s, r.ID, refs3.Blobs...)
	refs3.Optional = []string{opt}
	must(t, s.PutManifest(c, meta.PutManifest{Manifest: m3, Refs: refs3}))
	refs, err := s.ManifestRefs(c, r.ID, m3.Digest)
	must(t, err)
	equalSlice(t, "blob refs", refs.Blobs, slices.Sorted(slices.Values(append(slices.Clone(refs3.Blobs), opt))))
	equalSlice(t, "manifest refs of an image", refs.Manifests, nil)
	children := []string{m2.Digest, m1.Digest}
	idx, err := index(t, s, r.ID, "multi", children...)
	must(t, err)
	refs, err = s.ManifestRefs(c, r.ID, idx.Digest)
	must(t, err)
	equalSlice(t, "children", refs.Manifests, slices.Sorted(slices.Values(children)))
	equalSlice(t, "blob refs of an index", refs.Blobs, nil)
	_, err = s.ManifestRefs(c, other.ID, m1.Digest)
	wantErr(t, err, meta.ErrNotFound)

	// Tags with their update times, in byte order, paged.
	before := time.Now().Add(-time.Second)
	push(t, s, r.ID, "one", "B")
	push(t, s, r.ID, "two", "a")
	var names []string
	after = ""
	for {
		page, err := s.ListTagInfos(c, r.ID, after, 2)
		must(t, err)
		for _, ti := range page {
			d := resolve(t, s, r.ID, ti.Name)
			equal(t, "digest of "+ti.Name, ti.Digest, d)
			if ti.UpdatedAt.Before(before) {
				t.Fatalf("tag %s updated at %v", ti.Name, ti.UpdatedAt)
			}
			names = append(names, ti.Name)
		}
		if len(page) < 2 {
			break
		}
		after = page[len(page)-1].Name
	}
	equalSlice(t, "tags", names, []string{"B", "a", "multi", "v1", "v2"})
	infos, err := s.ListTagInfos(c, other.ID, "", 0)
	must(t, err)
	equal(t, "tags of another repository", len(infos), 0)

	// Tag events of every tag, deleted ones included, oldest first.
	push(t, s, r.ID, "two", "v1") // moves v1
	must(t, s.DeleteTag(c, r.ID, "B", "eve", "api"))
	events, err := s.ListTagEvents(c, r.ID, 0, 0)
	must(t, err)
	var lines []string
	for _, e := range events {
		equal(t, "event repository", e.RepoID, r.ID)
		lines = append(lines, e.Tag+":"+short(e.From)+">"+short(e.To))
	}
	equalSlice(t, "events", lines, []string{
		"v1:>" + short(m1.Digest), "v2:>" + short(m2.Digest), "multi:>" + short(idx.Digest),
		"B:>" + short(m1.Digest), "a:>" + short(m2.Digest),
		"v1:" + short(m1.Digest) + ">" + short(m2.Digest), "B:" + short(m1.Digest) + ">",
	})
	page, err := s.ListTagEvents(c, r.ID, 5, 1)
	must(t, err)
	if len(page) != 1 || page[0] != events[5] {
		t.Fatalf("offset 5 limit 1: %+v, want %+v", page, events[5])
	}
	page, err = s.ListTagEvents(c, r.ID, 6, 10)
	must(t, err)
	if len(page) != 1 || page[0] != events[6] {
		t.Fatalf("offset 6: %+v", page)
	}
	page, err = s.ListTagEvents(c, other.ID, 0, 0)
	must(t, err)
	equal(t, "events of another repository", len(page), 0)

	// Tagged resources in byte order, and account settings.
	arns, err := s.ListTaggedResources(c)
	must(t, err)
	equal(t, "tagged resources of an empty store", len(arns), 0)
	base := "arn:aws:ecr:us-east-1:" + account + ":repository/"
	must(t, s.PutResourceTags(c, base+"b", map[string]string{"k": "v", "k2": "v2"}))
	must(t, s.PutResourceTags(c, base+"a", map[string]string{"k": "v"}))
	must(t, s.PutResourceTags(c, base+"B", map[string]string{"k": "v"}))
	must(t, s.PutResourceTags(c, base+"gone", map[string]string{"k": "v"}))
	must(t, s.DeleteResourceTags(c, base+"gone", []string{"k"}))
	arns, err = s.ListTaggedResources(c)
	must(t, err)
	equalSlice(t, "tagged resources", arns, []string{base + "B", base + "a", base + "b"})

	settings, err := s.ListAccountSettings(c, account)
	must(t, err)
	if settings == nil || len(settings) != 0 {
		t.Fatalf("settings of a fresh account: %v", settings)
	}
	must(t, s.PutAccountSetting(c, account, "BASIC_SCAN_TYPE_VERSION", "CLAIR"))
	must(t, s.PutAccountSetting(c, account, "REGISTRY_POLICY_SCOPE", "V2"))
	must(t, s.PutAccountSetting(c, "999999999999", "REGISTRY_POLICY_SCOPE", "V1"))
	settings, err = s.ListAccountSettings(c, account)
	must(t, err)
	if !maps.Equal(settings, map[string]string{"BASIC_SCAN_TYPE_VERSION": "CLAIR", "REGISTRY_POLICY_SCOPE": "V2"}) {
		t.Fatalf("settings: %v", settings)
	}
}

func short(d string) string {
	if len(d) > 15 {
		return d[7:15]
	}
	return d
}

func testTransferRestore(t *testing.T, s meta.Store) {
	c := ctx(t)
	r := repo(t, s, "app")
	m1 := push(t, s, r.ID, "one", "")
	m2 := push(t, s, r.ID, "two", "")

	// RestoreTag creates and moves tags with the given times and records
	// no event.
	at1 := fixed
	at2 := fixed.Add(time.Hour)
	must(t, s.RestoreTag(c, r.ID, meta.TagInfo{Name: "v1", Digest: m1.Digest, UpdatedAt: at1}))
	must(t, s.RestoreTag(c, r.ID, meta.TagInfo{Name: "latest", Digest: m1.Digest, UpdatedAt: at1}))
	must(t, s.RestoreTag(c, r.ID, meta.TagInfo{Name: "latest", Digest: m2.Digest, UpdatedAt: at2}))
	equal(t, "latest", resolve(t, s, r.ID, "latest"), m2.Digest)
	infos, err := s.ListTagInfos(c, r.ID, "", 0)
	must(t, err)
	if len(infos) != 2 || infos[0].Name != "latest" || !infos[0].UpdatedAt.Equal(at2) ||
		infos[1].Name != "v1" || !infos[1].UpdatedAt.Equal(at1) || infos[1].Digest != m1.Digest {
		t.Fatalf("restored tags: %+v", infos)
	}
	events, err := s.ListTagEvents(c, r.ID, 0, 0)
	must(t, err)
	equal(t, "events recorded by RestoreTag", len(events), 0)
	wantErr(t, s.RestoreTag(c, r.ID, meta.TagInfo{Name: "x", Digest: dg("missing"), UpdatedAt: at1}), meta.ErrNotFound)
	wantErr(t, s.RestoreTag(c, r.ID+1000, meta.TagInfo{Name: "x", Digest: m1.Digest, UpdatedAt: at1}), meta.ErrNotFound)
	tags, err := s.ListTags(c, r.ID, "", 0)
	must(t, err)
	equalSlice(t, "tags", tags, []string{"latest", "v1"})

	// AppendTagEvents appends the events as they are, in order, after the
	// history already there.
	push(t, s, r.ID, "one", "native")
	hist := []meta.TagEvent{
		{RepoID: 999, Tag: "latest", To: m1.Digest, At: at1, Actor: "alice", Via: "push"},
		{Tag: "latest", From: m1.Digest, To: m2.Digest, At: at2, Actor: "bob", Via: "api"},
		{Tag: "old", From: m1.Digest, At: at2.Add(time.Minute), Actor: "carol", Via: "lifecycle"},
	}
	must(t, s.AppendTagEvents(c, r.ID, hist[:1]))
	must(t, s.AppendTagEvents(c, r.ID, hist[1:]))
	must(t, s.AppendTagEvents(c, r.ID, nil))
	events, err = s.ListTagEvents(c, r.ID, 0, 0)
	must(t, err)
	if len(events) != 4 || events[0].Tag != "native" {
		t.Fatalf("events: %+v", events)
	}
	for i, e := range events[1:] {
		w := hist[i]
		w.RepoID = r.ID
		equal(t, fmt.Sprintf("appended event %d", i), e, w)
	}
	h, err := s.TagHistory(c, r.ID, "latest", 0)
	must(t, err)
	if len(h) != 2 || h[0].Actor != "bob" || !h[0].At.Equal(at2) || h[1].Actor != "alice" {
		t.Fatalf("history of latest: %+v", h)
	}
	wantErr(t, s.AppendTagEvents(c, r.ID+1000, hist), meta.ErrNotFound)

	// A batch is all or nothing.
	if err := s.AppendTagEvents(c, r.ID, []meta.TagEvent{{Tag: "ok", To: m1.Digest, At: at1}, {To: m1.Digest}}); err == nil {
		t.Fatal("an event without a tag was accepted")
	}
	events, err = s.ListTagEvents(c, r.ID, 0, 0)
	must(t, err)
	equal(t, "events after a refused batch", len(events), 4)
}
