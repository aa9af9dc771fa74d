// Package metatest is the contract suite of meta.Store: every
// implementation runs Run against a fresh store per subtest.
package metatest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wharfhq/wharf/internal/store/meta"
)

// Run runs the contract suite. open must return an empty store and arrange
// (with t.Cleanup) for it to be closed.
func Run(t *testing.T, open func(t *testing.T) meta.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s meta.Store)
	}{
		{"Accounts", testAccounts},
		{"AccessKeys", testAccessKeys},
		{"RepositoryCreateGet", testRepositoryCreateGet},
		{"RepositoryListPagination", testRepositoryList},
		{"RepositoryDeleteNotEmpty", testRepositoryDeleteNotEmpty},
		{"RepositoryDeleteEmpty", testRepositoryDeleteEmpty},
		{"LinkBlob", testLinkBlob},
		{"LinkBlobMissingRepository", testLinkBlobMissingRepo},
		{"UploadLifecycle", testUploadLifecycle},
		{"UploadConcurrentAdvance", testUploadConcurrentAdvance},
		{"ListUploadsBefore", testListUploadsBefore},
		{"PutGetManifest", testPutGetManifest},
		{"PutManifestMissingBlobs", testPutManifestMissingBlobs},
		{"PutManifestChildMissing", testPutManifestChildMissing},
		{"PutManifestMissingRepository", testPutManifestMissingRepo},
		{"PutManifestIdempotent", testPutManifestIdempotent},
		{"TagMoveHistory", testTagMoveHistory},
		{"AllowTagMoveAbort", testAllowTagMoveAbort},
		{"AllowTagMovePanic", testAllowTagMovePanic},
		{"DeleteManifestReferenced", testDeleteManifestReferenced},
		{"DeleteManifestRemovesTags", testDeleteManifestRemovesTags},
		{"DeleteTag", testDeleteTag},
		{"ListTagsPagination", testListTags},
		{"ListReferrers", testListReferrers},
		{"TouchPull", testTouchPull},
		{"ConcurrentPutDifferentTags", testConcurrentPutDifferentTags},
		{"ConcurrentPutSameTag", testConcurrentPutSameTag},
		{"UnlinkStale", testUnlinkStale},
		{"GCCandidates", testGCCandidates},
		{"MarkBlobDeleting", testMarkBlobDeleting},
		{"LinkBlobVsMarkBlobDeleting", testLinkVsMark},
		{"CanceledContext", testCanceledContext},
		{"GCPreview", testGCPreview},
		{"ReposLinking", testReposLinking},
		{"Users", testUsers},
		{"DeleteUserCascade", testDeleteUserCascade},
		{"ListDeleteAccessKeys", testListDeleteAccessKeys},
		{"UserPolicies", testUserPolicies},
		{"UpdateRepository", testUpdateRepository},
		{"ResourceTags", testResourceTags},
		{"RegistryPolicy", testRegistryPolicy},
		{"AccountSettings", testAccountSettings},
		{"CreationTemplates", testCreationTemplates},
		{"ListImages", testListImages},
		{"ListImagesPagination", testListImagesPagination},
		{"GetImage", testGetImage},
		{"LifecyclePolicy", testLifecyclePolicy},
		{"LifecyclePreview", testLifecyclePreview},
		{"LifecyclePreviewConcurrentStart", testLifecyclePreviewConcurrentStart},
		{"TransferListings", testTransferListings},
		{"TransferRestore", testTransferRestore},
		{"Audit", testAudit},
		{"BinKeepsArchiveState", testBinKeepsArchiveState},
		{"ImageStatus", testImageStatus},
		{"PullTimeExclusions", testPullTimeExclusions},
		{"LifecyclePlans", testLifecyclePlans},
		{"ListLifecycleRepositories", testListLifecycleRepositories},
		{"VulnAdvisories", testVulnAdvisories},
		{"VulnAdvisoriesMany", testVulnAdvisoriesMany},
		{"VulnSources", testVulnSources},
		{"JobsEnqueueDedup", testJobsEnqueueDedup},
		{"JobsClaimOnce", testJobsClaimOnce},
		{"JobsLeaseExpiry", testJobsLeaseExpiry},
		{"JobsFailRetry", testJobsFailRetry},
		{"JobsComplete", testJobsComplete},
		{"Suppressions", testSuppressions},
		{"ListIndexesOf", testListIndexesOf},
		{"TagEventsPaging", testTagEventsPaging},
		{"MoveTag", testMoveTag},
		{"BinDeleteRestore", testBinDeleteRestore},
		{"BinExpiryAndPurge", testBinExpiryAndPurge},
		{"BinUntag", testBinUntag},
		{"BinReferenced", testBinReferenced},
		{"BinRepush", testBinRepush},
		{"BinKeepsBlobsFromGC", testBinKeepsBlobsFromGC},
		{"BinListing", testBinListing},
		{"PlatformGuard", testPlatformGuard},
		{"ScanInventories", testInventories},
		{"ScanQueueFinish", testScanQueueFinish},
		{"ScanConcurrentLimit", testScanConcurrentLimit},
		{"ScanGetScans", testGetScans},
		{"ScanRematch", testRematch},
		{"ScanRematchTargets", testRematchTargets},
		{"ScanExpire", testScanExpire},
		{"ScanReferredSubjects", testReferredSubjects},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, open(t))
		})
	}
}

// Helpers.

// ctx bounds every call, so that a store that deadlocks (a transaction
// left open, say) fails the test instead of hanging it.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	return c
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("got error %v, want %v", err, target)
	}
}

func dg(s string) string {
	h := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(h[:])
}

// fixed is a time with microsecond precision, so that any implementation
// can store it exactly.
var fixed = time.Date(2024, 5, 6, 7, 8, 9, 123456000, time.UTC)

var account = "123456789012"

func repo(t *testing.T, s meta.Store, name string) meta.Repository {
	t.Helper()
	r, err := s.CreateRepository(ctx(t), meta.Repository{AccountID: account, Name: name, TagMutability: "MUTABLE"})
	must(t, err)
	return r
}

func link(t *testing.T, s meta.Store, repoID int64, digests ...string) {
	t.Helper()
	for _, d := range digests {
		must(t, s.LinkBlob(ctx(t), repoID, meta.Blob{Digest: d, Size: int64(len(d))}))
	}
}

// image builds an image manifest whose config and layer blobs are derived
// from seed; the blobs are not linked.
func image(repoID int64, seed string) (meta.Manifest, meta.Refs) {
	content := []byte(`{"schemaVersion":2,"seed":"` + seed + `"}`)
	cfg, layer := dg("config "+seed), dg("layer "+seed)
	return meta.Manifest{
		RepoID:       repoID,
		Digest:       dg(string(content)),
		MediaType:    "application/vnd.oci.image.manifest.v1+json",
		ConfigDigest: cfg,
		Size:         int64(len(content)),
		Content:      content,
	}, meta.Refs{Blobs: []string{cfg, layer}}
}

// push links the blobs of image(seed) and puts it, with tag if not empty.
func push(t *testing.T, s meta.Store, repoID int64, seed, tag string) meta.Manifest {
	t.Helper()
	m, refs := image(repoID, seed)
	link(t, s, repoID, refs.Blobs...)
	must(t, s.PutManifest(ctx(t), meta.PutManifest{Manifest: m, Refs: refs, Tag: tag, Actor: "tester", Via: "push"}))
	return m
}

