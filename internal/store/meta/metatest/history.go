package metatest

import (
	"errors"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/wharfhq/wharf/internal/store/meta"
)

// Contract cases of meta.HistoryStore: tag history paging, tag moves,
// the recycle bin (with GC keeping binned blobs) and the platform guard.

func testTagEventsPaging(t *testing.T, s meta.Store) {
	c := ctx(t)
	r := repo(t, s, "app")
	a := push(t, s, r.ID, "a", "latest")
	b := push(t, s, r.ID, "b", "latest")
	push(t, s, r.ID, "c", "other")
	must(t, s.DeleteTag(c, r.ID, "latest", "eve", "oci"))

	all, err := s.TagEvents(c, r.ID, meta.TagEventQuery{})
	must(t, err)
	equal(t, "events", len(all), 4)
	for i := 1; i < len(all); i++ {
		if all[i].ID >= all[i-1].ID {
			t.Fatalf("not newest first: %+v", all)
		}
	}
	equal(t, "newest is the delete", all[0].From+">"+all[0].To, b.Digest+">")
	equal(t, "actor", all[0].Actor+"/"+all[0].Via, "eve/oci")

	latest, err := s.TagEvents(c, r.ID, meta.TagEventQuery{Tag: "latest", Limit: 2})
	must(t, err)
	equal(t, "page 1", len(latest), 2)
	equal(t, "page 1 second", latest[1].To, b.Digest)
	rest, err := s.TagEvents(c, r.ID, meta.TagEventQuery{Tag: "latest", BeforeID: latest[1].ID, Limit: 2})
	must(t, err)
	equal(t, "page 2", len(rest), 1)
	equal(t, "page 2 first", rest[0].From+">"+rest[0].To, ">"+a.Digest)
	if rest[0].At.IsZero() || rest[0].RepoID != r.ID {
		t.Fatalf("event %+v", rest[0])
	}

	// Another repository's history is its own.
	o := repo(t, s, "other")
	none, err := s.TagEvents(c, o.ID, meta.TagEventQuery{})
	must(t, err)
	equal(t, "other repository", len(none), 0)

	// LastTagged: the newest move of a tag to each image; moving a tag
	// away does not count.
	last, err := s.LastTagged(c, r.ID)
	must(t, err)
	equal(t, "last tagged digests", len(last), 3)
	if !last[b.Digest].After(last[a.Digest]) && !last[b.Digest].Equal(last[a.Digest]) {
		t.Fatalf("last tagged %v", last)
	}
	before := last[a.Digest]
	must(t, s.MoveTag(c, meta.MoveTag{RepoID: r.ID, Tag: "again", Digest: a.Digest, Actor: "bob", Via: "rollback"}))
	last, err = s.LastTagged(c, r.ID)
	must(t, err)
	if !last[a.Digest].After(before) {
		t.Fatalf("re-tagging did not advance the time: %v then %v", before, last[a.Digest])
	}
}

func testMoveTag(t *testing.T, s meta.Store) {
	c := ctx(t)
	r := repo(t, s, "app")
	a := push(t, s, r.ID, "a", "latest")
	b := push(t, s, r.ID, "b", "latest")

	// The expected current digest guards against a concurrent move.
	wantErr(t, s.MoveTag(c, meta.MoveTag{RepoID: r.ID, Tag: "latest", Digest: a.Digest, Expect: a.Digest}), meta.ErrConflict)
	wantErr(t, s.MoveTag(c, meta.MoveTag{RepoID: r.ID, Tag: "latest", Digest: dg("absent"), Expect: b.Digest}), meta.ErrNotFound)
	refuse := errors.New("refused")
	var seen string
	err := s.MoveTag(c, meta.MoveTag{RepoID: r.ID, Tag: "latest", Digest: a.Digest, Expect: b.Digest,
		AllowTagMove: func(cur string) error { seen = cur; return refuse }})
	if err != refuse {
		t.Fatalf("callback error: got %v", err)
	}
	equal(t, "callback saw", seen, b.Digest)
	equal(t, "not moved", resolve(t, s, r.ID, "latest"), b.Digest)

	must(t, s.MoveTag(c, meta.MoveTag{RepoID: r.ID, Tag: "latest", Digest: a.Digest, Expect: b.Digest, Actor: "bob", Via: "rollback"}))
	equal(t, "moved", resolve(t, s, r.ID, "latest"), a.Digest)
	h, err := s.TagHistory(c, r.ID, "latest", 1)
	must(t, err)
	equal(t, "event", h[0].From+">"+h[0].To+" "+h[0].Actor+"/"+h[0].Via, b.Digest+">"+a.Digest+" bob/rollback")
	// Where it points already: nothing recorded.
	must(t, s.MoveTag(c, meta.MoveTag{RepoID: r.ID, Tag: "latest", Digest: a.Digest, Expect: a.Digest}))
	h, err = s.TagHistory(c, r.ID, "latest", 0)
	must(t, err)
	equal(t, "no event for a no-op", len(h), 3)
	// A new tag expects "".
	must(t, s.MoveTag(c, meta.MoveTag{RepoID: r.ID, Tag: "fresh", Digest: b.Digest}))
	equal(t, "new tag", resolve(t, s, r.ID, "fresh"), b.Digest)
}

