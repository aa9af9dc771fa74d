package metatest

import (
	"fmt"
	"testing"
	"time"

	"github.com/wharfhq/wharf/internal/store/meta"
)

// Targeted rescans and scan eligibility (migration 0012): inventory key
// sets, listings by key and by digest, expiry marks.

// pushAt puts image(seed) pushed at "at", with tag if not empty (the tag's
// time is the store's now).
func pushAt(t *testing.T, s meta.Store, repoID int64, seed, tag string, at time.Time) meta.Manifest {
	t.Helper()
	m, refs := image(repoID, seed)
	m.PushedAt = at
	link(t, s, repoID, refs.Blobs...)
	must(t, s.PutManifest(ctx(t), meta.PutManifest{Manifest: m, Refs: refs, Tag: tag, Actor: "tester", Via: "push"}))
	return m
}

// completeScan stores an inventory (with key set ks) and a completed scan
// of the image.
func completeScan(t *testing.T, s meta.Store, r meta.Repository, d string, ks []byte, at time.Time) {
	t.Helper()
	must(t, s.PutInventory(ctx(t), meta.Inventory{Digest: d, Version: "v1", Data: []byte("inv " + d), KeySet: ks}))
	queue(t, s, meta.ScanRequest{RepoID: r.ID, Digest: d, At: at})
	must(t, s.FinishScan(ctx(t), meta.ScanResult{RepoID: r.ID, Digest: d, Status: meta.ScanComplete, CompletedAt: at,
		FindingsHash: "h", Findings: []byte("f")}))
}

func testRematchTargets(t *testing.T, s meta.Store) {
	c := ctx(t)
	r := repo(t, s, "targets")
	var ds []string
	for i := 0; i < 4; i++ {
		m := push(t, s, r.ID, fmt.Sprint("t", i), "")
		ds = append(ds, m.Digest)
		var ks []byte
		if i != 3 {
			ks = []byte{1, byte(i), 0, 0, 0} // image 3: unknown
		}
		completeScan(t, s, r, m.Digest, ks, fixed)
	}
	inv, err := s.GetInventory(c, ds[1])
	must(t, err)
	if string(inv.KeySet) != string([]byte{1, 1, 0, 0, 0}) {
		t.Fatalf("key set %v", inv.KeySet)
	}
	inv, err = s.GetInventory(c, ds[3])
	must(t, err)
	if inv.KeySet != nil {
		t.Fatalf("unknown key set read as %v", inv.KeySet)
	}

	keys, err := s.ListRematchKeys(c, meta.RematchQuery{RepoID: r.ID, Limit: 10})
	must(t, err)
	equal(t, "keys listed", len(keys), 4)
	got := map[string]meta.RematchKey{}
	prev := ""
	for _, k := range keys {
		if k.Digest <= prev {
			t.Fatalf("keys not in digest order")
		}
		prev = k.Digest
		got[k.Digest] = k
	}
	for i, d := range ds {
		k := got[d]
		if (i == 3) != (k.KeySet == nil) || k.Expired || (i != 3 && k.KeySet[1] != byte(i)) {
			t.Fatalf("key of image %d: %+v", i, k)
		}
	}
	// Paged.
	page, err := s.ListRematchKeys(c, meta.RematchQuery{RepoID: r.ID, After: keys[1].Digest, Limit: 10})
	must(t, err)
	equal(t, "keys after the second", len(page), 2)

	// By digest: only those (and only completed scans with an inventory).
	other := push(t, s, r.ID, "in-progress", "")
	queue(t, s, meta.ScanRequest{RepoID: r.ID, Digest: other.Digest})
	items, err := s.ListRematch(c, meta.RematchQuery{RepoID: r.ID, Digests: []string{ds[2], ds[0], other.Digest, dg("missing")}})
	must(t, err)
	if len(items) != 2 || items[0].Scan.Digest != min(ds[0], ds[2]) || items[1].Scan.Digest != max(ds[0], ds[2]) ||
		string(items[0].Inventory.Data) != "inv "+items[0].Scan.Digest || items[0].Inventory.KeySet == nil || string(items[0].Scan.Findings) != "f" {
		t.Fatalf("by digest: %+v", items)
	}
	items, err = s.ListRematch(c, meta.RematchQuery{RepoID: r.ID, Digests: []string{}})
	must(t, err)
	equal(t, "no digests", len(items), 0)

	// Key sets set afterwards; missing inventories are skipped.
	must(t, s.PutInventoryKeySets(c, map[string][]byte{ds[3]: {1, 9, 9, 9, 9}, dg("none"): {1}}))
	inv, err = s.GetInventory(c, ds[3])
	must(t, err)
	if string(inv.KeySet) != string([]byte{1, 9, 9, 9, 9}) {
		t.Fatalf("key set after PutInventoryKeySets %v", inv.KeySet)
	}
	must(t, s.PutInventoryKeySets(c, nil))
	// Replacing an inventory replaces its key set.
	must(t, s.PutInventory(c, meta.Inventory{Digest: ds[3], Version: "v2", Data: []byte("x")}))
	inv, err = s.GetInventory(c, ds[3])
	must(t, err)
	if inv.KeySet != nil {
		t.Fatalf("replaced inventory kept key set %v", inv.KeySet)
	}

	// Pruning an inventory takes its key set with it.
	must(t, s.PutInventory(c, meta.Inventory{Digest: dg("orphan-keyed"), Version: "v1", Data: []byte("x"), KeySet: []byte{1, 2, 3, 4, 5}, CreatedAt: fixed}))
	n, err := s.PruneInventories(c, fixed.Add(time.Hour), 0)
	must(t, err)
	equal(t, "pruned", n, int64(1))
	must(t, s.PutInventory(c, meta.Inventory{Digest: dg("orphan-keyed"), Version: "v1", Data: []byte("x")}))
	if inv, err = s.GetInventory(c, dg("orphan-keyed")); err != nil || inv.KeySet != nil {
		t.Fatalf("re-stored pruned inventory: %+v %v", inv, err)
	}
}

