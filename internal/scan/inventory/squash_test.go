package inventory

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// names lists an inventory's packages as "name@version location...".
func names(inv *Inventory) []string {
	var out []string
	for _, p := range inv.Packages {
		out = append(out, p.Name+"@"+p.Version+" "+strings.Join(p.Locations, " "))
	}
	return out
}

func wantNames(t *testing.T, inv *Inventory, want ...string) {
	t.Helper()
	if got := names(inv); !slices.Equal(got, want) {
		t.Errorf("packages:\n got %q\nwant %q", got, want)
	}
}

func apkDB(pkgs ...string) string {
	var b strings.Builder
	for _, p := range pkgs {
		name, version, _ := strings.Cut(p, "@")
		b.WriteString("P:" + name + "\nV:" + version + "\nA:x86_64\n\n")
	}
	return b.String()
}

func distInfo(dir, name, version string) entry {
	return file(dir+"/"+name+"-"+version+".dist-info/METADATA", "Metadata-Version: 2.1\nName: "+name+"\nVersion: "+version+"\n")
}

const sitePackages = "usr/lib/python3/dist-packages"

func TestWhiteoutDeletesAPackageDatabase(t *testing.T) {
	base := []entry{file("etc/os-release", alpineOSRelease), file("lib/apk/db/installed", apkDB("musl@1.2.4-r4"))}
	for name, upper := range map[string][]entry{
		"file":      {whiteout("lib/apk/db", "installed")},
		"directory": {whiteout("lib/apk", "db")},
		"parent":    {whiteout("", "lib")},
	} {
		t.Run(name, func(t *testing.T) {
			inv := extract(t, layers(t, gzipped, base, upper))
			wantNames(t, inv)
			if inv.Distro.ID != "alpine" {
				t.Errorf("distro %+v: a whiteout elsewhere hid os-release", inv.Distro)
			}
		})
	}
	// A database written again above the whiteout is back.
	inv := extract(t, layers(t, gzipped, base, []entry{whiteout("lib/apk/db", "installed")},
		[]entry{file("lib/apk/db/installed", apkDB("musl@1.2.5-r0"))}))
	wantNames(t, inv, "musl@1.2.5-r0 /lib/apk/db/installed")
}

func TestUpperLayerReplacesAFile(t *testing.T) {
	inv := extract(t, layers(t, zstded,
		[]entry{file("lib/apk/db/installed", apkDB("musl@1.2.4-r4", "busybox@1.36.1-r15"))},
		[]entry{file("lib/apk/db/installed", apkDB("musl@1.2.4-r5"))},
	))
	wantNames(t, inv, "musl@1.2.4-r5 /lib/apk/db/installed")
}

func TestOpaqueDirectoryHidesLowerContent(t *testing.T) {
	lower := []entry{distInfo(sitePackages, "a", "1.0"), distInfo(sitePackages, "b", "2.0"),
		distInfo("usr/local/lib/python3.11/site-packages", "z", "9.0")}
	t.Run("marker first", func(t *testing.T) {
		inv := extract(t, layers(t, gzipped, lower,
			[]entry{dir(sitePackages), opaque(sitePackages), distInfo(sitePackages, "c", "3.0")}))
		wantNames(t, inv,
			"c@3.0 /"+sitePackages+"/c-3.0.dist-info/METADATA",
			"z@9.0 /usr/local/lib/python3.11/site-packages/z-9.0.dist-info/METADATA")
	})
	// The marker hides only lower layers' content, wherever the layer puts
	// it in the tar, including under a lower directory the layer writes in.
	t.Run("marker last", func(t *testing.T) {
		inv := extract(t, layers(t, gzipped,
			append(lower, file(sitePackages+"/b-2.0.dist-info/RECORD", "")),
			[]entry{distInfo(sitePackages, "c", "3.0"), file(sitePackages+"/b-2.0.dist-info/INSTALLER", "pip"),
				opaque(sitePackages)}))
		wantNames(t, inv,
			"c@3.0 /"+sitePackages+"/c-3.0.dist-info/METADATA",
			"z@9.0 /usr/local/lib/python3.11/site-packages/z-9.0.dist-info/METADATA")
	})
}