func bin(t *testing.T, s meta.Store, d meta.ImageDelete) meta.ImageDeleteResult {
	t.Helper()
	res, err := s.DeleteImage(ctx(t), d)
	must(t, err)
	return res
}

func testBinDeleteRestore(t *testing.T, s meta.Store) {
	c := ctx(t)
	r := repo(t, s, "app")
	m := push(t, s, r.ID, "a", "v1")
	tagImage(t, s, r.ID, "a", "latest")
	must(t, s.TouchPull(c, r.ID, m.Digest, fixed))
	stored, err := s.GetManifest(c, r.ID, m.Digest)
	must(t, err)
	until := time.Now().Add(time.Hour)

	res := bin(t, s, meta.ImageDelete{RepoID: r.ID, Digest: m.Digest, BinUntil: until, Actor: "alice", Via: "ecr"})
	equal(t, "deleted", res.Deleted, true)
	equalSlice(t, "tags removed", res.Tags, []string{"latest", "v1"})

	// Gone from everything that lists or serves images.
	_, err = s.GetManifest(c, r.ID, m.Digest)
	wantErr(t, err, meta.ErrNotFound)
	_, err = s.ResolveTag(c, r.ID, "v1")
	wantErr(t, err, meta.ErrNotFound)
	ims, err := s.ListImages(c, r.ID, "", 0)
	must(t, err)
	equal(t, "listed images", len(ims), 0)
	_, err = s.GetImage(c, r.ID, m.Digest)
	wantErr(t, err, meta.ErrNotFound)
	h, err := s.TagHistory(c, r.ID, "v1", 1)
	must(t, err)
	equal(t, "delete recorded", h[0].From+">"+h[0].To+" "+h[0].Via, m.Digest+"> ecr")
	// A binned image does not keep its repository from being deleted.
	must(t, s.DeleteRepository(c, repo(t, s, "scratch").ID, false))

	entries, err := s.ListBin(c, meta.BinQuery{AccountID: account, Now: time.Now()})
	must(t, err)
	equal(t, "bin entries", len(entries), 1)
	e := entries[0]
	equal(t, "entry repo", e.Repository+"@"+e.AccountID, "app@"+account)
	equal(t, "entry digest", e.Manifest.Digest, m.Digest)
	equal(t, "entry content", string(e.Manifest.Content), string(m.Content))
	equalSlice(t, "entry tags", e.Tags, []string{"latest", "v1"})
	equal(t, "entry by", e.DeletedBy+"/"+e.Via, "alice/ecr")
	equalTime(t, "entry expires", e.ExpiresAt, until)
	if e.DeletedAt.IsZero() {
		t.Fatal("no deletion time")
	}
	got, err := s.GetBinEntry(c, r.ID, m.Digest)
	must(t, err)
	equal(t, "get entry", got.Manifest.Digest, m.Digest)

	// Meanwhile latest moves to another image: restoring does not steal it.
	other := push(t, s, r.ID, "b", "latest")
	_, refs := image(r.ID, "a")
	out, err := s.RestoreImages(c, r.ID, []meta.ImageRestore{{Digest: m.Digest, Refs: refs}}, time.Now(), "bob", "restore")
	must(t, err)
	equal(t, "restored", len(out), 1)
	equalSlice(t, "restored tags", out[0].Tags, []string{"v1"})
	equal(t, "skipped tag", out[0].Skipped["latest"], other.Digest)
	back, err := s.GetManifest(c, r.ID, m.Digest)
	must(t, err)
	equal(t, "content back", string(back.Content), string(stored.Content))
	equalTime(t, "pushed at kept", back.PushedAt, stored.PushedAt)
	equalTime(t, "pull time kept", back.LastPullAt, stored.LastPullAt)
	equal(t, "v1 back", resolve(t, s, r.ID, "v1"), m.Digest)
	equal(t, "latest left", resolve(t, s, r.ID, "latest"), other.Digest)
	h, err = s.TagHistory(c, r.ID, "v1", 1)
	must(t, err)
	equal(t, "restore recorded", h[0].From+">"+h[0].To+" "+h[0].Actor+"/"+h[0].Via, ">"+m.Digest+" bob/restore")
	refsBack, err := s.ManifestRefs(c, r.ID, m.Digest)
	must(t, err)
	want := append([]string(nil), refs.Blobs...)
	sort.Strings(want)
	equalSlice(t, "references back", refsBack.Blobs, want)
	_, err = s.GetBinEntry(c, r.ID, m.Digest)
	wantErr(t, err, meta.ErrNotFound)
	// Restoring again: nothing in the bin.
	_, err = s.RestoreImages(c, r.ID, []meta.ImageRestore{{Digest: dg("nothing")}}, time.Now(), "", "")
	wantErr(t, err, meta.ErrNotFound)

	// Without BinUntil a delete is for good.
	res = bin(t, s, meta.ImageDelete{RepoID: r.ID, Digest: other.Digest})
	equal(t, "deleted for good", res.Deleted, true)
	_, err = s.GetBinEntry(c, r.ID, other.Digest)
	wantErr(t, err, meta.ErrNotFound)
	_, err = s.DeleteImage(c, meta.ImageDelete{RepoID: r.ID, Digest: other.Digest})
	wantErr(t, err, meta.ErrNotFound)
}

