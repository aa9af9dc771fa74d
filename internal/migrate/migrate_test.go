package migrate_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver, for CREATE/DROP DATABASE

	"github.com/wharfhq/wharf/internal/migrate"
	"github.com/wharfhq/wharf/internal/store/blob"
	"github.com/wharfhq/wharf/internal/store/meta"
)

func open(t testing.TB, l migrate.Location, mustExist bool) *migrate.Stores {
	t.Helper()
	st, err := migrate.Open(context.Background(), l, mustExist)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func copier(src, dst *migrate.Stores, o migrate.Options) *migrate.Copier {
	return &migrate.Copier{SrcMeta: src.Meta, SrcBlobs: src.Blobs, DstMeta: dst.Meta, DstBlobs: dst.Blobs, Options: o}
}

func dirLocation(dir string) migrate.Location { return migrate.Location{Metadata: dir, Blobs: dir} }

func logReport(t *testing.T, what string, rep *migrate.Report) {
	t.Helper()
	var b bytes.Buffer
	check(t, rep.Print(&b))
	t.Logf("%s:\n%s", what, b.String())
}

// TestMigrateEmbedded copies the fixture between two embedded registries
// (SQLite and the filesystem): it runs everywhere, without servers.
func TestMigrateEmbedded(t *testing.T) {
	f := buildSource(t)
	t.Run("Full", func(t *testing.T) {
		dst := dirLocation(t.TempDir())
		want := migrateAll(t, f, dst)
		serveAndCheck(t, f, want, dst)
	})
	t.Run("InterruptedAndResumed", func(t *testing.T) {
		interruptAndResume(t, f, dirLocation(t.TempDir()))
	})
}

// TestMigratePostgresS3 copies the fixture onto real PostgreSQL and S3
// servers (scripts/postgres.sh and scripts/s3.sh start them), then back
// into an embedded registry (a restore).
func TestMigratePostgresS3(t *testing.T) {
	pg, ep := os.Getenv("WHARF_TEST_POSTGRES_URL"), os.Getenv("WHARF_TEST_S3_ENDPOINT")
	if pg == "" || ep == "" {
		t.Skip("WHARF_TEST_POSTGRES_URL and WHARF_TEST_S3_ENDPOINT are not set: start the servers with " +
			"`export WHARF_TEST_POSTGRES_URL=$(bash scripts/postgres.sh start)` and " +
			"`bash scripts/s3.sh start; eval \"$(bash scripts/s3.sh env)\"`")
	}
	t.Setenv("AWS_ACCESS_KEY_ID", os.Getenv("WHARF_TEST_S3_ACCESS_KEY"))
	t.Setenv("AWS_SECRET_ACCESS_KEY", os.Getenv("WHARF_TEST_S3_SECRET_KEY"))
	f := buildSource(t)
	t.Run("Full", func(t *testing.T) {
		dst := freshPostgresS3(t)
		want := migrateAll(t, f, dst)

		// Back into an embedded registry: the copy is the same registry.
		back := dirLocation(t.TempDir())
		src, out := open(t, dst, true), open(t, back, false)
		rep, err := copier(src, out, migrate.Options{}).Run(context.Background())
		logReport(t, "restore PostgreSQL + S3 -> embedded", rep)
		check(t, err)
		sameSnapshot(t, want, takeSnapshot(t, out))
		check(t, src.Close())
		check(t, out.Close())

		serveAndCheck(t, f, want, dst)
		serveAndCheck(t, f, want, back)
	})
	t.Run("InterruptedAndResumed", func(t *testing.T) {
		interruptAndResume(t, f, freshPostgresS3(t))
	})
}

// freshPostgresS3 creates a database and a bucket, dropped when the test
// ends, and returns their location.
func freshPostgresS3(t testing.TB) migrate.Location {
	t.Helper()
	ctx := context.Background()
	pg, ep := os.Getenv("WHARF_TEST_POSTGRES_URL"), os.Getenv("WHARF_TEST_S3_ENDPOINT")
	suffix := make([]byte, 6)
	_, _ = rand.Read(suffix)
	name := "wharf_migrate_" + hex.EncodeToString(suffix)

	admin, err := sql.Open("pgx", pg)
	check(t, err)
	t.Cleanup(func() { admin.Close() })
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(pg)
	check(t, err)
	u.Path = "/" + name

	bucket := "wharf-migrate-" + hex.EncodeToString(suffix)
	cli := awss3.New(awss3.Options{Region: region, BaseEndpoint: aws.String(ep), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(os.Getenv("WHARF_TEST_S3_ACCESS_KEY"), os.Getenv("WHARF_TEST_S3_SECRET_KEY"), "")})
	if _, err := cli.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	// versitygw's posix backend (scripts/s3.sh) removes a directory as
	// soon as a delete leaves it empty, racing a concurrent PUT under it
	// (409 ExistingObjectIsDirectory); explicit directory objects are never
	// removed that way (as in test/e2e). On S3 they are inert.
	for _, dir := range []string{"wharf/", "wharf/uploads/", "wharf/data/", "wharf/blobs/", "wharf/blobs/sha256/", "wharf/blobs/sha512/"} {
		if _, err := cli.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(dir), Body: bytes.NewReader(nil)}); err != nil {
			t.Fatalf("bucket %s: creating %s: %v", bucket, dir, err)
		}
	}
	t.Cleanup(func() {
		p := awss3.NewListObjectsV2Paginator(cli, &awss3.ListObjectsV2Input{Bucket: aws.String(bucket)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Errorf("list bucket %s: %v", bucket, err)
				return
			}
			for _, o := range page.Contents {
				_, _ = cli.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(bucket), Key: o.Key})
			}
		}
		if _, err := cli.DeleteBucket(ctx, &awss3.DeleteBucketInput{Bucket: aws.String(bucket)}); err != nil {
			t.Errorf("delete bucket %s: %v", bucket, err)
		}
	})
	return migrate.Location{
		Metadata: u.String(),
		Blobs:    "s3://" + bucket + "/wharf?endpoint=" + url.QueryEscape(ep) + "&region=" + region + "&path_style=true",
	}
}