func TestAFileReplacesADirectory(t *testing.T) {
	inv := extract(t, layers(t, plain,
		[]entry{distInfo(sitePackages, "a", "1.0")},
		[]entry{file(sitePackages, "not a directory any more")}))
	wantNames(t, inv)
	// And a directory replaces a symlink.
	inv = extract(t, layers(t, plain,
		[]entry{symlink("lib", "usr/lib"), file("usr/lib/apk/db/installed", apkDB("musl@1"))},
		[]entry{dir("lib"), file("lib/apk/db/installed", apkDB("musl@2"))}))
	wantNames(t, inv, "musl@1 /usr/lib/apk/db/installed", "musl@2 /lib/apk/db/installed")
}

func TestSymlinkedParentsResolveInTheImage(t *testing.T) {
	// Merged /usr: an upper layer writing through a lower layer's symlink
	// writes into its target, as the runtime applying the layer does.
	inv := extract(t, layers(t, gzipped,
		[]entry{dir("usr/lib"), symlink("lib", "usr/lib"), file("usr/lib/os-release", alpineOSRelease),
			symlink("etc/os-release", "../usr/lib/os-release")},
		[]entry{file("lib/apk/db/installed", apkDB("musl@1.2.4-r4"))},
	))
	wantNames(t, inv, "musl@1.2.4-r4 /usr/lib/apk/db/installed")
	if inv.Distro.ID != "alpine" {
		t.Errorf("distro %+v (os-release through a symlink)", inv.Distro)
	}
}

func TestNamesAndLinksNeverLeaveTheImage(t *testing.T) {
	inv := extract(t, layers(t, gzipped,
		[]entry{
			// Absolute and ".." names are inside the image.
			file("/../../../etc/os-release", alpineOSRelease),
			// Symlinks that climb out of the root stop at it.
			symlink("usr/escape", "../../../../../../.."),
			symlink("var/abs", "/../../usr/lib"),
			file("usr/escape/lib/apk/db/installed", apkDB("musl@1")),
			file("var/abs/apk/db/installed", apkDB("busybox@2")),
		},
	))
	wantNames(t, inv, "busybox@2 /usr/lib/apk/db/installed", "musl@1 /lib/apk/db/installed")
	if inv.Distro.ID != "alpine" {
		t.Errorf("distro %+v", inv.Distro)
	}

	// os-release linking to itself (or the host's path) reads nothing,
	// though this machine has an /etc/os-release.
	inv = extract(t, layers(t, plain, []entry{
		symlink("etc/os-release", "../../../../etc/os-release"),
		symlink("usr/lib/os-release", "/usr/lib/os-release"),
	}))
	if inv.Distro != (Distro{}) {
		t.Errorf("distro %+v from a self-referencing link", inv.Distro)
	}
}

func TestSymlinkLoopsAreIgnored(t *testing.T) {
	inv := extract(t, layers(t, gzipped, []entry{
		symlink("a", "b"), symlink("b", "a"), symlink("self", "self/x"),
		file("a/lib/apk/db/installed", apkDB("musl@1")),
		file("self/lib/apk/db/installed", apkDB("musl@2")),
		hardlink("c", "a/x"),
		file("lib/apk/db/installed", apkDB("busybox@3")),
	}))
	wantNames(t, inv, "busybox@3 /lib/apk/db/installed")
	if len(inv.Warnings) != 2 || !strings.Contains(inv.Warnings[0], "too many levels of symbolic links") {
		t.Errorf("warnings %q", inv.Warnings)
	}
}