// index puts an index listing children, with tag if not empty.
func index(t *testing.T, s meta.Store, repoID int64, tag string, children ...string) (meta.Manifest, error) {
	t.Helper()
	content := []byte(`{"manifests":"` + strings.Join(children, ",") + `"}`)
	m := meta.Manifest{
		RepoID:    repoID,
		Digest:    dg(string(content)),
		MediaType: "application/vnd.oci.image.index.v1+json",
		Size:      int64(len(content)),
		Content:   content,
	}
	err := s.PutManifest(ctx(t), meta.PutManifest{Manifest: m, Refs: meta.Refs{Manifests: children}, Tag: tag})
	return m, err
}

func resolve(t *testing.T, s meta.Store, repoID int64, tag string) string {
	t.Helper()
	d, err := s.ResolveTag(ctx(t), repoID, tag)
	must(t, err)
	return d
}

func equal[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Fatalf("%s: got %v, want %v", what, got, want)
	}
}

func equalSlice[T comparable](t *testing.T, what string, got, want []T) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !slices.Equal(got, want) {
		t.Fatalf("%s: got %v, want %v", what, got, want)
	}
}

// Accounts and keys.

func testAccounts(t *testing.T, s meta.Store) {
	c := ctx(t)
	must(t, s.CreateAccount(c, meta.Account{ID: "222222222222", Name: "two", CreatedAt: fixed}))
	must(t, s.CreateAccount(c, meta.Account{ID: "111111111111", Name: "one"}))
	wantErr(t, s.CreateAccount(c, meta.Account{ID: "222222222222", Name: "dup"}), meta.ErrExists)

	a, err := s.GetAccount(c, "222222222222")
	must(t, err)
	equal(t, "name", a.Name, "two")
	if !a.CreatedAt.Equal(fixed) {
		t.Fatalf("created at %v, want %v", a.CreatedAt, fixed)
	}
	b, err := s.GetAccount(c, "111111111111")
	must(t, err)
	if b.CreatedAt.IsZero() {
		t.Fatal("zero CreatedAt was not defaulted to now")
	}
	_, err = s.GetAccount(c, "333333333333")
	wantErr(t, err, meta.ErrNotFound)

	all, err := s.ListAccounts(c)
	must(t, err)
	var ids []string
	for _, a := range all {
		ids = append(ids, a.ID)
	}
	equalSlice(t, "accounts", ids, []string{"111111111111", "222222222222"})
}

func testAccessKeys(t *testing.T, s meta.Store) {
	c := ctx(t)
	must(t, s.CreateAccount(c, meta.Account{ID: account, Name: "acct"}))
	k := meta.AccessKey{AccessKeyID: "AKIA1", Secret: "s1", AccountID: account, UserName: "", Active: true, CreatedAt: fixed}
	must(t, s.PutAccessKey(c, k))
	got, err := s.GetAccessKey(c, "AKIA1")
	must(t, err)
	if got.Secret != "s1" || got.AccountID != account || !got.Active || got.UserName != "" || !got.CreatedAt.Equal(fixed) {
		t.Fatalf("got %+v", got)
	}
	// Upsert.
	k.Secret, k.Active, k.UserName = "s2", false, "alice"
	must(t, s.PutAccessKey(c, k))
	got, err = s.GetAccessKey(c, "AKIA1")
	must(t, err)
	if got.Secret != "s2" || got.Active || got.UserName != "alice" {
		t.Fatalf("after upsert got %+v", got)
	}
	_, err = s.GetAccessKey(c, "AKIA2")
	wantErr(t, err, meta.ErrNotFound)
}

// Repositories.

func testRepositoryCreateGet(t *testing.T, s meta.Store) {
	c := ctx(t)
	in := meta.Repository{
		AccountID: account, Name: "team/app", CreatedAt: fixed,
		TagMutability: "IMMUTABLE", MutabilityRule: `[{"filter":"dev-*"}]`,
		ScanOnPush: true, EncryptionType: "KMS", KMSKey: "arn:aws:kms:key/1",
		Policy: `{"Statement":[]}`, ScanFilter: `[{"filter":"*"}]`,
	}
	r, err := s.CreateRepository(c, in)
	must(t, err)
	if r.ID == 0 {
		t.Fatal("CreateRepository returned ID 0")
	}
	got, err := s.GetRepository(c, account, "team/app")
	must(t, err)
	equal(t, "id", got.ID, r.ID)
	if !got.CreatedAt.Equal(fixed) {
		t.Fatalf("created at %v, want %v", got.CreatedAt, fixed)
	}
	got.CreatedAt, in.CreatedAt, in.ID = time.Time{}, time.Time{}, r.ID
	equal(t, "repository", got, in)

	_, err = s.CreateRepository(c, meta.Repository{AccountID: account, Name: "team/app"})
	wantErr(t, err, meta.ErrExists)

	other, err := s.CreateRepository(c, meta.Repository{AccountID: "999999999999", Name: "team/app"})
	must(t, err)
	if other.ID == r.ID {
		t.Fatal("two repositories share an ID")
	}
	if other.CreatedAt.IsZero() {
		t.Fatal("zero CreatedAt was not defaulted to now")
	}
	_, err = s.GetRepository(c, account, "team/none")
	wantErr(t, err, meta.ErrNotFound)
	_, err = s.GetRepository(c, "888888888888", "team/app")
	wantErr(t, err, meta.ErrNotFound)
}

func testRepositoryList(t *testing.T, s meta.Store) {
	c := ctx(t)
	names := []string{"b", "a", "c/x", "a/b", "B", "a-b", "é"}
	for _, n := range names {
		repo(t, s, n)
	}
	_, err := s.CreateRepository(c, meta.Repository{AccountID: "999999999999", Name: "aa"})
	must(t, err)
	want := slices.Clone(names)
	sort.Strings(want) // byte order

	var got []string
	after := ""
	for range 10 {
		page, err := s.ListRepositories(c, account, after, 3)
		must(t, err)
		if len(page) > 3 {
			t.Fatalf("page of %d > limit 3", len(page))
		}
		if len(page) == 0 {
			break
		}
		for _, r := range page {
			got = append(got, r.Name)
		}
		after = page[len(page)-1].Name
	}
	equalSlice(t, "paginated", got, want)

	all, err := s.ListRepositories(c, account, "", 0)
	must(t, err)
	equal(t, "limit 0 returns all", len(all), len(want))

	page, err := s.ListRepositories(c, account, "a", 2)
	must(t, err)
	if len(page) != 2 || page[0].Name != "a-b" || page[1].Name != "a/b" {
		t.Fatalf("after a: %+v", page)
	}
}