func testBinExpiryAndPurge(t *testing.T, s meta.Store) {
	c := ctx(t)
	r := repo(t, s, "app")
	soon, later := fixed.Add(time.Hour), fixed.Add(48*time.Hour)
	a := push(t, s, r.ID, "a", "a")
	b := push(t, s, r.ID, "b", "b")
	bin(t, s, meta.ImageDelete{RepoID: r.ID, Digest: a.Digest, BinUntil: soon})
	bin(t, s, meta.ImageDelete{RepoID: r.ID, Digest: b.Digest, BinUntil: later})

	visible := func(now time.Time) []string {
		t.Helper()
		es, err := s.ListBin(c, meta.BinQuery{AccountID: account, Now: now})
		must(t, err)
		var out []string
		for _, e := range es {
			out = append(out, e.Manifest.Digest)
		}
		sort.Strings(out)
		return out
	}
	equal(t, "both before expiry", len(visible(fixed)), 2)
	equalSlice(t, "one after the first expiry", visible(soon), []string{b.Digest})
	equal(t, "no filter", len(visible(time.Time{})), 2)
	// An expired entry cannot be restored, even before it is purged.
	_, refs := image(r.ID, "a")
	_, err := s.RestoreImages(c, r.ID, []meta.ImageRestore{{Digest: a.Digest, Refs: refs}}, soon, "", "")
	wantErr(t, err, meta.ErrNotFound)

	n, err := s.PurgeBin(c, fixed, 0)
	must(t, err)
	equal(t, "nothing expired yet", n, int64(0))
	n, err = s.PurgeBin(c, soon, 0)
	must(t, err)
	equal(t, "purged", n, int64(1))
	_, err = s.GetBinEntry(c, r.ID, a.Digest)
	wantErr(t, err, meta.ErrNotFound)
	_, err = s.GetBinEntry(c, r.ID, b.Digest)
	must(t, err)
	n, err = s.PurgeBin(c, later.Add(time.Hour), 1)
	must(t, err)
	equal(t, "purged with limit", n, int64(1))
}

