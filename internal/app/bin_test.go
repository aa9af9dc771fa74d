package app

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wharfhq/wharf/internal/config"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// The recycle bin keeps a deleted image's blobs from garbage collection
// until it lets the image go; then GC frees them. First step by step
// (purge and collect by hand), then through the server's own jobs.
func TestBinKeepsBlobsUntilPurged(t *testing.T) {
	for _, scheduled := range []bool{false, true} {
		name := "by hand"
		if scheduled {
			name = "scheduled jobs"
		}
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			cfg := config.Defaults()
			cfg.DataDir = t.TempDir()
			cfg.AccountID = "123456789012"
			cfg.AdminAccessKeyID = "AKIABINTESTROOT00001"
			cfg.AdminSecretAccessKey = "bin-secret"
			cfg.GCGrace = time.Nanosecond
			if scheduled {
				cfg.RecycleBinRetention, cfg.GCInterval = 200*time.Millisecond, 100*time.Millisecond
				// With GC running, a grace of 1ns would let it drop the
				// blobs' links before the manifest that uses them is put.
				cfg.GCGrace = time.Second
			}
			a, err := New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			var serveCtx context.Context = ctx
			if !scheduled {
				// No jobs: every step is taken by the test.
				srv := &http.Server{Handler: a.Handler()}
				go srv.Serve(ln)
				defer srv.Close()
			} else {
				c, cancel := context.WithCancel(ctx)
				serveCtx = c
				done := make(chan error, 1)
				go func() { done <- a.Serve(serveCtx, ln) }()
				defer func() { cancel(); <-done }()
			}
			base := "http://" + ln.Addr().String()
			do := func(method, path, body, ct string) int {
				req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
				req.SetBasicAuth(cfg.AdminAccessKeyID, cfg.AdminSecretAccessKey)
				if ct != "" {
					req.Header.Set("Content-Type", ct)
				}
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				return res.StatusCode
			}
			const layer = "the only copy of this layer"
			ld := "sha256:" + sha256hex(layer)
			const cfgBlob = `{"os":"linux","architecture":"amd64"}`
			cd := "sha256:" + sha256hex(cfgBlob)
			for _, b := range []struct{ d, body string }{{ld, layer}, {cd, cfgBlob}} {
				if code := do("POST", "/v2/bin/app/blobs/uploads/?digest="+b.d, b.body, "application/octet-stream"); code != 201 {
					t.Fatalf("blob push: %d", code)
				}
			}
			m := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + cd + `","size":` + itoa(len(cfgBlob)) +
				`},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"` + ld + `","size":` + itoa(len(layer)) + `}]}`
			if code := do("PUT", "/v2/bin/app/manifests/v1", m, "application/vnd.oci.image.manifest.v1+json"); code != 201 {
				t.Fatalf("manifest push: %d", code)
			}
			if code := do("DELETE", "/v2/bin/app/manifests/sha256:"+sha256hex(m), "", ""); code != 202 {
				t.Fatalf("delete: %d", code)
			}
			stored := func() bool {
				_, err := a.Stores.Blobs.Stat(ctx, ld)
				return err == nil
			}
			if scheduled {
				// The purge job, then GC, free the layer once the bin lets
				// the image go (bounded wait).
				deadline := time.Now().Add(15 * time.Second)
				for stored() {
					if time.Now().After(deadline) {
						t.Fatal("the layer of an expired bin entry was never collected")
					}
					time.Sleep(50 * time.Millisecond)
				}
				if es, _ := a.Stores.Meta.ListBin(ctx, meta.BinQuery{}); len(es) != 0 {
					t.Fatalf("purged entry still listed: %+v", es)
				}
				return
			}
			// While binned, GC keeps the layer, however old.
			rep, err := a.Collector.Run(ctx, false)
			if err != nil {
				t.Fatal(err)
			}
			if !stored() || rep.BlobsDeleted != 0 {
				t.Fatalf("GC deleted %d blobs of a binned image", rep.BlobsDeleted)
			}
			if code := do("HEAD", "/v2/bin/app/blobs/"+ld, "", ""); code != 200 {
				t.Fatalf("layer of a binned image: %d", code)
			}
			// Once the entry is purged, the next collection frees it.
			if n, err := a.Stores.Meta.PurgeBin(ctx, time.Now().Add(cfg.RecycleBinRetention+time.Hour), 0); err != nil || n != 1 {
				t.Fatalf("purge %d %v", n, err)
			}
			if rep, err = a.Collector.Run(ctx, false); err != nil {
				t.Fatal(err)
			}
			if stored() || rep.BlobsDeleted != 2 {
				t.Fatalf("after the purge GC deleted %d blobs; layer still stored: %v", rep.BlobsDeleted, stored())
			}
		})
	}
}
