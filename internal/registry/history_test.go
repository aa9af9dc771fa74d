package registry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/wharfhq/wharf/internal/registry"
	"github.com/wharfhq/wharf/internal/registry/manifest"
	"github.com/wharfhq/wharf/internal/registry/names"
	"github.com/wharfhq/wharf/internal/store/blob/fs"
	"github.com/wharfhq/wharf/internal/store/meta"
	"github.com/wharfhq/wharf/internal/store/meta/sqlstore"
)

// Core tests of tag history, rollback, the recycle bin and the platform
// guard, over the real SQLite and filesystem stores, with an injected clock.

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type core struct {
	t     testing.TB
	svc   *registry.Service
	store meta.Store
	clock *clock
	repo  meta.Repository
}

var alice = registry.Actor{Principal: "arn:aws:iam::123456789012:user/alice", Via: "test"}

func newCore(t testing.TB, retention time.Duration, mutability string) *core {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(dir, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	bs, err := fs.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Now().UTC()}
	svc := registry.New(st, bs, registry.Options{CreateOnPush: true, BinRetention: retention, Clock: c.now})
	r, err := svc.CreateRepository(context.Background(), meta.Repository{AccountID: "123456789012", Name: "team/app", TagMutability: mutability})
	if err != nil {
		t.Fatal(err)
	}
	return &core{t: t, svc: svc, store: st, clock: c, repo: r}
}

func (c *core) blob(b []byte) digest.Digest {
	c.t.Helper()
	d := digest.FromBytes(b)
	if _, err := c.svc.PutBlob(context.Background(), c.repo, d, int64(len(b)), bytes.NewReader(b)); err != nil {
		c.t.Fatal(err)
	}
	return d
}

// image pushes an image of the platform "os/arch[/variant]" (seed makes
// it unique) and returns its manifest bytes and digest, without a tag.
func (c *core) image(platform, seed string) ([]byte, string) {
	c.t.Helper()
	parts := strings.Split(platform, "/")
	cfg := map[string]string{"os": parts[0], "architecture": parts[1], "seed": seed}
	if len(parts) > 2 {
		cfg["variant"] = parts[2]
	}
	cb, _ := json.Marshal(cfg)
	layer := []byte("layer " + seed)
	cd, ld := c.blob(cb), c.blob(layer)
	m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"%s","digest":"%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%d}]}`,
		manifest.OCIManifest, manifest.OCIImageConfig, cd, len(cb), ld, len(layer))
	d := c.put(names.Reference{Digest: digest.FromString(m)}, manifest.OCIManifest, []byte(m), false)
	return []byte(m), d
}