// migrateAll copies the fixture into dst and checks the report and the
// copy; it returns the source's snapshot.
func migrateAll(t *testing.T, f *fixture, dst migrate.Location) *snapshot {
	t.Helper()
	src := open(t, dirLocation(f.dir), true)
	want := takeSnapshot(t, src)
	d := open(t, dst, false)
	rep, err := copier(src, d, migrate.Options{}).Run(context.Background())
	logReport(t, "embedded -> "+dst.String(), rep)
	check(t, err)

	for kind, n := range want.totals() {
		if c := rep.Count(kind); c.Copied != n || c.Skipped != 0 || c.Removed != 0 {
			t.Errorf("%s: %+v, want %d copied", kind, c, n)
		}
	}
	if rep.BytesCopied != want.bytes() || rep.BlobsVerified != int64(len(want.Blobs)) || rep.BytesVerified != want.bytes() {
		t.Errorf("copied %d bytes and verified %d blobs (%d bytes), want %d blobs of %d bytes",
			rep.BytesCopied, rep.BlobsVerified, rep.BytesVerified, len(want.Blobs), want.bytes())
	}
	if rep.ManifestsVerified != want.totals()[migrate.KindManifests] || len(rep.Failures) > 0 || len(rep.Extra) > 0 {
		t.Errorf("verified %d manifests, failures %v, extra %v", rep.ManifestsVerified, rep.Failures, rep.Extra)
	}
	t.Logf("throughput: %.1f MiB/s of blob data (%d bytes in %s)", rep.Throughput()/(1<<20), rep.BytesCopied, rep.Duration)
	sameSnapshot(t, want, takeSnapshot(t, d))
	check(t, d.Close())
	check(t, src.Close())
	return want
}

