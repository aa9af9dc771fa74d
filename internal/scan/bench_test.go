package scan_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/wharfhq/wharf/internal/scan"
	"github.com/wharfhq/wharf/internal/scan/inventory"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// Benchmarks generate their data at run time (nothing is committed).

// benchStatus is a dpkg status of n packages, pkg-0000 ... (version 1.5-1
// for even ones, 1.1-1 for odd ones).
func benchStatus(n int) []byte {
	var b strings.Builder
	for i := 0; i < n; i++ {
		v := "1.5-1"
		if i%2 == 1 {
			v = "1.1-1"
		}
		fmt.Fprintf(&b, "Package: pkg-%04d\nStatus: install ok installed\nPriority: optional\nSection: libs\nInstalled-Size: 100\n"+
			"Maintainer: Wharf Bench <bench@example.com>\nArchitecture: amd64\nVersion: %s\nDescription: benchmark package %d\n\n", i, v, i)
	}
	return []byte(b.String())
}

// benchLayer writes a gzipped tar layer of files totalling size bytes
// (plus extra files) and returns its bytes. The data is lines of words
// drawn at random from a vocabulary, so it compresses about 3:1 with both
// back-references and literals, as typical layer content (text, binaries)
// does: the scan pays for real inflation, not for copying stored blocks.
func benchLayer(b *testing.B, size int64, seed uint64, extra map[string][]byte) []byte {
	b.Helper()
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	tw := tar.NewWriter(zw)
	rng := rand.New(rand.NewPCG(seed, seed))
	vocab := make([][]byte, 1024)
	for i := range vocab {
		w := make([]byte, 3+rng.IntN(8))
		for j := range w {
			w[j] = byte(33 + rng.IntN(94))
		}
		vocab[i] = w
	}
	chunk := make([]byte, 1<<20)
	const fileSize = 8 << 20
	for i := 0; int64(i)*fileSize < size; i++ {
		n := min(fileSize, size-int64(i)*fileSize)
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: fmt.Sprintf("opt/data/blob-%d-%03d.bin", seed, i), Mode: 0o644, Size: n}); err != nil {
			b.Fatal(err)
		}
		for w := int64(0); w < n; {
			chunk = chunk[:0]
			for len(chunk) < 1<<20 {
				chunk = append(chunk, vocab[rng.IntN(len(vocab))]...)
				if rng.IntN(12) == 0 {
					chunk = append(chunk, '\n')
				} else {
					chunk = append(chunk, ' ')
				}
			}
			k := min(int64(len(chunk)), n-w)
			if _, err := tw.Write(chunk[:k]); err != nil {
				b.Fatal(err)
			}
			w += k
		}
	}
	for name, body := range extra {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(body))}); err != nil {
			b.Fatal(err)
		}
		if _, err := tw.Write(body); err != nil {
			b.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		b.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

const benchOSRelease = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\nID=debian\n"

// benchAdvisories are n Debian 12 advisories, one per package pkg-0000...,
// fixed in 1.3-1 (so odd packages, at 1.1-1, are affected).
func benchAdvisories(n int, at time.Time, tag string) []advisory {
	vectors := []string{cvssCritical, cvssHigh, cvssMedium}
	out := make([]advisory, n)
	for i := range out {
		out[i] = advisory{ID: fmt.Sprintf("DEBIAN-CVE-2026-%s%05d", tag, i), Ecosystem: "Debian:12", Package: fmt.Sprintf("pkg-%04d", i),
			Fixed: "1.3-1", Vector: vectors[i%3], Modified: at}
	}
	return out
}

// BenchmarkScan200MiB runs the whole scan of a 200 MiB image (four gzip
// layers of about 50 MiB each as stored, 580 MiB uncompressed, 500 dpkg
// packages) from blobs on the filesystem store: layer reads, inflation,
// cataloguing, matching and storing.
func BenchmarkScan200MiB(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	e.importAdvisories(b, "bench", benchAdvisories(500, e.now.Add(-time.Hour), "A")...)
	r := e.repo(b, "bench/big", false)
	var layers [][]byte
	var total int64
	for i := 0; i < 4; i++ {
		extra := map[string][]byte(nil)
		if i == 0 {
			extra = map[string][]byte{"etc/os-release": []byte(benchOSRelease), "var/lib/dpkg/status": benchStatus(500)}
		}
		l := benchLayer(b, 145<<20, uint64(i+1), extra)
		total += int64(len(l))
		layers = append(layers, l)
	}
	m := e.putImage(b, r, "v1", "linux/amd64", layers...)
	d := string(digest.FromBytes(m))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// A new cataloguer version each time: the stored inventory is
		// not reused, the layers are read again.
		e.svc.InventoryVersion = fmt.Sprint("bench-", i)
		if _, err := e.svc.Queue(ctx, r, d, scan.Request{}); err != nil {
			b.Fatal(err)
		}
		if err := e.svc.Scan(ctx, r, d); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	rep, err := scan.GetReport(ctx, e.meta, r.ID, d)
	if err != nil {
		b.Fatal(err)
	}
	if rep.Status != meta.ScanComplete || len(rep.Active()) != 250 {
		b.Fatalf("scan: %s, %d active findings", rep.Status, len(rep.Active()))
	}
	b.ReportMetric(float64(total)/(1<<20), "image-MiB")
}

// BenchmarkRematch10k re-matches 10,000 stored inventories (300 packages
// each) of a repository under continuous scanning after an import that
// changes the findings of every one: one rescan per op, with real SQLite
// reads (in pages) and batched writes.
func BenchmarkRematch10k(b *testing.B) {
	const images = 10000
	e := rematchEnv(b, images)
	ctx := context.Background()
	var last scan.RescanStats
	var cpu time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		// Each import changes every image's findings: a new advisory per
		// package, fixed above every version.
		e.importAdvisories(b, fmt.Sprint("bench-", i), benchAdvisories(1000, e.now.Add(time.Duration(i)*time.Minute), fmt.Sprint(i))...)
		e.now = e.now.Add(time.Hour)
		b.StartTimer()
		c0 := cpuTime()
		st, err := e.svc.Rescan(ctx, testAccount)
		if err != nil {
			b.Fatal(err)
		}
		cpu += cpuTime() - c0
		last = st
	}
	b.StopTimer()
	if last.Images != images || last.Changed != images {
		b.Fatalf("rescan %+v", last)
	}
	b.ReportMetric(float64(images), "inventories")
	// CPU time is what the rescan costs whatever else the machine runs.
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
}