func testBinUntag(t *testing.T, s meta.Store) {
	c := ctx(t)
	r := repo(t, s, "app")
	until := time.Now().Add(time.Hour)
	m := push(t, s, r.ID, "a", "v1")
	tagImage(t, s, r.ID, "a", "v2")

	// Untagging with another tag left: the tag only.
	res := bin(t, s, meta.ImageDelete{RepoID: r.ID, Tag: "v1", DeleteUntagged: true, BinUntil: until})
	equal(t, "image stays", res.Deleted, false)
	equalSlice(t, "tag removed", res.Tags, []string{"v1"})
	_, err := s.GetManifest(c, r.ID, m.Digest)
	must(t, err)
	// A tag that points elsewhere than the caller thought is refused.
	_, err = s.DeleteImage(c, meta.ImageDelete{RepoID: r.ID, Tag: "v2", Digest: dg("else"), DeleteUntagged: true})
	wantErr(t, err, meta.ErrConflict)
	_, err = s.DeleteImage(c, meta.ImageDelete{RepoID: r.ID, Tag: "nope", DeleteUntagged: true})
	wantErr(t, err, meta.ErrNotFound)

	// The last tag: the image goes to the bin with it.
	res = bin(t, s, meta.ImageDelete{RepoID: r.ID, Tag: "v2", Digest: m.Digest, DeleteUntagged: true, BinUntil: until})
	equal(t, "image deleted", res.Deleted, true)
	_, err = s.GetManifest(c, r.ID, m.Digest)
	wantErr(t, err, meta.ErrNotFound)
	e, err := s.GetBinEntry(c, r.ID, m.Digest)
	must(t, err)
	equalSlice(t, "binned with its last tag", e.Tags, []string{"v2"})

	// Without DeleteUntagged (OCI's tag delete) the untagged image stays.
	k := push(t, s, r.ID, "k", "only")
	res = bin(t, s, meta.ImageDelete{RepoID: r.ID, Tag: "only", BinUntil: until})
	equal(t, "kept untagged", res.Deleted, false)
	_, err = s.GetManifest(c, r.ID, k.Digest)
	must(t, err)

	// An image an index lists stays, untagged.
	child := push(t, s, r.ID, "child", "c")
	_, err = index(t, s, r.ID, "idx", child.Digest)
	must(t, err)
	res = bin(t, s, meta.ImageDelete{RepoID: r.ID, Tag: "c", DeleteUntagged: true, BinUntil: until})
	equal(t, "listed child stays", res.Deleted, false)
	_, err = s.GetManifest(c, r.ID, child.Digest)
	must(t, err)
}