// index pushes an index of children (digest and declared platform; ""
// declares none), with an attestation entry when attest is set.
func (c *core) index(attest bool, children ...[2]string) ([]byte, string) {
	c.t.Helper()
	var entries []string
	for _, ch := range children {
		m, err := c.svc.GetManifest(context.Background(), c.repo, names.Reference{Digest: digest.Digest(ch[0])})
		if err != nil {
			c.t.Fatal(err)
		}
		e := fmt.Sprintf(`{"mediaType":"%s","digest":"%s","size":%d`, m.MediaType, m.Digest, m.Size)
		if ch[1] != "" {
			p := strings.Split(ch[1], "/")
			e += fmt.Sprintf(`,"platform":{"os":"%s","architecture":"%s"}`, p[0], p[1])
		}
		entries = append(entries, e+"}")
	}
	if attest {
		_, ad := c.image("linux/amd64", "attestation-body") // any manifest will do as the target
		m, _ := c.svc.GetManifest(context.Background(), c.repo, names.Reference{Digest: digest.Digest(ad)})
		entries = append(entries, fmt.Sprintf(`{"mediaType":"%s","digest":"%s","size":%d,"platform":{"os":"unknown","architecture":"unknown"},"annotations":{"vnd.docker.reference.type":"attestation-manifest","vnd.docker.reference.digest":"%s"}}`,
			m.MediaType, m.Digest, m.Size, children[0][0]))
	}
	body := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"%s","manifests":[%s]}`, manifest.OCIIndex, strings.Join(entries, ","))
	d := c.put(names.Reference{Digest: digest.FromString(body)}, manifest.OCIIndex, []byte(body), false)
	return []byte(body), d
}

func (c *core) put(ref names.Reference, mt string, body []byte, override bool) string {
	c.t.Helper()
	res, err := c.svc.PutManifestWith(context.Background(), c.repo, ref, mt, body, alice, registry.PutOptions{PlatformOverride: override})
	if err != nil {
		c.t.Fatalf("put %v: %v", ref, err)
	}
	return string(res.Digest)
}

// tag points tag at a stored manifest by pushing it by tag.
func (c *core) tag(tag, d string, override bool) error {
	m, err := c.svc.GetManifest(context.Background(), c.repo, names.Reference{Digest: digest.Digest(d)})
	if err != nil {
		return err
	}
	_, err = c.svc.PutManifestWith(context.Background(), c.repo, names.Reference{Tag: tag}, m.MediaType, m.Content, alice, registry.PutOptions{PlatformOverride: override})
	return err
}

func (c *core) resolve(tag string) string {
	c.t.Helper()
	m, err := c.svc.GetManifest(context.Background(), c.repo, names.Reference{Tag: tag})
	if err != nil {
		c.t.Fatalf("resolve %s: %v", tag, err)
	}
	return m.Digest
}

func (c *core) audit(action string) []meta.AuditEvent {
	c.t.Helper()
	evs, err := c.store.ListAudit(context.Background(), meta.AuditFilter{Action: action})
	if err != nil {
		c.t.Fatal(err)
	}
	return evs
}

func wantCode(t *testing.T, err error, code registry.Code, contains ...string) {
	t.Helper()
	if registry.CodeOf(err) != code {
		t.Fatalf("got %v, want %s", err, code)
	}
	for _, s := range contains {
		if !strings.Contains(err.Error(), s) {
			t.Fatalf("error %q does not mention %q", err, s)
		}
	}
}

func (c *core) guard(on bool) {
	c.t.Helper()
	if _, err := c.svc.SetPlatformGuard(context.Background(), c.repo, on, alice); err != nil {
		c.t.Fatal(err)
	}
}

func TestPlatformGuardRefusesOtherPlatforms(t *testing.T) {
	c := newCore(t, 0, registry.Mutable)
	_, amd := c.image("linux/amd64", "amd")
	_, amd2 := c.image("linux/amd64", "amd2")
	_, arm := c.image("linux/arm64", "arm")
	_, armV8 := c.image("linux/aarch64/v8", "arm-v8")
	if err := c.tag("latest", amd, false); err != nil {
		t.Fatal(err)
	}
	// Off: anything goes.
	if err := c.tag("latest", arm, false); err != nil {
		t.Fatalf("guard off: %v", err)
	}
	if err := c.tag("latest", amd, false); err != nil {
		t.Fatal(err)
	}

	c.guard(true)
	err := c.tag("latest", arm, false)
	wantCode(t, err, registry.CodePlatformMismatch, "tag latest points at linux/amd64; refusing linux/arm64", "platform guard on team/app")
	if got := c.resolve("latest"); got != amd {
		t.Fatalf("refused move moved the tag to %s", got)
	}
	var re *registry.Error
	_ = errorAs(err, &re)
	det := re.Detail.(map[string]any)
	if det["currentDigest"] != amd || det["digest"] != arm {
		t.Fatalf("detail %v", det)
	}
	// Same platforms, a new tag, or the same digest again: allowed.
	if err := c.tag("latest", amd2, false); err != nil {
		t.Fatalf("same platform: %v", err)
	}
	if err := c.tag("arm-only", arm, false); err != nil {
		t.Fatalf("new tag: %v", err)
	}
	if err := c.tag("latest", amd2, false); err != nil {
		t.Fatalf("same digest: %v", err)
	}
	// Spellings of one platform are equal (aarch64/v8 is arm64).
	if err := c.tag("arm-only", armV8, false); err != nil {
		t.Fatalf("arm64 vs aarch64/v8: %v", err)
	}

	// An explicit override moves it, and is audited with both sets.
	if err := c.tag("latest", arm, true); err != nil {
		t.Fatalf("override: %v", err)
	}
	if got := c.resolve("latest"); got != arm {
		t.Fatalf("override did not move the tag: %s", got)
	}
	evs := c.audit("tag.platform-override")
	if len(evs) != 1 || evs[0].Tag != "latest" || evs[0].Digest != arm || !strings.Contains(string(evs[0].Detail), `"toPlatforms":["linux/arm64"]`) ||
		!strings.Contains(string(evs[0].Detail), `"fromPlatforms":["linux/amd64"]`) {
		t.Fatalf("override audit %+v", evs)
	}
	// Overriding a move that changes nothing records nothing.
	if err := c.tag("arm-only", arm, true); err != nil {
		t.Fatal(err)
	}
	if n := len(c.audit("tag.platform-override")); n != 1 {
		t.Fatalf("%d override events", n)
	}
	if evs := c.audit("repository.platform-guard"); len(evs) != 1 || evs[0].Actor != alice.Principal {
		t.Fatalf("guard audit %+v", evs)
	}
}

func TestPlatformGuardIndexes(t *testing.T) {
	c := newCore(t, 0, registry.Mutable)
	_, amd := c.image("linux/amd64", "amd")
	_, arm := c.image("linux/arm64", "arm")
	_, amdB := c.image("linux/amd64", "amd-b")
	_, armB := c.image("linux/arm64", "arm-b")
	_, both := c.index(false, [2]string{amd, "linux/amd64"}, [2]string{arm, "linux/arm64"})
	// The next release: same platforms, one entry declared by its config
	// only, plus a BuildKit attestation (unknown/unknown) that runs nowhere.
	_, bothB := c.index(true, [2]string{amdB, "linux/amd64"}, [2]string{armB, ""})
	_, amdOnly := c.index(false, [2]string{amdB, "linux/amd64"})
	c.guard(true)
	if err := c.tag("latest", both, false); err != nil {
		t.Fatal(err)
	}
	if err := c.tag("latest", bothB, false); err != nil {
		t.Fatalf("same platform set: %v", err)
	}
	err := c.tag("latest", amdOnly, false)
	wantCode(t, err, registry.CodePlatformMismatch, "points at linux/amd64, linux/arm64; refusing linux/amd64")
	// An image over an index of two platforms is refused too.
	wantCode(t, c.tag("latest", amd, false), registry.CodePlatformMismatch, "refusing linux/amd64")
}

func errorAs(err error, re **registry.Error) bool {
	e, ok := err.(*registry.Error)
	if ok {
		*re = e
	}
	return ok
}

func TestRollbackTag(t *testing.T) {
	ctx := context.Background()
	c := newCore(t, 7*24*time.Hour, registry.Mutable)
	_, a := c.image("linux/amd64", "a")
	_, b := c.image("linux/amd64", "b")
	_, d := c.image("linux/amd64", "c")
	for _, x := range []string{a, b, d} {
		if err := c.tag("latest", x, false); err != nil {
			t.Fatal(err)
		}
	}
	// One step back: the digest before the last move.
	res, err := c.svc.RollbackTag(ctx, c.repo, registry.Rollback{Tag: "latest", Steps: 1}, alice)
	if err != nil {
		t.Fatal(err)
	}
	if res.From != d || res.To != b || !res.Moved || c.resolve("latest") != b {
		t.Fatalf("rollback 1: %+v, latest %s", res, c.resolve("latest"))
	}
	evs, err := c.svc.TagHistory(ctx, c.repo, "latest", 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	if evs[0].Via != "rollback" || evs[0].From != d || evs[0].To != b || evs[0].Actor != alice.Principal {
		t.Fatalf("history %+v", evs[0])
	}
	au := c.audit("tag.rollback")
	if len(au) != 1 || au[0].Tag != "latest" || au[0].Digest != b || !strings.Contains(string(au[0].Detail), `"steps":1`) {
		t.Fatalf("audit %+v", au)
	}
	// Steps count every recorded move, the rollback included: 1 undoes it.
	res, err = c.svc.RollbackTag(ctx, c.repo, registry.Rollback{Tag: "latest", Steps: 1}, alice)
	if err != nil || res.To != d {
		t.Fatalf("undo: %+v %v", res, err)
	}
	// To a named digest.
	if res, err = c.svc.RollbackTag(ctx, c.repo, registry.Rollback{Tag: "latest", Digest: a}, alice); err != nil || c.resolve("latest") != a {
		t.Fatalf("to a: %+v %v", res, err)
	}
	// Already there: nothing moves, nothing is recorded.
	res, err = c.svc.RollbackTag(ctx, c.repo, registry.Rollback{Tag: "latest", Digest: a}, alice)
	if err != nil || res.Moved {
		t.Fatalf("no-op: %+v %v", res, err)
	}
	if n := len(c.audit("tag.rollback")); n != 3 {
		t.Fatalf("%d rollback events", n)
	}

	// Further back than the history goes, or before the tag existed.
	_, err = c.svc.RollbackTag(ctx, c.repo, registry.Rollback{Tag: "latest", Steps: 99}, alice)
	wantCode(t, err, registry.CodeInvalidParameter, "has 6 recorded moves")
	_, err = c.svc.RollbackTag(ctx, c.repo, registry.Rollback{Tag: "latest", Steps: 6}, alice)
	wantCode(t, err, registry.CodeInvalidParameter, "did not exist 6 moves ago")
	_, err = c.svc.RollbackTag(ctx, c.repo, registry.Rollback{Tag: "latest"}, alice)
	wantCode(t, err, registry.CodeInvalidParameter)
	_, err = c.svc.RollbackTag(ctx, c.repo, registry.Rollback{Tag: "latest", Steps: 1, Digest: a}, alice)
	wantCode(t, err, registry.CodeInvalidParameter)
	_, err = c.svc.RollbackTag(ctx, c.repo, registry.Rollback{Tag: "latest", Digest: "sha256:" + strings.Repeat("0", 64)}, alice)
	wantCode(t, err, registry.CodeManifestUnknown, "is not in repository team/app")

	// A deleted image is refused, with the way out.
	if _, err := c.svc.DeleteImage(ctx, c.repo, b, alice); err != nil {
		t.Fatal(err)
	}
	_, err = c.svc.RollbackTag(ctx, c.repo, registry.Rollback{Tag: "latest", Digest: b}, alice)
	wantCode(t, err, registry.CodeManifestUnknown, "recycle bin")

	// A tag deleted by mistake comes back with one step.
	if err := c.svc.DeleteManifest(ctx, c.repo, names.Reference{Tag: "latest"}, alice); err != nil {
		t.Fatal(err)
	}
	if res, err = c.svc.RollbackTag(ctx, c.repo, registry.Rollback{Tag: "latest", Steps: 1}, alice); err != nil || res.From != "" || c.resolve("latest") != a {
		t.Fatalf("undelete: %+v %v", res, err)
	}
}

func TestRollbackImmutableAndGuarded(t *testing.T) {
	ctx := context.Background()
	im := newCore(t, 0, registry.Immutable)
	_, a := im.image("linux/amd64", "a")
	_, b := im.image("linux/amd64", "b")
	if err := im.tag("v1", a, false); err != nil {
		t.Fatal(err)
	}
	_, err := im.svc.RollbackTag(ctx, im.repo, registry.Rollback{Tag: "v1", Digest: b}, alice)
	wantCode(t, err, registry.CodeTagInvalid, "immutable")

	c := newCore(t, 0, registry.Mutable)
	_, amd := c.image("linux/amd64", "amd")
	_, arm := c.image("linux/arm64", "arm")
	_, armNew := c.image("linux/arm64", "arm-new")
	if err := c.tag("latest", amd, false); err != nil {
		t.Fatal(err)
	}
	// The accident: arm64 pushed over amd64 while the guard was off.
	if err := c.tag("latest", arm, false); err != nil {
		t.Fatal(err)
	}
	c.guard(true)
	// Going back to the tag's own earlier state is what rollback is for.
	if _, err := c.svc.RollbackTag(ctx, c.repo, registry.Rollback{Tag: "latest", Steps: 1}, alice); err != nil {
		t.Fatalf("guarded rollback within history: %v", err)
	}
	if c.resolve("latest") != amd {
		t.Fatal("not rolled back")
	}
	// A digest the tag never pointed at is a plain move: guarded.
	_, err = c.svc.RollbackTag(ctx, c.repo, registry.Rollback{Tag: "latest", Digest: armNew}, alice)
	wantCode(t, err, registry.CodePlatformMismatch, "refusing linux/arm64")
	if _, err := c.svc.RollbackTag(ctx, c.repo, registry.Rollback{Tag: "latest", Digest: armNew, PlatformOverride: true}, alice); err != nil {
		t.Fatalf("override: %v", err)
	}
	au := c.audit("tag.rollback")
	if len(au) != 2 || !strings.Contains(string(au[1].Detail), `"platformOverride":true`) {
		t.Fatalf("audit %+v", au)
	}
}

func TestRecycleBin(t *testing.T) {
	ctx := context.Background()
	c := newCore(t, 7*24*time.Hour, registry.Mutable)
	_, a := c.image("linux/amd64", "a")
	if err := c.tag("v1", a, false); err != nil {
		t.Fatal(err)
	}
	if err := c.tag("latest", a, false); err != nil {
		t.Fatal(err)
	}
	res, err := c.svc.DeleteImage(ctx, c.repo, a, alice)
	if err != nil || !res.Deleted || strings.Join(res.Tags, ",") != "latest,v1" {
		t.Fatalf("delete: %+v %v", res, err)
	}
	// Invisible: by digest, by tag, in tag lists.
	_, err = c.svc.GetManifest(ctx, c.repo, names.Reference{Digest: digest.Digest(a)})
	wantCode(t, err, registry.CodeManifestUnknown)
	_, err = c.svc.GetManifest(ctx, c.repo, names.Reference{Tag: "v1"})
	wantCode(t, err, registry.CodeManifestUnknown)
	if tags, err := c.svc.Tags(ctx, c.repo, "", 100); err != nil || len(tags) != 0 {
		t.Fatalf("tags %v %v", tags, err)
	}
	entries, err := c.svc.ListBin(ctx, c.repo.AccountID, &c.repo, meta.BinCursor{}, 0)
	if err != nil || len(entries) != 1 || entries[0].Manifest.Digest != a || !entries[0].ExpiresAt.Equal(c.clock.now().Add(7*24*time.Hour)) {
		t.Fatalf("bin %+v %v", entries, err)
	}

	// Restore: image and tags back, recorded and audited.
	out, err := c.svc.RestoreImage(ctx, c.repo, a, alice)
	if err != nil || len(out.Images) != 1 || strings.Join(out.Images[0].Tags, ",") != "latest,v1" {
		t.Fatalf("restore %+v %v", out, err)
	}
	if c.resolve("v1") != a || c.resolve("latest") != a {
		t.Fatal("tags not back")
	}
	if au := c.audit("image.restore"); len(au) != 1 || au[0].Digest != a {
		t.Fatalf("audit %+v", au)
	}
	_, err = c.svc.RestoreImage(ctx, c.repo, a, alice)
	wantCode(t, err, registry.CodeInvalidParameter, "is not deleted")

	// After the retention it is gone: not listed, not restorable, purged.
	if _, err := c.svc.DeleteImage(ctx, c.repo, a, alice); err != nil {
		t.Fatal(err)
	}
	c.clock.add(7*24*time.Hour + time.Second)
	if entries, _ := c.svc.ListBin(ctx, c.repo.AccountID, nil, meta.BinCursor{}, 0); len(entries) != 0 {
		t.Fatalf("expired entry listed: %+v", entries)
	}
	_, err = c.svc.RestoreImage(ctx, c.repo, a, alice)
	wantCode(t, err, registry.CodeManifestUnknown, "left the recycle bin")
	if n, err := c.svc.PurgeBin(ctx); err != nil || n != 1 {
		t.Fatalf("purge %d %v", n, err)
	}
	_, err = c.svc.RestoreImage(ctx, c.repo, a, alice)
	wantCode(t, err, registry.CodeManifestUnknown, "not in the recycle bin")

	// Pushing a binned image again recreates it and empties its entry.
	_, b := c.image("linux/amd64", "b")
	if _, err := c.svc.DeleteImage(ctx, c.repo, b, alice); err != nil {
		t.Fatal(err)
	}
	m, _ := c.store.GetBinEntry(ctx, c.repo.ID, b)
	c.put(names.Reference{Tag: "again"}, m.Manifest.MediaType, m.Manifest.Content, false)
	if _, err := c.store.GetBinEntry(ctx, c.repo.ID, b); err == nil {
		t.Fatal("re-pushed image still in the bin")
	}
}

func TestRecycleBinOff(t *testing.T) {
	ctx := context.Background()
	c := newCore(t, 0, registry.Mutable)
	_, a := c.image("linux/amd64", "a")
	if _, err := c.svc.DeleteImage(ctx, c.repo, a, alice); err != nil {
		t.Fatal(err)
	}
	if _, err := c.store.GetBinEntry(ctx, c.repo.ID, a); err == nil {
		t.Fatal("binned although retention is 0")
	}
	_, err := c.svc.RestoreImage(ctx, c.repo, a, alice)
	wantCode(t, err, registry.CodeManifestUnknown)
}

func TestUntagAndSafeDeletes(t *testing.T) {
	ctx := context.Background()
	c := newCore(t, time.Hour, registry.Mutable)
	_, a := c.image("linux/amd64", "a")
	_, b := c.image("linux/arm64", "b")
	for _, tg := range []string{"v1", "stable"} {
		if err := c.tag(tg, a, false); err != nil {
			t.Fatal(err)
		}
	}
	// ECR's untag: the other tag keeps the image.
	res, err := c.svc.UntagImage(ctx, c.repo, "v1", a, alice)
	if err != nil || res.Deleted {
		t.Fatalf("untag with a tag left: %+v %v", res, err)
	}
	if c.resolve("stable") != a {
		t.Fatal("other tag lost")
	}
	// The last tag takes the image along, into the bin with that tag.
	res, err = c.svc.UntagImage(ctx, c.repo, "stable", a, alice)
	if err != nil || !res.Deleted {
		t.Fatalf("untag last: %+v %v", res, err)
	}
	e, err := c.store.GetBinEntry(ctx, c.repo.ID, a)
	if err != nil || strings.Join(e.Tags, ",") != "stable" {
		t.Fatalf("bin entry %+v %v", e, err)
	}
	// The /v2/ tag delete removes the tag only.
	if err := c.tag("x", b, false); err != nil {
		t.Fatal(err)
	}
	if err := c.svc.DeleteManifest(ctx, c.repo, names.Reference{Tag: "x"}, alice); err != nil {
		t.Fatal(err)
	}
	if _, err := c.svc.GetManifest(ctx, c.repo, names.Reference{Digest: digest.Digest(b)}); err != nil {
		t.Fatalf("untagged image gone: %v", err)
	}

	// An image a manifest list references: refused, naming the index.
	_, idx := c.index(false, [2]string{b, "linux/arm64"})
	_, err = c.svc.DeleteImage(ctx, c.repo, b, alice)
	wantCode(t, err, registry.CodeManifestReferenced, "referenced by the index "+idx)

	// Restoring an index brings back its binned children first.
	if _, err := c.svc.DeleteImage(ctx, c.repo, idx, alice); err != nil {
		t.Fatal(err)
	}
	if _, err := c.svc.DeleteImage(ctx, c.repo, b, alice); err != nil {
		t.Fatal(err)
	}
	out, err := c.svc.RestoreImage(ctx, c.repo, idx, alice)
	if err != nil || len(out.Images) != 2 || out.Images[0].Digest != b || out.Images[1].Digest != idx {
		t.Fatalf("restore index %+v %v", out, err)
	}
}