// interruptAndResume cancels a migration after a few blobs, runs it again
// and checks that it completes without duplicating anything, then that a
// third run copies nothing.
func interruptAndResume(t *testing.T, f *fixture, dst migrate.Location) {
	t.Helper()
	src := open(t, dirLocation(f.dir), true)
	want := takeSnapshot(t, src)
	totals := want.totals()
	d := open(t, dst, false)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var n atomic.Int64
	rep1, err := copier(src, d, migrate.Options{Workers: 2, OnBlob: func(string) {
		if n.Add(1) == 4 {
			cancel()
		}
	}}).Run(ctx)
	logReport(t, "interrupted run", rep1)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %v, want context.Canceled", err)
	}
	copied1 := rep1.Count(migrate.KindBlobs).Copied
	if copied1 < 4 || copied1 >= totals[migrate.KindBlobs] {
		t.Fatalf("interrupted after %d of %d blobs: not a partial copy", copied1, totals[migrate.KindBlobs])
	}
	if ids := try(d.Blobs.ListUploads(context.Background())).must(t); len(ids) > 0 {
		t.Fatalf("the interrupted run left uploads on the destination: %v", ids)
	}
	// A run killed outright leaves its upload data behind; plant some.
	stale := "wharf-migrate-0123456789abcdef01234567"
	try(d.Blobs.Append(context.Background(), stale, 0, strings.NewReader("half a blob"))).must(t)

	rep2, err := copier(src, d, migrate.Options{Workers: 3}).Run(context.Background())
	logReport(t, "resumed run", rep2)
	check(t, err)
	if rep2.StaleUploads != 1 {
		t.Errorf("stale uploads removed: %d, want 1", rep2.StaleUploads)
	}
	for kind, total := range totals {
		c1, c2 := rep1.Count(kind), rep2.Count(kind)
		if c2.Copied+c2.Skipped != total || c2.Removed != 0 {
			t.Errorf("%s: resumed run %+v, want %d in all", kind, c2, total)
		}
		if kind == migrate.KindBlobs {
			// A blob committed while the run was being cancelled may not
			// have been counted by the first run.
			if c2.Skipped < c1.Copied {
				t.Errorf("blobs: %d skipped on resume, but %d were copied before", c2.Skipped, c1.Copied)
			}
		} else if c1.Copied+c2.Copied != total || c2.Skipped != c1.Copied {
			t.Errorf("%s: interrupted run %+v then resumed run %+v, want %d copied once", kind, c1, c2, total)
		}
	}
	if rep2.Count(migrate.KindAccounts).Skipped != 2 || rep2.Count(migrate.KindBlobs).Skipped == 0 {
		t.Errorf("the resumed run skipped nothing it had copied before")
	}
	if len(rep2.Failures) > 0 || len(rep2.Extra) > 0 {
		t.Errorf("failures %v, extra %v", rep2.Failures, rep2.Extra)
	}
	sameSnapshot(t, want, takeSnapshot(t, d))
	if ids := try(d.Blobs.ListUploads(context.Background())).must(t); len(ids) > 0 {
		t.Fatalf("uploads left on the destination: %v", ids)
	}

	// Once complete, a run copies nothing (and, trusting existing blobs,
	// reads none back).
	for _, trust := range []bool{false, true} {
		rep3, err := copier(src, d, migrate.Options{TrustExisting: trust}).Run(context.Background())
		check(t, err)
		for kind, total := range totals {
			if c := rep3.Count(kind); c.Copied != 0 || c.Skipped != total {
				t.Errorf("third run (trust %v): %s %+v, want all %d skipped", trust, kind, c, total)
			}
		}
		wantVerified := int64(len(want.Blobs))
		if trust {
			wantVerified = 0
		}
		if rep3.BytesCopied != 0 || rep3.BlobsVerified != wantVerified {
			t.Errorf("third run (trust %v): %d bytes copied, %d blobs verified", trust, rep3.BytesCopied, rep3.BlobsVerified)
		}
	}
	sameSnapshot(t, want, takeSnapshot(t, d))
}