func testBinReferenced(t *testing.T, s meta.Store) {
	c := ctx(t)
	r := repo(t, s, "app")
	until := time.Now().Add(time.Hour)
	amd := push(t, s, r.ID, "amd64", "")
	arm := push(t, s, r.ID, "arm64", "")
	idx, err := index(t, s, r.ID, "latest", amd.Digest, arm.Digest)
	must(t, err)

	_, err = s.DeleteImage(c, meta.ImageDelete{RepoID: r.ID, Digest: amd.Digest, BinUntil: until})
	var re *meta.ReferencedError
	if !errors.As(err, &re) || !errors.Is(err, meta.ErrReferenced) {
		t.Fatalf("got %v, want a ReferencedError", err)
	}
	equal(t, "naming the index", re.Index, idx.Digest)
	err = s.DeleteManifest(c, r.ID, amd.Digest, "", "")
	if !errors.As(err, &re) || re.Index != idx.Digest {
		t.Fatalf("DeleteManifest: got %v", err)
	}

	// Index, then children, into the bin; restore the index alone fails
	// while its children are binned, and works with them first.
	bin(t, s, meta.ImageDelete{RepoID: r.ID, Digest: idx.Digest, BinUntil: until})
	bin(t, s, meta.ImageDelete{RepoID: r.ID, Digest: amd.Digest, BinUntil: until})
	bin(t, s, meta.ImageDelete{RepoID: r.ID, Digest: arm.Digest, BinUntil: until})
	idxRefs := meta.Refs{Manifests: []string{amd.Digest, arm.Digest}}
	_, err = s.RestoreImages(c, r.ID, []meta.ImageRestore{{Digest: idx.Digest, Refs: idxRefs}}, time.Now(), "", "")
	var miss *meta.MissingError
	if !errors.As(err, &miss) || !errors.Is(err, meta.ErrChildMissing) {
		t.Fatalf("got %v, want missing children", err)
	}
	_, err = s.GetBinEntry(c, r.ID, idx.Digest)
	must(t, err) // the failed restore changed nothing
	_, amdRefs := image(r.ID, "amd64")
	_, armRefs := image(r.ID, "arm64")
	out, err := s.RestoreImages(c, r.ID, []meta.ImageRestore{
		{Digest: amd.Digest, Refs: amdRefs}, {Digest: arm.Digest, Refs: armRefs}, {Digest: idx.Digest, Refs: idxRefs},
	}, time.Now(), "", "")
	must(t, err)
	equal(t, "restored", len(out), 3)
	equalSlice(t, "index tag back", out[2].Tags, []string{"latest"})
	equal(t, "latest", resolve(t, s, r.ID, "latest"), idx.Digest)
	// The index lists its children again.
	_, err = s.DeleteImage(c, meta.ImageDelete{RepoID: r.ID, Digest: arm.Digest})
	wantErr(t, err, meta.ErrReferenced)

	// A required blob that is gone (unlinked by hand) fails the restore.
	lone := push(t, s, r.ID, "lone", "lone")
	bin(t, s, meta.ImageDelete{RepoID: r.ID, Digest: lone.Digest, BinUntil: until})
	_, loneRefs := image(r.ID, "lone")
	must(t, s.UnlinkBlob(c, r.ID, loneRefs.Blobs[1]))
	_, err = s.RestoreImages(c, r.ID, []meta.ImageRestore{{Digest: lone.Digest, Refs: loneRefs}}, time.Now(), "", "")
	if !errors.As(err, &miss) || !errors.Is(err, meta.ErrBlobsMissing) || !slices.Equal(miss.Digests, loneRefs.Blobs[1:]) {
		t.Fatalf("got %v, want the missing layer", err)
	}
}

func testBinRepush(t *testing.T, s meta.Store) {
	c := ctx(t)
	r := repo(t, s, "app")
	m := push(t, s, r.ID, "a", "v1")
	bin(t, s, meta.ImageDelete{RepoID: r.ID, Digest: m.Digest, BinUntil: time.Now().Add(time.Hour)})
	// Pushing the same manifest recreates it and takes it out of the bin.
	again := push(t, s, r.ID, "a", "v2")
	equal(t, "same digest", again.Digest, m.Digest)
	_, err := s.GetBinEntry(c, r.ID, m.Digest)
	wantErr(t, err, meta.ErrNotFound)
	_, err = s.ResolveTag(c, r.ID, "v1")
	wantErr(t, err, meta.ErrNotFound) // the old tags are not resurrected by a push
	// Deleted again later: a fresh entry.
	bin(t, s, meta.ImageDelete{RepoID: r.ID, Digest: m.Digest, BinUntil: time.Now().Add(time.Hour)})
	e, err := s.GetBinEntry(c, r.ID, m.Digest)
	must(t, err)
	equalSlice(t, "fresh entry tags", e.Tags, []string{"v2"})
}