func testRepositoryDeleteNotEmpty(t *testing.T, s meta.Store) {
	c := ctx(t)
	r := repo(t, s, "app")
	m := push(t, s, r.ID, "one", "latest")
	_, refs := image(r.ID, "one")
	must(t, s.CreateUpload(c, meta.Upload{ID: "u1", RepoID: r.ID}))

	wantErr(t, s.DeleteRepository(c, r.ID, false), meta.ErrNotEmpty)
	_, err := s.GetRepository(c, account, "app")
	must(t, err)
	equal(t, "tag survives failed delete", resolve(t, s, r.ID, "latest"), m.Digest)

	must(t, s.DeleteRepository(c, r.ID, true))
	_, err = s.GetRepository(c, account, "app")
	wantErr(t, err, meta.ErrNotFound)
	_, err = s.GetManifest(c, r.ID, m.Digest)
	wantErr(t, err, meta.ErrNotFound)
	_, err = s.ResolveTag(c, r.ID, "latest")
	wantErr(t, err, meta.ErrNotFound)
	_, err = s.GetBlob(c, r.ID, refs.Blobs[0])
	wantErr(t, err, meta.ErrNotFound)
	_, err = s.GetUpload(c, "u1")
	wantErr(t, err, meta.ErrNotFound)
	// Blobs are global: they stay for GC.
	_, err = s.StatBlob(c, refs.Blobs[0])
	must(t, err)

	// The name is free again, and the new repository starts empty.
	r2 := repo(t, s, "app")
	if r2.ID == r.ID {
		t.Fatal("repository id reused")
	}
	tags, err := s.ListTags(c, r2.ID, "", 0)
	must(t, err)
	equal(t, "tags of new repo", len(tags), 0)
	h, err := s.TagHistory(c, r2.ID, "latest", 0)
	must(t, err)
	equal(t, "history of new repo", len(h), 0)

	// Tag history goes with the repository.
	h, err = s.TagHistory(c, r.ID, "latest", 0)
	must(t, err)
	equal(t, "history of deleted repo", len(h), 0)

	wantErr(t, s.DeleteRepository(c, r.ID, true), meta.ErrNotFound)
}

func testRepositoryDeleteEmpty(t *testing.T, s meta.Store) {
	c := ctx(t)
	r := repo(t, s, "app")
	link(t, s, r.ID, dg("x"))
	must(t, s.CreateUpload(c, meta.Upload{ID: "u1", RepoID: r.ID}))
	// Links and uploads do not make a repository "not empty".
	must(t, s.DeleteRepository(c, r.ID, false))
	_, err := s.GetBlob(c, r.ID, dg("x"))
	wantErr(t, err, meta.ErrNotFound)
	n, err := s.CountUploads(c)
	must(t, err)
	equal(t, "uploads after delete", n, 0)
	wantErr(t, s.DeleteRepository(c, r.ID, false), meta.ErrNotFound)
}

// Blobs.

func testLinkBlob(t *testing.T, s meta.Store) {
	c := ctx(t)
	r1, r2 := repo(t, s, "one"), repo(t, s, "two")
	d := dg("blob")
	before := time.Now().Add(-time.Second)
	must(t, s.LinkBlob(c, r1.ID, meta.Blob{Digest: d, Size: 42}))
	after := time.Now().Add(time.Second)

	b, err := s.GetBlob(c, r1.ID, d)
	must(t, err)
	equal(t, "digest", b.Digest, d)
	equal(t, "size", b.Size, 42)
	if b.CreatedAt.Before(before) || b.CreatedAt.After(after) {
		t.Fatalf("created at %v not in [%v, %v]", b.CreatedAt, before, after)
	}
	_, err = s.GetBlob(c, r2.ID, d)
	wantErr(t, err, meta.ErrNotFound)
	st, err := s.StatBlob(c, d)
	must(t, err)
	equal(t, "stat size", st.Size, 42)
	_, err = s.StatBlob(c, dg("none"))
	wantErr(t, err, meta.ErrNotFound)

	// A second link (a mount) keeps the blob's creation time.
	must(t, s.LinkBlob(c, r2.ID, meta.Blob{Digest: d, Size: 42}))
	b2, err := s.GetBlob(c, r2.ID, d)
	must(t, err)
	if !b2.CreatedAt.Equal(b.CreatedAt) {
		t.Fatalf("relink changed created at: %v != %v", b2.CreatedAt, b.CreatedAt)
	}

	must(t, s.UnlinkBlob(c, r1.ID, d))
	_, err = s.GetBlob(c, r1.ID, d)
	wantErr(t, err, meta.ErrNotFound)
	_, err = s.GetBlob(c, r2.ID, d)
	must(t, err)
	wantErr(t, s.UnlinkBlob(c, r1.ID, d), meta.ErrNotFound)
	must(t, s.UnlinkBlob(c, r2.ID, d))
	// Unlinked blobs still exist (until GC).
	_, err = s.StatBlob(c, d)
	must(t, err)
}

func testLinkBlobMissingRepo(t *testing.T, s meta.Store) {
	err := s.LinkBlob(ctx(t), 987654, meta.Blob{Digest: dg("x"), Size: 1})
	wantErr(t, err, meta.ErrNotFound)
}

// Uploads.

func testUploadLifecycle(t *testing.T, s meta.Store) {
	c := ctx(t)
	r := repo(t, s, "app")
	u := meta.Upload{ID: "u1", RepoID: r.ID, HashState: []byte{1, 2, 3}, StartedAt: fixed, UpdatedAt: fixed}
	must(t, s.CreateUpload(c, u))
	wantErr(t, s.CreateUpload(c, u), meta.ErrExists)
	wantErr(t, s.CreateUpload(c, meta.Upload{ID: "u2", RepoID: 987654}), meta.ErrNotFound)

	got, err := s.GetUpload(c, "u1")
	must(t, err)
	if got.RepoID != r.ID || got.Offset != 0 || string(got.HashState) != "\x01\x02\x03" ||
		!got.StartedAt.Equal(fixed) || !got.UpdatedAt.Equal(fixed) {
		t.Fatalf("got %+v", got)
	}

	must(t, s.AdvanceUpload(c, meta.Upload{ID: "u1", Offset: 100, HashState: []byte("h100")}, 0))
	got, err = s.GetUpload(c, "u1")
	must(t, err)
	equal(t, "offset", got.Offset, 100)
	equal(t, "hash state", string(got.HashState), "h100")
	if !got.UpdatedAt.After(fixed) {
		t.Fatalf("updated at not moved: %v", got.UpdatedAt)
	}
	if !got.StartedAt.Equal(fixed) {
		t.Fatalf("started at changed: %v", got.StartedAt)
	}

	wantErr(t, s.AdvanceUpload(c, meta.Upload{ID: "u1", Offset: 50}, 0), meta.ErrConflict)
	got, err = s.GetUpload(c, "u1")
	must(t, err)
	equal(t, "offset after conflict", got.Offset, 100)
	wantErr(t, s.AdvanceUpload(c, meta.Upload{ID: "nope", Offset: 1}, 0), meta.ErrNotFound)

	n, err := s.CountUploads(c)
	must(t, err)
	equal(t, "count", n, 1)
	must(t, s.DeleteUpload(c, "u1"))
	wantErr(t, s.DeleteUpload(c, "u1"), meta.ErrNotFound)
	_, err = s.GetUpload(c, "u1")
	wantErr(t, err, meta.ErrNotFound)
	n, err = s.CountUploads(c)
	must(t, err)
	equal(t, "count after delete", n, 0)
}

