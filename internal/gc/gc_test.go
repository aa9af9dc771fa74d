package gc_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/wharfhq/wharf/internal/gc"
	"github.com/wharfhq/wharf/internal/registry"
	"github.com/wharfhq/wharf/internal/registry/names"
	"github.com/wharfhq/wharf/internal/store/blob/fs"
	"github.com/wharfhq/wharf/internal/store/meta"
	"github.com/wharfhq/wharf/internal/store/meta/sqlstore"
)

type clock struct{ ns atomic.Int64 }

func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }

type fixture struct {
	reg  *registry.Service
	col  *gc.Collector
	repo meta.Repository
	clk  *clock
}

func setup(t *testing.T, grace time.Duration) *fixture {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	m, err := sqlstore.OpenSQLite(ctx, filepath.Join(dir, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	b, err := fs.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{}
	clk.ns.Store(time.Now().UnixNano())
	if err := m.CreateAccount(ctx, meta.Account{ID: "123456789012", CreatedAt: clk.now()}); err != nil {
		t.Fatal(err)
	}
	reg := registry.New(m, b, registry.Options{CreateOnPush: true, Clock: clk.now})
	repo, err := reg.Repository(ctx, "123456789012", "team/app", true)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{reg: reg, repo: repo, clk: clk,
		col: &gc.Collector{Meta: m, Blobs: b, Grace: grace, UploadTTL: time.Hour, Clock: clk.now}}
}

func dg(b []byte) digest.Digest { return digest.Digest(fmt.Sprintf("sha256:%x", sha256.Sum256(b))) }

func (f *fixture) put(t *testing.T, b []byte) {
	t.Helper()
	if _, err := f.reg.PutBlob(context.Background(), f.repo, dg(b), int64(len(b)), bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
}

func manifestFor(cfg, layer []byte) []byte {
	return []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%d}]}`,
		dg(cfg), len(cfg), dg(layer), len(layer)))
}

func TestCollectsOnlyUnreferencedAfterGrace(t *testing.T) {
	f := setup(t, time.Hour)
	ctx := context.Background()
	cfg, kept, orphan := []byte(`{"os":"linux"}`), []byte("kept-layer"), []byte("orphan-layer-bytes")
	f.put(t, cfg)
	f.put(t, kept)
	f.put(t, orphan)
	m := manifestFor(cfg, kept)
	if _, err := f.reg.PutManifest(ctx, f.repo, names.Reference{Tag: "v1"}, "application/vnd.oci.image.manifest.v1+json", m, registry.Actor{}); err != nil {
		t.Fatal(err)
	}
	// Within the grace period nothing goes, not even the orphan.
	rep, err := f.col.Run(ctx, false)
	if err != nil || rep.BlobsDeleted != 0 {
		t.Fatalf("within grace: %+v %v", rep, err)
	}
	f.clk.advance(2 * time.Hour)
	dry, err := f.col.Run(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if dry.BlobsDeleted != 1 || dry.BytesFreed != int64(len(orphan)) || dry.DeletedDigests[0] != string(dg(orphan)) {
		t.Fatalf("dry run: %+v", dry)
	}
	if _, err := f.reg.StatBlob(ctx, f.repo, dg(orphan)); err != nil {
		t.Fatalf("dry run changed something: %v", err)
	}
	rep, err = f.col.Run(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if rep.LinksDropped != 1 {
		t.Fatalf("links dropped = %d, want 1 (the orphan layer)", rep.LinksDropped)
	}
	if rep.BlobsDeleted != 1 || rep.BytesFreed != int64(len(orphan)) || rep.DeletedDigests[0] != string(dg(orphan)) {
		t.Fatalf("report %+v", rep)
	}
	if _, err := f.reg.StatBlob(ctx, f.repo, dg(kept)); err != nil {
		t.Fatalf("referenced layer lost: %v", err)
	}
	if _, _, err := f.reg.Blobs().Open(ctx, string(dg(orphan))); err == nil {
		t.Fatal("orphan file still on disk")
	}
	// Deleting the image frees its blobs on the next runs.
	if err := f.reg.DeleteManifest(ctx, f.repo, names.Reference{Digest: dg(m)}, registry.Actor{}); err != nil {
		t.Fatal(err)
	}
	f.clk.advance(2 * time.Hour)
	rep, err = f.col.Run(ctx, false)
	if err != nil || rep.BlobsDeleted != 2 {
		t.Fatalf("after image delete: %+v %v", rep, err)
	}
}

func TestReapsExpiredUploads(t *testing.T) {
	f := setup(t, time.Hour)
	ctx := context.Background()
	u, err := f.reg.StartUpload(ctx, f.repo)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.reg.WriteUpload(ctx, f.repo, u.ID, registry.Chunk{Start: 0, Length: 3, Body: bytes.NewReader([]byte("abc"))}); err != nil {
		t.Fatal(err)
	}
	rep, _ := f.col.Run(ctx, false)
	if rep.UploadsReaped != 0 {
		t.Fatal("fresh upload reaped")
	}
	f.clk.advance(2 * time.Hour)
	rep, err = f.col.Run(ctx, false)
	if err != nil || rep.UploadsReaped != 1 {
		t.Fatalf("%+v %v", rep, err)
	}
	if _, err := f.reg.UploadStatus(ctx, f.repo, u.ID); registry.CodeOf(err) != registry.CodeBlobUploadUnknown {
		t.Fatalf("reaped upload still known: %v", err)
	}
}

// TestPushesRacingGC runs pushes of the same content while the collector
// runs with no grace period: a push may be refused, but an acknowledged
// manifest always has every blob readable.
func TestPushesRacingGC(t *testing.T) {
	f := setup(t, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := f.col.Run(ctx, false); err != nil && ctx.Err() == nil {
				t.Errorf("gc: %v", err)
				return
			}
		}
	}()
	layer := bytes.Repeat([]byte("shared-layer"), 1000)
	var acked []digest.Digest
	for i := 0; i < 60 && ctx.Err() == nil; i++ {
		cfg := []byte(fmt.Sprintf(`{"i":%d}`, i))
		if _, err := f.reg.PutBlob(ctx, f.repo, dg(layer), int64(len(layer)), bytes.NewReader(layer)); err != nil {
			t.Fatal(err)
		}
		if _, err := f.reg.PutBlob(ctx, f.repo, dg(cfg), int64(len(cfg)), bytes.NewReader(cfg)); err != nil {
			t.Fatal(err)
		}
		m := manifestFor(cfg, layer)
		_, err := f.reg.PutManifest(ctx, f.repo, names.Reference{Tag: fmt.Sprintf("t%d", i)}, "application/vnd.oci.image.manifest.v1+json", m, registry.Actor{})
		if err != nil {
			if registry.CodeOf(err) != registry.CodeManifestBlobUnknown {
				t.Fatalf("push %d: %v", i, err)
			}
			continue
		}
		acked = append(acked, dg(m))
	}
	close(stop)
	wg.Wait()
	if len(acked) == 0 {
		t.Fatal("no push acknowledged")
	}
	for _, md := range acked {
		for _, d := range []digest.Digest{dg(layer)} {
			rd, _, err := f.reg.OpenBlob(context.Background(), f.repo, d)
			if err != nil {
				t.Fatalf("manifest %s: blob %s lost: %v", md, d, err)
			}
			got, _ := io.ReadAll(rd)
			rd.Close()
			if !bytes.Equal(got, layer) {
				t.Fatalf("blob %s corrupt", d)
			}
		}
	}
	t.Logf("%d of 60 pushes acknowledged while GC ran", len(acked))
}

// TestKeepsArchivedImages: an archived image (and one being restored) is
// still an image: GC keeps its blobs, however old.
func TestKeepsArchivedImages(t *testing.T) {
	f := setup(t, time.Hour)
	ctx := context.Background()
	var digests []digest.Digest
	var blobs [][]byte
	for _, seed := range []string{"archived", "activating"} {
		cfg, layer := []byte(`{"os":"linux","seed":"`+seed+`"}`), []byte("layer of "+seed)
		f.put(t, cfg)
		f.put(t, layer)
		m := manifestFor(cfg, layer)
		if _, err := f.reg.PutManifest(ctx, f.repo, names.Reference{Digest: dg(m)}, "application/vnd.oci.image.manifest.v1+json", m, registry.Actor{}); err != nil {
			t.Fatal(err)
		}
		if err := f.reg.Archive(ctx, f.repo, string(dg(m))); err != nil {
			t.Fatal(err)
		}
		digests = append(digests, dg(m))
		blobs = append(blobs, cfg, layer)
	}
	if err := f.reg.Restore(ctx, f.repo, string(digests[1])); err != nil {
		t.Fatal(err)
	}
	f.clk.advance(48 * time.Hour)
	rep, err := f.col.Run(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if rep.BlobsDeleted != 0 || rep.LinksDropped != 0 {
		t.Fatalf("GC took blobs of archived images: %+v", rep)
	}
	for _, b := range blobs {
		if _, _, err := f.reg.Blobs().Open(ctx, string(dg(b))); err != nil {
			t.Fatalf("blob %s of an archived image: %v", dg(b), err)
		}
	}
}