// BenchmarkRematch10kTargeted is the rescan after a typical import, one
// touching a few packages: "one" adds an advisory of one of the 1,000
// packages (which about 3,000 of the 10,000 images have: each has 300),
// "absent" advisories of three packages no image has (the floor: every
// image is skipped on its key set).
func BenchmarkRematch10kTargeted(b *testing.B) {
	const images = 10000
	e := rematchEnv(b, images)
	ctx := context.Background()
	for _, c := range []struct {
		name string
		pkgs []string
	}{{"one", []string{"pkg-0430"}}, {"absent", []string{"other-1", "other-2", "other-3"}}} {
		b.Run(c.name, func(b *testing.B) {
			var last scan.RescanStats
			var cpu time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				var advs []advisory
				for j, p := range c.pkgs {
					advs = append(advs, advisory{ID: fmt.Sprintf("DEBIAN-CVE-2026-%s%d-%d", c.name, i, j), Ecosystem: "Debian:12", Package: p,
						Fixed: "1.9-1", Vector: cvssHigh, Modified: e.now.Add(time.Duration(i) * time.Minute)})
				}
				rep := e.importAdvisories(b, fmt.Sprint(c.name, "-", i), advs...)
				e.now = e.now.Add(time.Hour)
				b.StartTimer()
				c0 := cpuTime()
				st, err := e.svc.RescanTouched(ctx, testAccount, rep.Touched)
				if err != nil {
					b.Fatal(err)
				}
				cpu += cpuTime() - c0
				last = st
			}
			b.StopTimer()
			if last.Images+last.Skipped != images || (c.name == "one") != (last.Images > 0) {
				b.Fatalf("rescan %+v", last)
			}
			b.ReportMetric(float64(last.Images), "rematched")
			b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
		})
	}
}

// rematchEnv stores n inventories (300 packages each) of completed scans
// in a repository under continuous scanning.
func rematchEnv(b *testing.B, images int) *env {
	const pkgs = 300
	e := newEnv(b)
	ctx := context.Background()
	r := e.repo(b, "prod/many", false)
	if _, err := e.svc.SetConfig(ctx, testAccount, scan.Config{ScanType: scan.TypeEnhanced, Rules: []scan.Rule{
		{ScanFrequency: scan.ContinuousScan, RepositoryFilters: []scan.Filter{{Filter: "*", FilterType: scan.FilterWildcard}}}}}); err != nil {
		b.Fatal(err)
	}
	cfg := e.putBlob(b, r, "application/vnd.oci.image.config.v1+json", []byte(`{"os":"linux","architecture":"amd64"}`))
	layer := e.putBlob(b, r, "application/vnd.oci.image.layer.v1.tar+gzip", []byte("layer"))
	start := time.Now()
	for i := 0; i < images; i++ {
		m := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":%s,"layers":[%s],"annotations":{"i":"%d"}}`, cfg, layer, i))
		d := e.putManifest(b, r, "", "application/vnd.oci.image.manifest.v1+json", m)
		inv := &inventory.Inventory{Platform: "linux/amd64", Distro: inventory.Distro{ID: "debian", VersionID: "12", VersionCodename: "bookworm"}}
		for j := 0; j < pkgs; j++ {
			// Each image has its own slice of the 1,000 packages, at
			// affected (1.1-1) or fixed (1.5-1) versions.
			p := (i*7 + j*3) % 1000
			v := "1.5-1"
			if (i+j)%2 == 1 {
				v = "1.1-1"
			}
			name := fmt.Sprintf("pkg-%04d", p)
			inv.Packages = append(inv.Packages, inventory.Package{Name: name, Version: v, Ecosystem: "Debian", Kind: inventory.KindOS,
				Arch: "amd64", PURL: "pkg:deb/debian/" + name + "@" + v + "?arch=amd64&distro=debian-12"})
		}
		rec, err := scan.StoredInventoryRecord(d, inventory.Cataloguer, inv)
		if err != nil {
			b.Fatal(err)
		}
		if err := e.meta.PutInventory(ctx, rec); err != nil {
			b.Fatal(err)
		}
		if _, err := e.meta.QueueScan(ctx, meta.ScanRequest{RepoID: r.ID, Digest: d, Job: meta.Job{Kind: "bench"}}); err != nil {
			b.Fatal(err)
		}
		if err := e.meta.FinishScan(ctx, meta.ScanResult{RepoID: r.ID, Digest: d, Status: meta.ScanComplete, CompletedAt: e.now}); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("stored %d inventories in %s", images, time.Since(start).Round(time.Millisecond))
	if st, err := os.Stat(filepath.Join(e.dir, "meta.db")); err == nil {
		b.ReportMetric(float64(st.Size())/(1<<20), "db-MiB")
	}
	return e
}