func testUploadConcurrentAdvance(t *testing.T, s meta.Store) {
	c := ctx(t)
	r := repo(t, s, "app")
	must(t, s.CreateUpload(c, meta.Upload{ID: "u", RepoID: r.ID, Offset: 10}))
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = s.AdvanceUpload(c, meta.Upload{ID: "u", Offset: int64(100 + i), HashState: []byte{byte(i)}}, 10)
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil:
			if winner >= 0 {
				t.Fatalf("writers %d and %d both advanced from the same offset", winner, i)
			}
			winner = i
		case errors.Is(err, meta.ErrConflict):
		default:
			t.Fatalf("writer %d: %v", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no writer advanced the upload")
	}
	got, err := s.GetUpload(c, "u")
	must(t, err)
	equal(t, "offset", got.Offset, int64(100+winner))
	equal(t, "hash state", string(got.HashState), string([]byte{byte(winner)}))
}

func testListUploadsBefore(t *testing.T, s meta.Store) {
	c := ctx(t)
	r := repo(t, s, "app")
	for i, id := range []string{"c", "a", "b"} {
		at := fixed.Add(time.Duration(i) * time.Hour)
		must(t, s.CreateUpload(c, meta.Upload{ID: id, RepoID: r.ID, StartedAt: at, UpdatedAt: at}))
	}
	ids := func(us []meta.Upload) []string {
		var out []string
		for _, u := range us {
			out = append(out, u.ID)
		}
		return out
	}
	got, err := s.ListUploadsBefore(c, fixed.Add(90*time.Minute), 0)
	must(t, err)
	equalSlice(t, "before +90m", ids(got), []string{"c", "a"})
	got, err = s.ListUploadsBefore(c, fixed.Add(time.Hour), 0)
	must(t, err)
	equalSlice(t, "strictly before +1h", ids(got), []string{"c"})
	got, err = s.ListUploadsBefore(c, fixed.Add(24*time.Hour), 2)
	must(t, err)
	equalSlice(t, "limit 2", ids(got), []string{"c", "a"})
	// Advancing refreshes updated_at: the upload is no longer stale.
	must(t, s.AdvanceUpload(c, meta.Upload{ID: "c", Offset: 1}, 0))
	got, err = s.ListUploadsBefore(c, fixed.Add(24*time.Hour), 0)
	must(t, err)
	equalSlice(t, "after advance", ids(got), []string{"a", "b"})
}

// Manifests and tags.

func testPutGetManifest(t *testing.T, s meta.Store) {
	c := ctx(t)
	r := repo(t, s, "app")
	m, refs := image(r.ID, "one")
	m.ArtifactType = "application/vnd.example"
	m.Subject = dg("subject")
	m.Annotations = []byte(`{"k":"v"}`)
	m.PushedAt = fixed
	link(t, s, r.ID, refs.Blobs...)
	before := time.Now().Add(-time.Second)
	must(t, s.PutManifest(c, meta.PutManifest{Manifest: m, Refs: refs, Tag: "latest", Actor: "alice", Via: "push"}))

	got, err := s.GetManifest(c, r.ID, m.Digest)
	must(t, err)
	if got.RepoID != r.ID || got.Digest != m.Digest || got.MediaType != m.MediaType || got.ArtifactType != m.ArtifactType ||
		got.Subject != m.Subject || got.ConfigDigest != m.ConfigDigest || got.Size != m.Size ||
		string(got.Content) != string(m.Content) || string(got.Annotations) != string(m.Annotations) {
		t.Fatalf("got %+v\nwant %+v", got, m)
	}
	if !got.PushedAt.Equal(fixed) {
		t.Fatalf("pushed at %v, want %v", got.PushedAt, fixed)
	}
	if !got.LastPullAt.IsZero() {
		t.Fatalf("last pull at %v, want zero", got.LastPullAt)
	}
	equal(t, "tag", resolve(t, s, r.ID, "latest"), m.Digest)

	_, err = s.GetManifest(c, r.ID, dg("none"))
	wantErr(t, err, meta.ErrNotFound)
	_, err = s.ResolveTag(c, r.ID, "none")
	wantErr(t, err, meta.ErrNotFound)
	other := repo(t, s, "other")
	_, err = s.GetManifest(c, other.ID, m.Digest)
	wantErr(t, err, meta.ErrNotFound)
	_, err = s.ResolveTag(c, other.ID, "latest")
	wantErr(t, err, meta.ErrNotFound)

	// Without an explicit push time the store uses now.
	m2 := push(t, s, r.ID, "two", "")
	got, err = s.GetManifest(c, r.ID, m2.Digest)
	must(t, err)
	if got.PushedAt.Before(before) {
		t.Fatalf("pushed at %v not defaulted to now", got.PushedAt)
	}
}

func testPutManifestMissingBlobs(t *testing.T, s meta.Store) {
	c := ctx(t)
	r, other := repo(t, s, "app"), repo(t, s, "other")
	m, refs := image(r.ID, "one")
	l2 := dg("layer two")
	link(t, s, r.ID, refs.Blobs[0])     // config only
	link(t, s, other.ID, refs.Blobs[1]) // layer linked elsewhere does not count
	refs.Blobs = append(refs.Blobs, l2, refs.Blobs[1])
	refs.Optional = []string{dg("foreign layer")} // optional: need not exist

	called := false
	err := s.PutManifest(c, meta.PutManifest{Manifest: m, Refs: refs, Tag: "latest",
		AllowTagMove: func(string) error { called = true; return nil }})
	wantErr(t, err, meta.ErrBlobsMissing)
	var me *meta.MissingError
	if !errors.As(err, &me) {
		t.Fatalf("%v is not a *meta.MissingError", err)
	}
	equalSlice(t, "missing digests", me.Digests, []string{refs.Blobs[1], l2})
	if !strings.Contains(err.Error(), l2) {
		t.Fatalf("error %q does not name %s", err, l2)
	}
	if called {
		t.Fatal("AllowTagMove called although the put was rejected")
	}
	_, err = s.GetManifest(c, r.ID, m.Digest)
	wantErr(t, err, meta.ErrNotFound)
	_, err = s.ResolveTag(c, r.ID, "latest")
	wantErr(t, err, meta.ErrNotFound)

	// Once linked the put succeeds, optional blob still absent.
	link(t, s, r.ID, refs.Blobs[1], l2)
	must(t, s.PutManifest(c, meta.PutManifest{Manifest: m, Refs: refs, Tag: "latest"}))
	equal(t, "tag", resolve(t, s, r.ID, "latest"), m.Digest)
}

func testPutManifestChildMissing(t *testing.T, s meta.Store) {
	c := ctx(t)
	r, other := repo(t, s, "app"), repo(t, s, "other")
	present := push(t, s, r.ID, "one", "")
	elsewhere := push(t, s, other.ID, "two", "")
	idx, err := index(t, s, r.ID, "multi", present.Digest, elsewhere.Digest, dg("ghost"))
	wantErr(t, err, meta.ErrChildMissing)
	if errors.Is(err, meta.ErrBlobsMissing) {
		t.Fatal("child error also matches ErrBlobsMissing")
	}
	var me *meta.MissingError
	if !errors.As(err, &me) {
		t.Fatalf("%v is not a *meta.MissingError", err)
	}
	equalSlice(t, "missing children", me.Digests, []string{elsewhere.Digest, dg("ghost")})
	_, err = s.GetManifest(c, r.ID, idx.Digest)
	wantErr(t, err, meta.ErrNotFound)
	_, err = s.ResolveTag(c, r.ID, "multi")
	wantErr(t, err, meta.ErrNotFound)

	idx, err = index(t, s, r.ID, "multi", present.Digest)
	must(t, err)
	equal(t, "index tag", resolve(t, s, r.ID, "multi"), idx.Digest)
}