func testBinKeepsBlobsFromGC(t *testing.T, s meta.Store) {
	c := ctx(t)
	r := repo(t, s, "app")
	m := push(t, s, r.ID, "a", "v1")
	_, refs := image(r.ID, "a")
	bin(t, s, meta.ImageDelete{RepoID: r.ID, Digest: m.Digest, BinUntil: fixed.Add(time.Hour)})

	future := time.Now().Add(time.Hour) // every link and blob is older than this cutoff
	n, err := s.UnlinkStale(c, future)
	must(t, err)
	equal(t, "links of a binned image are not stale", n, int64(0))
	for _, d := range refs.Blobs {
		_, err := s.GetBlob(c, r.ID, d)
		must(t, err)
	}
	// Even a link removed by hand leaves the blob referenced by the bin.
	must(t, s.UnlinkBlob(c, r.ID, refs.Blobs[0]))
	cands, err := s.GCCandidates(c, future, 0)
	must(t, err)
	equal(t, "no candidates while binned", len(cands), 0)
	prev, err := s.GCPreview(c, future, 0)
	must(t, err)
	equal(t, "no preview while binned", len(prev), 0)
	ok, err := s.MarkBlobDeleting(c, refs.Blobs[0], future)
	must(t, err)
	equal(t, "binned blob not marked", ok, false)

	// Once the bin lets the image go, GC frees its blobs.
	_, err = s.PurgeBin(c, fixed.Add(time.Hour), 0)
	must(t, err)
	n, err = s.UnlinkStale(c, future)
	must(t, err)
	equal(t, "stale links after purge", n, int64(1))
	cands, err = s.GCCandidates(c, future, 0)
	must(t, err)
	got := blobDigests(cands)
	sort.Strings(got)
	want := append([]string(nil), refs.Blobs...)
	sort.Strings(want)
	equalSlice(t, "candidates after purge", got, want)
}

func testBinListing(t *testing.T, s meta.Store) {
	c := ctx(t)
	r1, r2 := repo(t, s, "a/one"), repo(t, s, "b/two")
	other, err := s.CreateRepository(c, meta.Repository{AccountID: "210987654321", Name: "a/one", TagMutability: "MUTABLE"})
	must(t, err)
	until := time.Now().Add(time.Hour)
	var want []string
	for i, r := range []meta.Repository{r1, r2, r1, r2, r1} {
		m := push(t, s, r.ID, "img"+string(rune('0'+i)), "")
		bin(t, s, meta.ImageDelete{RepoID: r.ID, Digest: m.Digest, BinUntil: until})
		want = append(want, m.Digest)
	}
	om := push(t, s, other.ID, "foreign", "")
	bin(t, s, meta.ImageDelete{RepoID: other.ID, Digest: om.Digest, BinUntil: until})

	var got []string
	q := meta.BinQuery{AccountID: account, Limit: 2}
	for i := 0; i < 10; i++ {
		page, err := s.ListBin(c, q)
		must(t, err)
		for _, e := range page {
			got = append(got, e.Manifest.Digest)
			if e.AccountID != account {
				t.Fatalf("another account's entry: %+v", e)
			}
		}
		if len(page) < q.Limit {
			break
		}
		last := page[len(page)-1]
		q.After = meta.BinCursor{DeletedAt: last.DeletedAt, RepoID: last.Manifest.RepoID, Digest: last.Manifest.Digest}
	}
	equal(t, "paged entries", len(got), 5)
	// Newest deletion first (equal times in a stable order).
	seen := map[string]bool{}
	for _, d := range got {
		if seen[d] {
			t.Fatalf("entry listed twice: %v", got)
		}
		seen[d] = true
	}
	slices.Reverse(want)
	all, err := s.ListBin(c, meta.BinQuery{AccountID: account})
	must(t, err)
	for i := 1; i < len(all); i++ {
		if all[i].DeletedAt.After(all[i-1].DeletedAt) {
			t.Fatalf("not newest first: %v then %v", all[i-1].DeletedAt, all[i].DeletedAt)
		}
	}
	one, err := s.ListBin(c, meta.BinQuery{AccountID: account, RepoID: r2.ID})
	must(t, err)
	equal(t, "one repository", len(one), 2)
	everyone, err := s.ListBin(c, meta.BinQuery{})
	must(t, err)
	equal(t, "every account", len(everyone), 6)

	// Entries go with their repository.
	must(t, s.DeleteRepository(c, r2.ID, true))
	left, err := s.ListBin(c, meta.BinQuery{AccountID: account})
	must(t, err)
	equal(t, "after repository delete", len(left), 3)
	_, err = s.RestoreImages(c, r2.ID, []meta.ImageRestore{{Digest: want[0]}}, time.Now(), "", "")
	wantErr(t, err, meta.ErrNotFound)
}

