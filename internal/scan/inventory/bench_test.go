package inventory

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
)

// benchImage writes a ~200 MiB image (uncompressed) as four gzip layers in
// dir: a dpkg status of nPkgs packages and os-release in the first, and
// files of mostly random (incompressible) content, some text, and some
// ELF shared libraries with no build information (read and dropped).
func benchImage(b *testing.B, dir string, nPkgs int) ([]Layer, int64) {
	b.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	var status strings.Builder
	for i := range nPkgs {
		fmt.Fprintf(&status, "Package: pkg%03d\nStatus: install ok installed\nPriority: optional\nSection: libs\n"+
			"Installed-Size: %d\nMaintainer: Debian <debian@example.org>\nArchitecture: amd64\nSource: src%03d (1.%d-1)\n"+
			"Version: 1.%d-1+b1\nDepends: libc6 (>= 2.36)\nDescription: package %d\n a package of the benchmark\n\n",
			i, 100+i, i/3, i, i, i)
	}
	const layerCount, perLayer = 4, 50 << 20
	var total int64
	var ls []Layer
	for l := range layerCount {
		p := filepath.Join(dir, fmt.Sprintf("layer%d.tar.gz", l))
		f, err := os.Create(p)
		if err != nil {
			b.Fatal(err)
		}
		zw, _ := gzip.NewWriterLevel(f, gzip.BestSpeed)
		tw := tar.NewWriter(zw)
		add := func(name string, mode int64, body []byte) {
			if err := tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
				b.Fatal(err)
			}
			if _, err := tw.Write(body); err != nil {
				b.Fatal(err)
			}
			total += int64(len(body))
		}
		if l == 0 {
			add("etc/os-release", 0o644, []byte(debianOSRelease))
			add("var/lib/dpkg/status", 0o644, []byte(status.String()))
		}
		written := 0
		for i := 0; written < perLayer; i++ {
			size := 16<<10 + rng.IntN(512<<10)
			body := make([]byte, size)
			switch {
			case i%10 == 0: // text: compressible
				for j := range body {
					body[j] = "abcdefgh \n"[rng.IntN(10)]
				}
				add(fmt.Sprintf("usr/share/doc/l%d/f%d.txt", l, i), 0o644, body)
			case i%25 == 1: // a shared library without Go build info
				for j := 0; j+8 <= len(body); j += 8 {
					putUint64(body[j:], rng.Uint64())
				}
				copy(body, "\x7fELF\x02\x01\x01\x00")
				add(fmt.Sprintf("usr/lib/x86_64-linux-gnu/l%d/lib%d.so.1", l, i), 0o755, body)
			default:
				for j := 0; j+8 <= len(body); j += 8 {
					putUint64(body[j:], rng.Uint64())
				}
				add(fmt.Sprintf("opt/data/l%d/d%d/blob%d.bin", l, i%50, i), 0o644, body)
			}
			written += size
		}
		if err := tw.Close(); err != nil {
			b.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			b.Fatal(err)
		}
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
		ls = append(ls, Layer{Digest: fmt.Sprintf("sha256:layer%d", l), Open: func(context.Context) (io.ReadCloser, error) {
			return os.Open(p)
		}})
	}
	return ls, total
}

func putUint64(b []byte, v uint64) {
	for i := range 8 {
		b[i] = byte(v >> (8 * i))
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkExtract200MiB: the inventory of a 200 MiB, 4-layer gzip image
// with 500 dpkg packages (issue #5's target: the whole scan within 5 s).
// cpu-ns/op is the process's CPU time per extraction (the machine may be
// shared, which wall time does not show).
func BenchmarkExtract200MiB(b *testing.B) {
	dir := b.TempDir()
	ls, total := benchImage(b, dir, 500)
	b.SetBytes(total)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for b.Loop() {
		inv, err := Extract(context.Background(), ls, Options{TempDir: dir})
		if err != nil {
			b.Fatal(err)
		}
		if len(inv.Packages) != 500 {
			b.Fatalf("%d packages", len(inv.Packages))
		}
	}
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
}