func testPutManifestMissingRepo(t *testing.T, s meta.Store) {
	m, _ := image(987654, "one")
	err := s.PutManifest(ctx(t), meta.PutManifest{Manifest: m, Tag: "latest"})
	wantErr(t, err, meta.ErrNotFound)
}

func testPutManifestIdempotent(t *testing.T, s meta.Store) {
	c := ctx(t)
	r := repo(t, s, "app")
	m, refs := image(r.ID, "one")
	m.PushedAt = fixed
	link(t, s, r.ID, refs.Blobs...)
	must(t, s.PutManifest(c, meta.PutManifest{Manifest: m, Refs: refs, Tag: "latest"}))

	again := m
	again.PushedAt = fixed.Add(time.Hour)
	again.Content = []byte("should not replace")
	must(t, s.PutManifest(c, meta.PutManifest{Manifest: again, Refs: refs, Tag: "latest"}))
	got, err := s.GetManifest(c, r.ID, m.Digest)
	must(t, err)
	if !got.PushedAt.Equal(fixed) {
		t.Fatalf("pushed at %v, want original %v", got.PushedAt, fixed)
	}
	equal(t, "content", string(got.Content), string(m.Content))
	h, err := s.TagHistory(c, r.ID, "latest", 0)
	must(t, err)
	equal(t, "events", len(h), 1)
}

func testTagMoveHistory(t *testing.T, s meta.Store) {
	c := ctx(t)
	r := repo(t, s, "app")
	m1, refs1 := image(r.ID, "one")
	m2, refs2 := image(r.ID, "two")
	link(t, s, r.ID, refs1.Blobs...)
	link(t, s, r.ID, refs2.Blobs...)
	var seen []string
	put := func(m meta.Manifest, refs meta.Refs, actor string) {
		t.Helper()
		must(t, s.PutManifest(c, meta.PutManifest{Manifest: m, Refs: refs, Tag: "latest", Actor: actor, Via: "api",
			AllowTagMove: func(cur string) error { seen = append(seen, cur); return nil }}))
	}
	before := time.Now().Add(-time.Second)
	put(m1, refs1, "alice")
	put(m2, refs2, "bob")
	put(m2, refs2, "carol") // no move, no event
	equalSlice(t, "AllowTagMove saw", seen, []string{"", m1.Digest, m2.Digest})
	equal(t, "tag", resolve(t, s, r.ID, "latest"), m2.Digest)

	h, err := s.TagHistory(c, r.ID, "latest", 0)
	must(t, err)
	if len(h) != 2 {
		t.Fatalf("history %+v, want 2 events", h)
	}
	want := []meta.TagEvent{
		{RepoID: r.ID, Tag: "latest", From: m1.Digest, To: m2.Digest, Actor: "bob", Via: "api"},
		{RepoID: r.ID, Tag: "latest", From: "", To: m1.Digest, Actor: "alice", Via: "api"},
	}
	for i := range want {
		if h[i].At.Before(before) {
			t.Fatalf("event %d at %v", i, h[i].At)
		}
		h[i].At = time.Time{}
		equal(t, fmt.Sprintf("event %d", i), h[i], want[i])
	}
	h, err = s.TagHistory(c, r.ID, "latest", 1)
	must(t, err)
	if len(h) != 1 || h[0].To != m2.Digest {
		t.Fatalf("limit 1: %+v", h)
	}
	h, err = s.TagHistory(c, r.ID, "other", 0)
	must(t, err)
	equal(t, "other tag history", len(h), 0)
}

var errImmutable = errors.New("tag is immutable")

func testAllowTagMoveAbort(t *testing.T, s meta.Store) {
	c := ctx(t)
	r := repo(t, s, "app")
	m1 := push(t, s, r.ID, "one", "v1")
	m2, refs2 := image(r.ID, "two")
	link(t, s, r.ID, refs2.Blobs...)

	var cur string
	err := s.PutManifest(c, meta.PutManifest{Manifest: m2, Refs: refs2, Tag: "v1",
		AllowTagMove: func(c string) error { cur = c; return errImmutable }})
	if err != errImmutable {
		t.Fatalf("got %v, want the callback's error unchanged", err)
	}
	equal(t, "callback saw", cur, m1.Digest)
	// Nothing written: not the tag move, not the manifest, not an event.
	equal(t, "tag", resolve(t, s, r.ID, "v1"), m1.Digest)
	_, err = s.GetManifest(c, r.ID, m2.Digest)
	wantErr(t, err, meta.ErrNotFound)
	h, err := s.TagHistory(c, r.ID, "v1", 0)
	must(t, err)
	equal(t, "events", len(h), 1)
	// A blob referenced only by the aborted manifest is still unreferenced.
	must(t, s.UnlinkBlob(c, r.ID, refs2.Blobs[1]))
	cands, err := s.GCCandidates(c, time.Now().Add(time.Hour), 0)
	must(t, err)
	if len(cands) != 1 || cands[0].Digest != refs2.Blobs[1] {
		t.Fatalf("candidates %+v, want only %s", cands, refs2.Blobs[1])
	}
}

func testAllowTagMovePanic(t *testing.T, s meta.Store) {
	c := ctx(t)
	r := repo(t, s, "app")
	m, refs := image(r.ID, "one")
	link(t, s, r.ID, refs.Blobs...)
	err := s.PutManifest(c, meta.PutManifest{Manifest: m, Refs: refs, Tag: "v1",
		AllowTagMove: func(string) error { panic("boom") }})
	if err == nil {
		t.Fatal("panicking callback did not fail the put")
	}
	_, err = s.GetManifest(c, r.ID, m.Digest)
	wantErr(t, err, meta.ErrNotFound)
	// The store still works afterwards.
	must(t, s.PutManifest(c, meta.PutManifest{Manifest: m, Refs: refs, Tag: "v1"}))
	equal(t, "tag", resolve(t, s, r.ID, "v1"), m.Digest)
}

func testDeleteManifestReferenced(t *testing.T, s meta.Store) {
	c := ctx(t)
	r, other := repo(t, s, "app"), repo(t, s, "other")
	amd, arm := push(t, s, r.ID, "amd64", ""), push(t, s, r.ID, "arm64", "")
	idx, err := index(t, s, r.ID, "latest", amd.Digest, arm.Digest)
	must(t, err)
	// The same child in another repository is not protected by this index.
	oamd := push(t, s, other.ID, "amd64", "")

	wantErr(t, s.DeleteManifest(c, r.ID, amd.Digest, "alice", "api"), meta.ErrReferenced)
	_, err = s.GetManifest(c, r.ID, amd.Digest)
	must(t, err)
	must(t, s.DeleteManifest(c, other.ID, oamd.Digest, "alice", "api"))

	must(t, s.DeleteManifest(c, r.ID, idx.Digest, "alice", "api"))
	_, err = s.ResolveTag(c, r.ID, "latest")
	wantErr(t, err, meta.ErrNotFound)
	must(t, s.DeleteManifest(c, r.ID, amd.Digest, "alice", "api"))
	must(t, s.DeleteManifest(c, r.ID, arm.Digest, "alice", "api"))
	wantErr(t, s.DeleteManifest(c, r.ID, arm.Digest, "alice", "api"), meta.ErrNotFound)
}