func testPlatformGuard(t *testing.T, s meta.Store) {
	c := ctx(t)
	r := repo(t, s, "app")
	g, err := s.GetPlatformGuard(c, r.ID)
	must(t, err)
	equal(t, "off by default", g.Enabled, false)
	must(t, s.PutPlatformGuard(c, meta.PlatformGuard{RepoID: r.ID, Enabled: true, UpdatedAt: fixed, UpdatedBy: "alice"}))
	g, err = s.GetPlatformGuard(c, r.ID)
	must(t, err)
	equal(t, "on", g.Enabled, true)
	equal(t, "by", g.UpdatedBy, "alice")
	equalTime(t, "at", g.UpdatedAt, fixed)
	must(t, s.PutPlatformGuard(c, meta.PlatformGuard{RepoID: r.ID, Enabled: false, UpdatedBy: "bob"}))
	g, err = s.GetPlatformGuard(c, r.ID)
	must(t, err)
	equal(t, "off again", g.Enabled, false)
	if g.UpdatedAt.IsZero() {
		t.Fatal("zero time not defaulted to now")
	}
	wantErr(t, s.PutPlatformGuard(c, meta.PlatformGuard{RepoID: r.ID + 1000, Enabled: true}), meta.ErrNotFound)
	other := repo(t, s, "other")
	g, err = s.GetPlatformGuard(c, other.ID)
	must(t, err)
	equal(t, "per repository", g.Enabled, false)

	must(t, s.PutPlatformGuard(c, meta.PlatformGuard{RepoID: r.ID, Enabled: true}))
	must(t, s.DeleteRepository(c, r.ID, true))
	again := repo(t, s, "app")
	g, err = s.GetPlatformGuard(c, again.ID)
	must(t, err)
	equal(t, "a recreated repository starts off", g.Enabled, false)
}

// testBinKeepsArchiveState: an archived image deleted into the bin comes
// back archived (a restore must not make it pullable); one being restored
// from the archive comes back active.
func testBinKeepsArchiveState(t *testing.T, s meta.Store) {
	c := ctx(t)
	r := repo(t, s, "app")
	a := push(t, s, r.ID, "a", "a")
	b := push(t, s, r.ID, "b", "b")
	must(t, s.SetImageStatus(c, r.ID, a.Digest, []string{meta.ImageActive}, meta.ImageArchived, fixed))
	must(t, s.SetImageStatus(c, r.ID, b.Digest, []string{meta.ImageActive}, meta.ImageArchived, fixed))
	must(t, s.SetImageStatus(c, r.ID, b.Digest, []string{meta.ImageArchived}, meta.ImageActivating, fixed.Add(time.Hour)))
	until := time.Now().Add(time.Hour)
	for _, d := range []string{a.Digest, b.Digest} {
		bin(t, s, meta.ImageDelete{RepoID: r.ID, Digest: d, BinUntil: until})
	}
	e, err := s.GetBinEntry(c, r.ID, a.Digest)
	must(t, err)
	equal(t, "binned status", e.Manifest.Status, meta.ImageArchived)
	equalTime(t, "binned archived at", e.Manifest.ArchivedAt, fixed)
	_, refsA := image(r.ID, "a")
	_, refsB := image(r.ID, "b")
	_, err = s.RestoreImages(c, r.ID, []meta.ImageRestore{{Digest: a.Digest, Refs: refsA}, {Digest: b.Digest, Refs: refsB}}, time.Now(), "bob", "restore")
	must(t, err)
	back, err := s.GetManifest(c, r.ID, a.Digest)
	must(t, err)
	equal(t, "restored status", back.Status, meta.ImageArchived)
	equalTime(t, "restored archived at", back.ArchivedAt, fixed)
	back, err = s.GetManifest(c, r.ID, b.Digest)
	must(t, err)
	equal(t, "restored activating image", back.Status, meta.ImageActive)
}