func testScanExpire(t *testing.T, s meta.Store) {
	c := ctx(t)
	r := repo(t, s, "expire")
	old := fixed
	// old: pushed long ago, untagged; pulled: pulled recently; tagged: a
	// tag moved to it now; asked: a scan asked for recently; recent:
	// pushed recently.
	mOld := pushAt(t, s, r.ID, "old", "", old)
	mPulled := pushAt(t, s, r.ID, "pulled", "", old)
	mTagged := pushAt(t, s, r.ID, "tagged", "", old)
	mAsked := pushAt(t, s, r.ID, "asked", "", old)
	mRecent := pushAt(t, s, r.ID, "recent", "", old.Add(40*24*time.Hour))
	for _, m := range []meta.Manifest{mOld, mPulled, mTagged, mRecent} {
		completeScan(t, s, r, m.Digest, []byte{1}, old)
	}
	completeScan(t, s, r, mAsked.Digest, []byte{1}, old.Add(35*24*time.Hour))
	must(t, s.TouchPull(c, r.ID, mPulled.Digest, old.Add(35*24*time.Hour)))
	pushAt(t, s, r.ID, "tagged", "v2", old) // the same manifest, tagged now

	now := old.Add(44 * 24 * time.Hour)
	active := meta.ActiveSince{Pushed: now.Add(-14 * 24 * time.Hour), Pulled: now.Add(-30 * 24 * time.Hour)}
	// No limit marks nothing.
	n, err := s.ExpireScans(c, r.ID, meta.ActiveSince{}, now)
	must(t, err)
	equal(t, "expired without limit", n, int64(0))

	n, err = s.ExpireScans(c, r.ID, active, now)
	must(t, err)
	equal(t, "expired", n, int64(1))
	scans, err := s.GetScans(c, r.ID, []string{mOld.Digest, mPulled.Digest, mTagged.Digest, mAsked.Digest, mRecent.Digest})
	must(t, err)
	for d, sc := range scans {
		if want := d == mOld.Digest; want != !sc.ExpiredAt.IsZero() || (want && !sc.ExpiredAt.Equal(now)) {
			t.Fatalf("scan %s expired at %v", short(d), sc.ExpiredAt)
		}
	}
	// Marking again changes nothing (the mark keeps its time).
	n, err = s.ExpireScans(c, r.ID, active, now.Add(time.Hour))
	must(t, err)
	equal(t, "expired again", n, int64(0))
	// Without pulls counting, the pulled image lapses too.
	n, err = s.ExpireScans(c, r.ID, meta.ActiveSince{Pushed: active.Pushed}, now)
	must(t, err)
	equal(t, "expired without pull duration", n, int64(1))
	sc, err := s.GetScan(c, r.ID, mPulled.Digest)
	must(t, err)
	if sc.ExpiredAt.IsZero() {
		t.Fatal("pulled image not expired without a pull duration")
	}

	// Listings leave inactive images out, and show the marks of the rest.
	keys, err := s.ListRematchKeys(c, meta.RematchQuery{RepoID: r.ID, Limit: 10, Active: active})
	must(t, err)
	listed := map[string]bool{}
	for _, k := range keys {
		listed[k.Digest] = k.Expired
	}
	if _, ok := listed[mOld.Digest]; ok || len(listed) != 4 || !listed[mPulled.Digest] || listed[mRecent.Digest] {
		t.Fatalf("active listing %v", listed)
	}
	items, err := s.ListRematch(c, meta.RematchQuery{RepoID: r.ID, Limit: 10, Active: active})
	must(t, err)
	equal(t, "active items", len(items), 4)
	items, err = s.ListRematch(c, meta.RematchQuery{RepoID: r.ID, Digests: []string{mOld.Digest, mPulled.Digest}, Active: active})
	must(t, err)
	if len(items) != 1 || items[0].Scan.Digest != mPulled.Digest || items[0].Scan.ExpiredAt.IsZero() {
		t.Fatalf("active by digest %+v", items)
	}

	// A rematch clears the mark (unchanged or not); so does a scan.
	written, err := s.PutRematch(c, []meta.ScanResult{{RepoID: r.ID, Digest: mPulled.Digest, Unchanged: true, CompletedAt: now, IfCompletedAt: old}})
	must(t, err)
	equal(t, "rematch written", written, 1)
	sc, err = s.GetScan(c, r.ID, mPulled.Digest)
	must(t, err)
	if !sc.ExpiredAt.IsZero() || !sc.CompletedAt.Equal(now) {
		t.Fatalf("after rematch %+v", sc)
	}
	queue(t, s, meta.ScanRequest{RepoID: r.ID, Digest: mOld.Digest, At: now})
	must(t, s.FinishScan(c, meta.ScanResult{RepoID: r.ID, Digest: mOld.Digest, Status: meta.ScanComplete, CompletedAt: now}))
	sc, err = s.GetScan(c, r.ID, mOld.Digest)
	must(t, err)
	if !sc.ExpiredAt.IsZero() {
		t.Fatalf("after scan %+v", sc)
	}
	// Its scan was asked for now: active again for the push duration.
	n, err = s.ExpireScans(c, r.ID, active, now)
	must(t, err)
	equal(t, "expired after the scan", n, int64(0))
}