func testDeleteManifestRemovesTags(t *testing.T, s meta.Store) {
	c := ctx(t)
	r := repo(t, s, "app")
	m := push(t, s, r.ID, "one", "b")
	_, refs := image(r.ID, "one")
	must(t, s.PutManifest(c, meta.PutManifest{Manifest: m, Refs: refs, Tag: "a"}))
	keep := push(t, s, r.ID, "two", "c")

	tags, err := s.ListTagsOf(c, r.ID, m.Digest)
	must(t, err)
	equalSlice(t, "tags of", tags, []string{"a", "b"})

	must(t, s.DeleteManifest(c, r.ID, m.Digest, "alice", "api"))
	for _, tag := range []string{"a", "b"} {
		_, err := s.ResolveTag(c, r.ID, tag)
		wantErr(t, err, meta.ErrNotFound)
		h, err := s.TagHistory(c, r.ID, tag, 1)
		must(t, err)
		if len(h) != 1 || h[0].From != m.Digest || h[0].To != "" || h[0].Actor != "alice" || h[0].Via != "api" {
			t.Fatalf("history of %s: %+v", tag, h)
		}
	}
	equal(t, "other tag", resolve(t, s, r.ID, "c"), keep.Digest)
	tags, err = s.ListTags(c, r.ID, "", 0)
	must(t, err)
	equalSlice(t, "tags", tags, []string{"c"})

	// With the manifest gone its blobs are unreferenced: links can go stale.
	n, err := s.UnlinkStale(c, time.Now().Add(time.Hour))
	must(t, err)
	equal(t, "stale links", n, 2)
}

func testDeleteTag(t *testing.T, s meta.Store) {
	c := ctx(t)
	r := repo(t, s, "app")
	m := push(t, s, r.ID, "one", "v1")
	must(t, s.DeleteTag(c, r.ID, "v1", "bob", "cli"))
	_, err := s.ResolveTag(c, r.ID, "v1")
	wantErr(t, err, meta.ErrNotFound)
	_, err = s.GetManifest(c, r.ID, m.Digest)
	must(t, err)
	h, err := s.TagHistory(c, r.ID, "v1", 0)
	must(t, err)
	if len(h) != 2 || h[0].From != m.Digest || h[0].To != "" || h[0].Actor != "bob" || h[0].Via != "cli" {
		t.Fatalf("history %+v", h)
	}
	wantErr(t, s.DeleteTag(c, r.ID, "v1", "bob", "cli"), meta.ErrNotFound)
	// The tag can be created again.
	_, refs := image(r.ID, "one")
	must(t, s.PutManifest(c, meta.PutManifest{Manifest: m, Refs: refs, Tag: "v1",
		AllowTagMove: func(cur string) error {
			if cur != "" {
				return fmt.Errorf("deleted tag still points at %s", cur)
			}
			return nil
		}}))
}

func testListTags(t *testing.T, s meta.Store) {
	c := ctx(t)
	r, other := repo(t, s, "app"), repo(t, s, "other")
	m := push(t, s, r.ID, "one", "")
	_, refs := image(r.ID, "one")
	names := []string{"v2", "V1", "latest", "v10", "a_b", "a-b", "a.b", "Z", "v1"}
	for _, n := range names {
		must(t, s.PutManifest(c, meta.PutManifest{Manifest: m, Refs: refs, Tag: n}))
	}
	push(t, s, other.ID, "x", "zzz-other")
	want := slices.Clone(names)
	sort.Strings(want)

	for _, limit := range []int{1, 2, 4, 100} {
		var got []string
		after := ""
		for range 20 {
			page, err := s.ListTags(c, r.ID, after, limit)
			must(t, err)
			if len(page) > limit {
				t.Fatalf("page of %d > limit %d", len(page), limit)
			}
			if len(page) == 0 {
				break
			}
			got = append(got, page...)
			after = page[len(page)-1]
		}
		equalSlice(t, fmt.Sprintf("limit %d", limit), got, want)
	}
	all, err := s.ListTags(c, r.ID, "", 0)
	must(t, err)
	equalSlice(t, "limit 0", all, want)
	page, err := s.ListTags(c, r.ID, "v1", 0)
	must(t, err)
	equalSlice(t, "after v1", page, []string{"v10", "v2"})
	tags, err := s.ListTagsOf(c, r.ID, m.Digest)
	must(t, err)
	equalSlice(t, "tags of", tags, want)
}