// TestCorruptSourceBlob: a source blob that does not hash to its digest is
// not copied, nor what depends on it; the rest is, and Run fails.
func TestCorruptSourceBlob(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src := open(t, dirLocation(dir), false)
	check(t, src.Meta.CreateAccount(ctx, meta.Account{ID: accountA, Name: "a"}))
	r := try(src.Meta.CreateRepository(ctx, meta.Repository{AccountID: accountA, Name: "app", TagMutability: "MUTABLE"})).must(t)
	put := func(b []byte) string {
		d := sha(b)
		try(src.Blobs.Append(ctx, "up", 0, bytes.NewReader(b))).must(t)
		check(t, src.Blobs.Commit(ctx, "up", d))
		check(t, src.Blobs.Abort(ctx, "up"))
		check(t, src.Meta.LinkBlob(ctx, r.ID, meta.Blob{Digest: d, Size: int64(len(b))}))
		return d
	}
	good, bad := put([]byte("good blob")), put([]byte("bad blob!"))
	for i, refs := range [][]string{{good}, {good, bad}} {
		content := []byte(`{"schemaVersion":2,"n":` + string(rune('0'+i)) + `}`)
		check(t, src.Meta.PutManifest(ctx, meta.PutManifest{Manifest: meta.Manifest{RepoID: r.ID, Digest: sha(content),
			MediaType: ociManifest, Size: int64(len(content)), Content: content}, Refs: meta.Refs{Blobs: refs}, Tag: "t" + string(rune('0'+i))}))
	}
	// Corrupt the bad blob in place, keeping its size.
	path := filepath.Join(dir, "blobs", "sha256", bad[7:9], bad[7:])
	check(t, os.WriteFile(path, []byte("BAD BLOB!"), 0o644))

	dst := open(t, dirLocation(t.TempDir()), false)
	rep, err := copier(src, dst, migrate.Options{}).Run(ctx)
	logReport(t, "corrupt source", rep)
	if err == nil || len(rep.Failures) != 3 { // the blob, the manifest, its tag
		t.Fatalf("err %v, failures %v", err, rep.Failures)
	}
	if !strings.Contains(rep.Failures[0], bad) || !strings.Contains(rep.Failures[0], "corrupt") {
		t.Fatalf("failure %q", rep.Failures[0])
	}
	if _, err := dst.Blobs.Stat(ctx, bad); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("the corrupt blob reached the destination: %v", err)
	}
	dr := try(dst.Meta.GetRepository(ctx, accountA, "app")).must(t)
	if d, err := dst.Meta.ResolveTag(ctx, dr.ID, "t0"); err != nil || d == "" {
		t.Fatalf("the intact image was not copied: %v", err)
	}
	if _, err := dst.Meta.ResolveTag(ctx, dr.ID, "t1"); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("the image with the corrupt layer was copied: %v", err)
	}
	rd, _, err := dst.Blobs.Open(ctx, good)
	check(t, err)
	b, _ := io.ReadAll(rd)
	rd.Close()
	if string(b) != "good blob" {
		t.Fatalf("good blob reads %q", b)
	}
}

// TestRefusesForeignDestination: a destination holding another registry's
// account is refused before anything is written.
func TestRefusesForeignDestination(t *testing.T) {
	ctx := context.Background()
	src := open(t, dirLocation(t.TempDir()), false)
	check(t, src.Meta.CreateAccount(ctx, meta.Account{ID: accountA, Name: "a"}))
	dst := open(t, dirLocation(t.TempDir()), false)
	check(t, dst.Meta.CreateAccount(ctx, meta.Account{ID: accountB, Name: "bootstrapped", CreatedAt: time.Now()}))
	_, err := copier(src, dst, migrate.Options{}).Run(ctx)
	if err == nil || !strings.Contains(err.Error(), accountB) {
		t.Fatalf("err %v", err)
	}
	if _, err := dst.Meta.GetAccount(ctx, accountA); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("something was written: %v", err)
	}
}