func TestHardLinksShareContent(t *testing.T) {
	status := "Package: tzdata\nStatus: install ok installed\nVersion: 2024a-0+deb12u1\nArchitecture: all\n"
	inv := extract(t, layers(t, gzipped,
		[]entry{file("etc/os-release", debianOSRelease), file("var/lib/dpkg/status", status),
			hardlink("var/lib/dpkg/status.d/tzdata", "/var/lib/dpkg/status")},
	))
	wantNames(t, inv, "tzdata@2024a-0+deb12u1 /var/lib/dpkg/status /var/lib/dpkg/status.d/tzdata")

	// The link keeps the content when its target is deleted or replaced.
	inv = extract(t, layers(t, gzipped,
		[]entry{file("etc/os-release", debianOSRelease), file("var/lib/dpkg/status", status),
			hardlink("var/lib/dpkg/status.d/tzdata", "var/lib/dpkg/status")},
		[]entry{whiteout("var/lib/dpkg", "status")},
	))
	wantNames(t, inv, "tzdata@2024a-0+deb12u1 /var/lib/dpkg/status.d/tzdata")

	// A link to nothing kept is no file.
	inv = extract(t, layers(t, plain, []entry{file("opt/other", apkDB("musl@1")),
		hardlink("lib/apk/db/installed", "opt/other"), hardlink("lib/apk/db/x", "missing")}))
	wantNames(t, inv)
}

func TestFilesOverTheSizeLimitAreReported(t *testing.T) {
	inv, err := Extract(context.Background(), layers(t, gzipped, []entry{
		file("lib/apk/db/installed", apkDB("musl@1")),
		file("app/package-lock.json", packageLock),
	}), Options{TempDir: t.TempDir(), MaxFileBytes: 100})
	if err != nil {
		t.Fatal(err)
	}
	wantNames(t, inv, "musl@1 /lib/apk/db/installed")
	if len(inv.Warnings) != 1 || !strings.Contains(inv.Warnings[0], fmt.Sprintf("/app/package-lock.json: %d bytes, over the limit of 100", len(packageLock))) {
		t.Errorf("warnings %q", inv.Warnings)
	}
}

func TestUnparsableDatabaseIsAWarning(t *testing.T) {
	inv := extract(t, layers(t, gzipped, []entry{
		file("app/package-lock.json", "{not json"),
		file("lib/apk/db/installed", apkDB("musl@1")),
	}))
	wantNames(t, inv, "musl@1 /lib/apk/db/installed")
	if len(inv.Warnings) != 1 || !strings.HasPrefix(inv.Warnings[0], "/app/package-lock.json: javascript/packagelockjson: ") {
		t.Errorf("warnings %q", inv.Warnings)
	}
}

func TestInvalidLayers(t *testing.T) {
	good := tarBytes(t, gzipped, file("lib/apk/db/installed", apkDB("musl@1")))
	for name, blob := range map[string][]byte{
		"not a tar":      bytes.Repeat([]byte("garbage!"), 200),
		"truncated gzip": good[:len(good)/2],
		"bad gzip":       append([]byte{0x1f, 0x8b, 8, 0}, bytes.Repeat([]byte{0xff}, 100)...),
		"bad zstd":       append([]byte{0x28, 0xb5, 0x2f, 0xfd}, bytes.Repeat([]byte{0xff}, 100)...),
		"truncated tar":  tarBytes(t, plain, file("a", strings.Repeat("x", 2000)))[:1024],
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Extract(context.Background(), []Layer{blobLayer(good), blobLayer(blob)}, Options{TempDir: t.TempDir()})
			if !errors.Is(err, ErrInvalidLayer) {
				t.Errorf("err = %v, want ErrInvalidLayer", err)
			}
		})
	}
	// An empty blob is an empty layer.
	inv := extract(t, []Layer{blobLayer(good), blobLayer(nil)})
	wantNames(t, inv, "musl@1 /lib/apk/db/installed")
}

type failingReader struct {
	r   io.Reader
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if errors.Is(err, io.EOF) {
		return n, f.err
	}
	return n, err
}