func testListReferrers(t *testing.T, s meta.Store) {
	c := ctx(t)
	r, other := repo(t, s, "app"), repo(t, s, "other")
	subj := push(t, s, r.ID, "subject", "latest")
	var want []meta.Referrer
	for _, seed := range []string{"sig", "sbom", "attest"} {
		m, refs := image(r.ID, seed)
		m.Subject = subj.Digest
		m.ArtifactType = "application/vnd." + seed
		m.Annotations = []byte(`{"seed":"` + seed + `"}`)
		link(t, s, r.ID, refs.Blobs...)
		must(t, s.PutManifest(c, meta.PutManifest{Manifest: m, Refs: refs}))
		want = append(want, meta.Referrer{Digest: m.Digest, MediaType: m.MediaType, ArtifactType: m.ArtifactType, Size: m.Size, Annotations: m.Annotations})
	}
	// Same subject in another repository: not listed.
	om, orefs := image(other.ID, "foreign")
	om.Subject = subj.Digest
	link(t, s, other.ID, orefs.Blobs...)
	must(t, s.PutManifest(c, meta.PutManifest{Manifest: om, Refs: orefs}))
	sort.Slice(want, func(i, j int) bool { return want[i].Digest < want[j].Digest })

	got, err := s.ListReferrers(c, r.ID, subj.Digest)
	must(t, err)
	if len(got) != len(want) {
		t.Fatalf("got %d referrers, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].Digest != want[i].Digest || got[i].MediaType != want[i].MediaType || got[i].ArtifactType != want[i].ArtifactType ||
			got[i].Size != want[i].Size || string(got[i].Annotations) != string(want[i].Annotations) {
			t.Fatalf("referrer %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	got, err = s.ListReferrers(c, r.ID, dg("nothing"))
	must(t, err)
	equal(t, "no referrers", len(got), 0)
}

func testTouchPull(t *testing.T, s meta.Store) {
	c := ctx(t)
	r := repo(t, s, "app")
	m := push(t, s, r.ID, "one", "")
	must(t, s.TouchPull(c, r.ID, m.Digest, fixed))
	got, err := s.GetManifest(c, r.ID, m.Digest)
	must(t, err)
	if !got.LastPullAt.Equal(fixed) {
		t.Fatalf("last pull %v, want %v", got.LastPullAt, fixed)
	}
	later := fixed.Add(time.Minute)
	must(t, s.TouchPull(c, r.ID, m.Digest, later))
	must(t, s.TouchPull(c, r.ID, m.Digest, fixed)) // late report of an older pull
	got, err = s.GetManifest(c, r.ID, m.Digest)
	must(t, err)
	if !got.LastPullAt.Equal(later) {
		t.Fatalf("last pull %v, want %v", got.LastPullAt, later)
	}
	wantErr(t, s.TouchPull(c, r.ID, dg("none"), fixed), meta.ErrNotFound)
}

func testConcurrentPutDifferentTags(t *testing.T, s meta.Store) {
	c := ctx(t)
	r := repo(t, s, "app")
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	ms := make([]meta.Manifest, n)
	for i := range n {
		m, refs := image(r.ID, fmt.Sprint("img", i))
		link(t, s, r.ID, refs.Blobs...)
		ms[i] = m
		wg.Go(func() {
			errs[i] = s.PutManifest(c, meta.PutManifest{Manifest: m, Refs: refs, Tag: fmt.Sprint("t", i)})
		})
	}
	wg.Wait()
	for i, err := range errs {
		must(t, err)
		equal(t, fmt.Sprint("tag t", i), resolve(t, s, r.ID, fmt.Sprint("t", i)), ms[i].Digest)
	}
	tags, err := s.ListTags(c, r.ID, "", 0)
	must(t, err)
	equal(t, "tags", len(tags), n)
}

func testConcurrentPutSameTag(t *testing.T, s meta.Store) {
	c := ctx(t)
	r := repo(t, s, "app")
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	digests := map[string]bool{}
	for i := range n {
		m, refs := image(r.ID, fmt.Sprint("img", i))
		link(t, s, r.ID, refs.Blobs...)
		digests[m.Digest] = true
		wg.Go(func() {
			errs[i] = s.PutManifest(c, meta.PutManifest{Manifest: m, Refs: refs, Tag: "latest", Actor: fmt.Sprint(i)})
		})
	}
	wg.Wait()
	for _, err := range errs {
		must(t, err)
	}
	// Every move is recorded and the history is a chain: each event starts
	// where the previous one ended (no lost update).
	h, err := s.TagHistory(c, r.ID, "latest", 0)
	must(t, err)
	if len(h) != n {
		t.Fatalf("%d events, want %d", len(h), n)
	}
	equal(t, "first event from", h[n-1].From, "")
	for i := 0; i < n-1; i++ {
		if h[i].From != h[i+1].To {
			t.Fatalf("event %d moves from %s but event %d moved to %s", i, h[i].From, i+1, h[i+1].To)
		}
	}
	equal(t, "tag is at last event", resolve(t, s, r.ID, "latest"), h[0].To)
	for _, e := range h {
		if !digests[e.To] {
			t.Fatalf("event to unknown digest %s", e.To)
		}
	}
}

// Garbage collection.

func testUnlinkStale(t *testing.T, s meta.Store) {
	c := ctx(t)
	r1, r2 := repo(t, s, "one"), repo(t, s, "two")
	m := push(t, s, r1.ID, "one", "")
	_, refs := image(r1.ID, "one")
	loose := dg("loose")
	shared := dg("shared")
	link(t, s, r1.ID, loose, shared)
	link(t, s, r2.ID, shared)
	// shared is referenced in r2 only.
	m2 := meta.Manifest{RepoID: r2.ID, Digest: dg("m2"), MediaType: "x", Size: 1, Content: []byte("x")}
	must(t, s.PutManifest(c, meta.PutManifest{Manifest: m2, Refs: meta.Refs{Blobs: []string{shared}}}))

	n, err := s.UnlinkStale(c, time.Now().Add(-time.Hour))
	must(t, err)
	equal(t, "fresh links are not stale", n, 0)

	n, err = s.UnlinkStale(c, time.Now().Add(time.Hour))
	must(t, err)
	equal(t, "unlinked", n, 2)
	for _, d := range refs.Blobs {
		_, err := s.GetBlob(c, r1.ID, d)
		must(t, err)
	}
	_, err = s.GetBlob(c, r1.ID, loose)
	wantErr(t, err, meta.ErrNotFound)
	_, err = s.GetBlob(c, r1.ID, shared)
	wantErr(t, err, meta.ErrNotFound)
	_, err = s.GetBlob(c, r2.ID, shared)
	must(t, err)
	_, err = s.GetManifest(c, r1.ID, m.Digest)
	must(t, err)
}

func blobDigests(bs []meta.Blob) []string {
	var out []string
	for _, b := range bs {
		out = append(out, b.Digest)
	}
	return out
}

func testGCCandidates(t *testing.T, s meta.Store) {
	c := ctx(t)
	r := repo(t, s, "app")
	future := time.Now().Add(time.Hour)
	a, b, opt := dg("a"), dg("b"), dg("optional")
	link(t, s, r.ID, a, b, opt)
	// opt is referenced by a manifest but not linked: still not collectable.
	m := meta.Manifest{RepoID: r.ID, Digest: dg("m"), MediaType: "x", Size: 1, Content: []byte("x")}
	must(t, s.PutManifest(c, meta.PutManifest{Manifest: m, Refs: meta.Refs{Optional: []string{opt}}}))
	must(t, s.UnlinkBlob(c, r.ID, opt))

	cands, err := s.GCCandidates(c, future, 0)
	must(t, err)
	equal(t, "linked blobs are not candidates", len(cands), 0)

	must(t, s.UnlinkBlob(c, r.ID, a))
	must(t, s.UnlinkBlob(c, r.ID, b))
	cands, err = s.GCCandidates(c, future, 0)
	must(t, err)
	got := blobDigests(cands)
	sort.Strings(got)
	want := []string{a, b}
	sort.Strings(want)
	equalSlice(t, "candidates", got, want)
	for _, cd := range cands {
		if cd.Size != int64(len(cd.Digest)) || cd.CreatedAt.IsZero() {
			t.Fatalf("candidate %+v", cd)
		}
	}

	cands, err = s.GCCandidates(c, future, 1)
	must(t, err)
	equal(t, "limit 1", len(cands), 1)
	cands, err = s.GCCandidates(c, time.Now().Add(-time.Hour), 0)
	must(t, err)
	equal(t, "too young", len(cands), 0)

	// Deleting the manifest frees opt.
	must(t, s.DeleteManifest(c, r.ID, m.Digest, "", ""))
	cands, err = s.GCCandidates(c, future, 0)
	must(t, err)
	equal(t, "after manifest delete", len(cands), 3)
}

func testMarkBlobDeleting(t *testing.T, s meta.Store) {
	c := ctx(t)
	r := repo(t, s, "app")
	future, past := time.Now().Add(time.Hour), time.Now().Add(-time.Hour)
	d, linked := dg("doomed"), dg("linked")
	link(t, s, r.ID, d, linked)
	must(t, s.UnlinkBlob(c, r.ID, d))

	ok, err := s.MarkBlobDeleting(c, linked, future)
	must(t, err)
	if ok {
		t.Fatal("linked blob marked deleting")
	}
	ok, err = s.MarkBlobDeleting(c, d, past)
	must(t, err)
	if ok {
		t.Fatal("blob younger than cutoff marked deleting")
	}
	_, err = s.MarkBlobDeleting(c, dg("unknown"), future)
	wantErr(t, err, meta.ErrNotFound)
	wantErr(t, s.ForgetBlob(c, d), meta.ErrConflict) // not marked
	_, err = s.StatBlob(c, d)
	must(t, err)

	ok, err = s.MarkBlobDeleting(c, d, future)
	must(t, err)
	if !ok {
		t.Fatal("unreferenced blob not marked")
	}
	_, err = s.StatBlob(c, d)
	wantErr(t, err, meta.ErrNotFound)
	wantErr(t, s.LinkBlob(c, r.ID, meta.Blob{Digest: d, Size: 1}), meta.ErrBlobDeleting)
	_, err = s.GetBlob(c, r.ID, d)
	wantErr(t, err, meta.ErrNotFound)
	cands, err := s.GCCandidates(c, future, 0)
	must(t, err)
	equal(t, "marked blob is no candidate", len(cands), 0)
	// The mark belongs to whoever made it: a second collector does not get
	// it, and it is not listed as abandoned until it is old.
	ok, err = s.MarkBlobDeleting(c, d, future)
	must(t, err)
	if ok {
		t.Fatal("a marked blob was marked again: two collectors would both delete it")
	}
	del, err := s.ListDeletingBlobs(c, past, 0)
	must(t, err)
	equal(t, "fresh marks are not abandoned", len(del), 0)
	claimed, err := s.ClaimDeletion(c, d, past)
	must(t, err)
	if claimed {
		t.Fatal("a fresh mark was claimed")
	}
	del, err = s.ListDeletingBlobs(c, future, 0)
	must(t, err)
	equalSlice(t, "deleting", blobDigests(del), []string{d})
	claimed, err = s.ClaimDeletion(c, d, future)
	must(t, err)
	if !claimed {
		t.Fatal("an old mark could not be claimed")
	}
	claimed, err = s.ClaimDeletion(c, d, time.Now().Add(-time.Minute))
	must(t, err)
	if claimed {
		t.Fatal("a just-claimed mark was claimed again")
	}

	// A manifest cannot reference it through a link either.
	m := meta.Manifest{RepoID: r.ID, Digest: dg("m"), MediaType: "x", Size: 1}
	wantErr(t, s.PutManifest(c, meta.PutManifest{Manifest: m, Refs: meta.Refs{Blobs: []string{d}}}), meta.ErrBlobsMissing)

	must(t, s.ForgetBlob(c, d))
	wantErr(t, s.ForgetBlob(c, d), meta.ErrNotFound)
	del, err = s.ListDeletingBlobs(c, future, 0)
	must(t, err)
	equal(t, "deleting after forget", len(del), 0)

	// After GC the digest can be uploaded again, as a new blob.
	must(t, s.LinkBlob(c, r.ID, meta.Blob{Digest: d, Size: 7}))
	b, err := s.GetBlob(c, r.ID, d)
	must(t, err)
	equal(t, "new size", b.Size, 7)
}

func testLinkVsMark(t *testing.T, s meta.Store) {
	c := ctx(t)
	r := repo(t, s, "app")
	for i := range 40 {
		d := dg(fmt.Sprint("race", i))
		link(t, s, r.ID, d)
		must(t, s.UnlinkBlob(c, r.ID, d))
		var linkErr, markErr error
		var marked bool
		var wg sync.WaitGroup
		start := make(chan struct{})
		wg.Go(func() { <-start; linkErr = s.LinkBlob(c, r.ID, meta.Blob{Digest: d, Size: 1}) })
		wg.Go(func() { <-start; marked, markErr = s.MarkBlobDeleting(c, d, time.Now().Add(time.Hour)) })
		close(start)
		wg.Wait()
		must(t, markErr)
		switch {
		case marked && linkErr == nil:
			t.Fatalf("round %d: blob both linked and marked deleting", i)
		case marked:
			wantErr(t, linkErr, meta.ErrBlobDeleting)
			_, err := s.GetBlob(c, r.ID, d)
			wantErr(t, err, meta.ErrNotFound)
		default:
			must(t, linkErr)
			_, err := s.GetBlob(c, r.ID, d)
			must(t, err)
			_, err = s.StatBlob(c, d)
			must(t, err)
		}
	}
}

func testCanceledContext(t *testing.T, s meta.Store) {
	r := repo(t, s, "app")
	m, refs := image(r.ID, "one")
	link(t, s, r.ID, refs.Blobs...)
	c, cancel := context.WithCancel(ctx(t))
	cancel()
	err := s.PutManifest(c, meta.PutManifest{Manifest: m, Refs: refs, Tag: "latest"})
	wantErr(t, err, context.Canceled)
	_, err = s.GetManifest(ctx(t), r.ID, m.Digest)
	wantErr(t, err, meta.ErrNotFound)
	// The store is still usable.
	must(t, s.PutManifest(ctx(t), meta.PutManifest{Manifest: m, Refs: refs, Tag: "latest"}))
}

func testGCPreview(t *testing.T, s meta.Store) {
	c := ctx(t)
	r := repo(t, s, "app")
	kept := push(t, s, r.ID, "kept", "v1")
	_ = kept
	stale := dg("stale layer")
	link(t, s, r.ID, stale)
	future := time.Now().Add(time.Hour)
	// The stale link is older than a future cutoff and nothing references
	// the blob: the preview lists it although GCCandidates cannot yet.
	prev, err := s.GCPreview(c, future, 0)
	must(t, err)
	equalSlice(t, "preview", blobDigests(prev), []string{stale})
	cands, err := s.GCCandidates(c, future, 0)
	must(t, err)
	equal(t, "candidates before unlinking", len(cands), 0)
	// A link newer than the cutoff keeps it out of the preview.
	prev, err = s.GCPreview(c, time.Now().Add(-time.Hour), 0)
	must(t, err)
	equal(t, "preview with past cutoff", len(prev), 0)
	// Preview agrees with what a real run deletes.
	_, err = s.UnlinkStale(c, future)
	must(t, err)
	cands, err = s.GCCandidates(c, future, 0)
	must(t, err)
	equalSlice(t, "candidates after unlinking", blobDigests(cands), []string{stale})
}

func testReposLinking(t *testing.T, s meta.Store) {
	c := ctx(t)
	a, b := repo(t, s, "team/b"), repo(t, s, "team/a")
	other, err := s.CreateRepository(c, meta.Repository{AccountID: "210987654321", Name: "team/x", TagMutability: "MUTABLE"})
	must(t, err)
	d := dg("shared")
	link(t, s, a.ID, d)
	link(t, s, b.ID, d)
	link(t, s, other.ID, d)
	rs, err := s.ReposLinking(c, account, d, 10)
	must(t, err)
	names := []string{}
	for _, r := range rs {
		names = append(names, r.Name)
	}
	equalSlice(t, "repos of the account, by name", names, []string{"team/a", "team/b"})
	rs, err = s.ReposLinking(c, account, dg("none"), 10)
	must(t, err)
	equal(t, "no repos for unknown blob", len(rs), 0)
}