// TestMirrorsRevocations: what the source no longer has (a deleted key, a
// changed policy, a removed resource tag) is mirrored by a second run.
func TestMirrorsRevocations(t *testing.T) {
	ctx := context.Background()
	src := open(t, dirLocation(t.TempDir()), false)
	dst := open(t, dirLocation(t.TempDir()), false)
	check(t, src.Meta.CreateAccount(ctx, meta.Account{ID: accountA, Name: "a"}))
	check(t, src.Meta.CreateUser(ctx, meta.User{AccountID: accountA, Name: "u"}))
	check(t, src.Meta.PutAccessKey(ctx, meta.AccessKey{AccessKeyID: ciKey, Secret: "s", AccountID: accountA, UserName: "u", Active: true}))
	check(t, src.Meta.PutAccessKey(ctx, meta.AccessKey{AccessKeyID: opsKey, Secret: "s", AccountID: accountA, Active: true}))
	check(t, src.Meta.PutUserPolicy(ctx, meta.UserPolicy{AccountID: accountA, UserName: "u", Name: "p", Document: ciPolicy}))
	check(t, src.Meta.PutRegistryPolicy(ctx, accountA, registryPolicy))
	arn := "arn:aws:ecr:us-east-1:" + accountA + ":repository/app"
	check(t, src.Meta.PutResourceTags(ctx, arn, map[string]string{"a": "1", "b": "2"}))
	_, err := copier(src, dst, migrate.Options{}).Run(ctx)
	check(t, err)

	check(t, src.Meta.DeleteAccessKey(ctx, opsKey))
	check(t, src.Meta.PutAccessKey(ctx, meta.AccessKey{AccessKeyID: ciKey, Secret: "s", AccountID: accountA, UserName: "u", Active: false}))
	check(t, src.Meta.DeleteUserPolicy(ctx, accountA, "u", "p"))
	check(t, src.Meta.DeleteRegistryPolicy(ctx, accountA))
	check(t, src.Meta.DeleteResourceTags(ctx, arn, []string{"b"}))
	rep, err := copier(src, dst, migrate.Options{}).Run(ctx)
	check(t, err)
	if _, err := dst.Meta.GetAccessKey(ctx, opsKey); !errors.Is(err, meta.ErrNotFound) {
		t.Errorf("deleted key still on the destination: %v", err)
	}
	if k := try(dst.Meta.GetAccessKey(ctx, ciKey)).must(t); k.Active {
		t.Error("deactivated key still active on the destination")
	}
	if ps := try(dst.Meta.ListUserPolicies(ctx, accountA, "u")).must(t); len(ps) != 0 {
		t.Errorf("deleted policy still on the destination: %v", ps)
	}
	if _, err := dst.Meta.GetRegistryPolicy(ctx, accountA); !errors.Is(err, meta.ErrNotFound) {
		t.Errorf("deleted registry policy still on the destination: %v", err)
	}
	if tags := try(dst.Meta.ListResourceTags(ctx, arn)).must(t); len(tags) != 1 || tags["a"] != "1" {
		t.Errorf("resource tags %v", tags)
	}
	for kind, want := range map[string]Count{
		migrate.KindAccessKeys: {Copied: 1, Removed: 1}, migrate.KindUserPolicies: {Removed: 1},
		migrate.KindRegistryPolicies: {Removed: 1}, migrate.KindResourceTags: {Skipped: 1, Removed: 1},
	} {
		if got := rep.Count(kind); got != migrate.Count(want) {
			t.Errorf("%s: %+v, want %+v", kind, got, want)
		}
	}
}

// Count is migrate.Count, for composite literals.
type Count migrate.Count

func TestParseLocation(t *testing.T) {
	for spec, want := range map[string]migrate.Location{
		"/var/lib/wharf": {Metadata: "/var/lib/wharf", Blobs: "/var/lib/wharf"},
		"postgres://u:p@db/wharf,s3://b/p?endpoint=http://s3:9000&path_style=true": {
			Metadata: "postgres://u:p@db/wharf", Blobs: "s3://b/p?endpoint=http://s3:9000&path_style=true"},
		"s3://b, postgresql://h1:5432,h2:5432/wharf?target_session_attrs=read-write": {
			Metadata: "postgresql://h1:5432,h2:5432/wharf?target_session_attrs=read-write", Blobs: "s3://b"},
		"postgres://db/wharf": {Metadata: "postgres://db/wharf"},
	} {
		got, err := migrate.ParseLocation(spec)
		if err != nil || got != want {
			t.Errorf("ParseLocation(%q) = %+v, %v; want %+v", spec, got, err, want)
		}
	}
	for _, spec := range []string{"", "postgres://a,postgres://b", "s3://a,s3://b", "postgres://a,mysql://b", "s3://a,http://b"} {
		if l, err := migrate.ParseLocation(spec); err == nil && l.Complete() == nil {
			t.Errorf("ParseLocation(%q) accepted: %+v", spec, l)
		}
	}
	if err := (migrate.Location{Metadata: "postgres://x"}).Complete(); err == nil {
		t.Error("a location without a blob store is complete")
	}
	if s := (migrate.Location{Metadata: "postgres://wharf:secret@db/wharf", Blobs: "/d"}).String(); strings.Contains(s, "secret") {
		t.Errorf("String shows the password: %s", s)
	}
}