func TestBlobErrorsAreNotInvalidLayers(t *testing.T) {
	storage := errors.New("storage is down")
	good := tarBytes(t, gzipped, file("lib/apk/db/installed", apkDB("musl@1")))
	for name, l := range map[string]Layer{
		"open": {Digest: "sha256:a", Open: func(context.Context) (io.ReadCloser, error) { return nil, storage }},
		"read": {Digest: "sha256:b", Open: func(context.Context) (io.ReadCloser, error) {
			return io.NopCloser(&failingReader{r: bytes.NewReader(good[:len(good)/2]), err: storage}), nil
		}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Extract(context.Background(), []Layer{l}, Options{TempDir: t.TempDir()})
			if !errors.Is(err, storage) || errors.Is(err, ErrInvalidLayer) {
				t.Errorf("err = %v", err)
			}
		})
	}
}

func TestLimits(t *testing.T) {
	many := []entry{}
	for i := range 50 {
		many = append(many, dir("d/"+strings.Repeat("x", i+1)))
	}
	ls := layers(t, gzipped, many, []entry{file("lib/apk/db/installed", apkDB("musl@1")),
		file("app/package-lock.json", packageLock)})
	for name, o := range map[string]Options{
		"entries":    {MaxEntries: 20},
		"kept bytes": {MaxKeptBytes: 200},
		"read bytes": {MaxReadBytes: 10 << 10},
	} {
		t.Run(name, func(t *testing.T) {
			o.TempDir = t.TempDir()
			_, err := Extract(context.Background(), ls, o)
			if !errors.Is(err, ErrLimit) {
				t.Errorf("err = %v, want ErrLimit", err)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Extract(ctx, ls, Options{TempDir: t.TempDir()}); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: err = %v", err)
	}
}

func TestInventoryJSONRoundTrip(t *testing.T) {
	inv := extract(t, layers(t, gzipped, []entry{file("etc/os-release", alpineOSRelease),
		file("lib/apk/db/installed", apkInstalled)}))
	inv.Platform = "linux/amd64"
	b, err := json.Marshal(inv)
	if err != nil {
		t.Fatal(err)
	}
	var back Inventory
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, inv) {
		t.Errorf("round trip:\n got %+v\nwant %+v", back, *inv)
	}
}

func TestExtractOptionsPlatform(t *testing.T) {
	inv, err := Extract(context.Background(), nil, Options{Platform: "linux/arm64/v8", TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if inv.Platform != "linux/arm64/v8" || inv.Packages == nil || len(inv.Packages) != 0 {
		t.Errorf("%+v", inv)
	}
}

// Executables are kept only with a build-information marker, found
// wherever it lies, across read boundaries included.
func TestBinariesKeptOnlyWithAMarker(t *testing.T) {
	sp, err := newSpool(t.TempDir(), 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	const chunk = 4096
	s := &squasher{sp: sp, scratch: make([]byte, chunk)}
	marker := []byte("\xff Go buildinf:")
	elf := func(size, at int) []byte {
		b := append([]byte("\x7fELF\x02\x01\x01\x00"), make([]byte, size)...)
		if at >= 0 {
			copy(b[at:], marker)
		}
		return b
	}
	for name, c := range map[string]struct {
		body []byte
		keep bool
	}{
		"no marker":           {elf(3*chunk, -1), false},
		"marker in a chunk":   {elf(3*chunk, chunk+100), true},
		"marker across reads": {elf(3*chunk, 8+chunk-5), true},
		"marker at the end":   {elf(3*chunk, 3*chunk+8-len(marker)), true},
		"not an executable":   {append([]byte("#!/bin/sh\n"), marker...), false},
		"empty":               {nil, false},
		"cargo-auditable":     {append(elf(100, -1), ".dep-v0"...), true},
	} {
		keep, err := s.spoolFile(bytes.NewReader(c.body), true)
		if err != nil || keep != c.keep {
			t.Errorf("%s: keep %v, %v; want %v", name, keep, err, c.keep)
		}
		if keep {
			off, size, err := sp.commit()
			got, _ := io.ReadAll(sp.section(off, size))
			if err != nil || !bytes.Equal(got, c.body) {
				t.Errorf("%s: kept content differs (%v)", name, err)
			}
		}
	}
}
