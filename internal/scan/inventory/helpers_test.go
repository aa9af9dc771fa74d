package inventory

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// entry is one tar entry of a test layer.
type entry struct {
	name     string
	typ      byte // tar.TypeReg when 0
	body     []byte
	mode     int64
	linkname string
}

func file(name, body string) entry { return entry{name: name, body: []byte(body)} }

func binFile(name string, body []byte, mode int64) entry {
	return entry{name: name, body: body, mode: mode}
}
func dir(name string) entry { return entry{name: name, typ: tar.TypeDir} }
func symlink(name, target string) entry {
	return entry{name: name, typ: tar.TypeSymlink, linkname: target}
}
func hardlink(name, target string) entry {
	return entry{name: name, typ: tar.TypeLink, linkname: target}
}

// whiteout deletes path from the layers below.
func whiteout(dirName, name string) entry {
	if dirName != "" {
		dirName += "/"
	}
	return file(dirName+".wh."+name, "")
}

func opaque(dirName string) entry { return file(dirName+"/.wh..wh..opq", "") }

type compression int

const (
	plain compression = iota
	gzipped
	zstded
)

func (c compression) String() string { return [...]string{"tar", "tar+gzip", "tar+zstd"}[c] }

// tarBytes builds a layer blob.
func tarBytes(t testing.TB, c compression, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w io.Writer = &buf
	var closer io.Closer
	switch c {
	case gzipped:
		zw := gzip.NewWriter(&buf)
		w, closer = zw, zw
	case zstded:
		zw, err := zstd.NewWriter(&buf)
		if err != nil {
			t.Fatal(err)
		}
		w, closer = zw, zw
	}
	tw := tar.NewWriter(w)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Linkname: e.linkname, Format: tar.FormatPAX}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
			if h.Typeflag == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write(e.body); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if closer != nil {
		if err := closer.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func blobLayer(b []byte) Layer {
	return Layer{
		Digest: "sha256:test",
		Open: func(context.Context) (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(b)), nil
		},
	}
}

// layers builds one test layer per entry list.
func layers(t testing.TB, c compression, ls ...[]entry) []Layer {
	t.Helper()
	var out []Layer
	for _, es := range ls {
		out = append(out, blobLayer(tarBytes(t, c, es...)))
	}
	return out
}

func extract(t testing.TB, ls []Layer) *Inventory {
	t.Helper()
	inv, err := Extract(context.Background(), ls, Options{TempDir: t.TempDir()})
	if err != nil {
		t.Fatalf("Extract: %v", err)
	}
	return inv
}

// zipBytes builds a zip (a JAR) of name/content pairs.
func zipBytes(t testing.TB, files ...[2]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		w, err := zw.Create(f[0])
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(w, f[1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// byName indexes an inventory's packages by ecosystem/name.
func byName(inv *Inventory) map[string]Package {
	m := map[string]Package{}
	for _, p := range inv.Packages {
		m[p.Ecosystem+"/"+p.Name] = p
	}
	return m
}

const debianOSRelease = `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
`

const alpineOSRelease = `NAME="Alpine Linux"
ID=alpine
VERSION_ID=3.19.1
PRETTY_NAME="Alpine Linux v3.19"
`
