package e2e

import (
	"archive/tar"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// ociManifest is the part of an image manifest or index the tests look at.
type ociManifest struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType"`
	ArtifactType  string            `json:"artifactType"`
	Config        ociDescriptor     `json:"config"`
	Layers        []ociDescriptor   `json:"layers"`
	Manifests     []ociDescriptor   `json:"manifests"`
	Subject       *ociDescriptor    `json:"subject"`
	Annotations   map[string]string `json:"annotations"`
}

type ociDescriptor struct {
	MediaType    string `json:"mediaType"`
	Digest       string `json:"digest"`
	Size         int64  `json:"size"`
	ArtifactType string `json:"artifactType"`
	Platform     *struct {
		OS           string `json:"os"`
		Architecture string `json:"architecture"`
	} `json:"platform"`
}

func parseManifest(t *testing.T, raw []byte) ociManifest {
	t.Helper()
	var m ociManifest
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("parsing manifest: %v\n%s", err, raw)
	}
	return m
}

// writeLayerTar writes an uncompressed layer tarball holding files.
func writeLayerTar(t *testing.T, path string, files map[string]string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(f)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		hdr := &tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n])), ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(files[n])); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// craneDigest extracts the digest from crane's "registry/repo@sha256:..." output.
func craneDigest(t *testing.T, out string) string {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	last := lines[len(lines)-1]
	_, d, ok := strings.Cut(last, "@")
	if !ok || !strings.HasPrefix(d, "sha256:") {
		t.Fatalf("no digest in crane output %q", out)
	}
	return d
}

// TestCrane drives crane through login, push (append), digest, manifest,
// blob, pull to an OCI layout and push back, copy, tag, ls and delete.
func TestCrane(t *testing.T) {
	s := startWharf(t)
	crane := tool(t, "crane")
	ce := newClientEnv(t)
	spec := cmdSpec{env: ce.env}
	c := func(args ...string) string {
		t.Helper()
		return mustRun(t, spec, crane, append(args, "--insecure")...)
	}

	// Anonymous access is refused.
	if _, _, err := run(t, spec, crane, "ls", "--insecure", s.Addr+"/e2e/crane"); err == nil {
		t.Fatal("crane ls without credentials succeeded")
	}
	mustRun(t, cmdSpec{env: ce.env, stdin: s.Pass}, crane, "auth", "login", s.Addr, "-u", s.User, "--password-stdin")

	dir := t.TempDir()
	layer := filepath.Join(dir, "layer.tar")
	writeLayerTar(t, layer, map[string]string{"etc/motd": "crane e2e\n", "app/data.txt": strings.Repeat("wharf ", 1000)})
	ref := s.Ref("e2e/crane", "v1")
	pushed := craneDigest(t, c("append", "--oci-empty-base", "-f", layer, "-t", ref))

	if d := c("digest", ref); d != pushed {
		t.Errorf("crane digest %s = %s, append reported %s", ref, d, pushed)
	}
	raw := mustRunRaw(t, spec, crane, "manifest", "--insecure", ref)
	if d := sha256Digest([]byte(raw)); d != pushed {
		t.Errorf("crane manifest bytes hash to %s, want %s", d, pushed)
	}
	m := parseManifest(t, []byte(raw))
	if m.MediaType != "application/vnd.oci.image.manifest.v1+json" || len(m.Layers) != 1 {
		t.Fatalf("unexpected manifest: mediaType %q, %d layers", m.MediaType, len(m.Layers))
	}
	// The layer blob comes back byte for byte (crane compresses it on append).
	blob := mustRunRaw(t, cmdSpec{env: ce.env, binary: true}, crane, "blob", "--insecure", s.Ref("e2e/crane", m.Layers[0].Digest))
	if d := sha256Digest([]byte(blob)); d != m.Layers[0].Digest || int64(len(blob)) != m.Layers[0].Size {
		t.Errorf("blob %s: got %d bytes hashing to %s, want %d bytes", m.Layers[0].Digest, len(blob), d, m.Layers[0].Size)
	}

	// Pull to an OCI layout and push it to another repository: same digest.
	layout := filepath.Join(dir, "layout")
	c("pull", "--format=oci", ref, layout)
	rePushed := craneDigest(t, c("push", layout, s.Ref("e2e/crane-pushed", "v1")))
	if rePushed != pushed {
		t.Errorf("pull+push changed the digest: %s -> %s", pushed, rePushed)
	}

	// Copy between repositories.
	copyRef := s.Ref("e2e/crane-copy", "v1")
	c("copy", ref, copyRef)
	if d := c("digest", copyRef); d != pushed {
		t.Errorf("crane copy: destination digest %s, want %s", d, pushed)
	}

	// Tags.
	c("tag", ref, "v2")
	c("tag", ref, "latest")
	tags := strings.Fields(c("ls", s.Addr+"/e2e/crane"))
	sort.Strings(tags)
	if want := []string{"latest", "v1", "v2"}; !slices.Equal(tags, want) {
		t.Errorf("crane ls e2e/crane = %v, want %v", tags, want)
	}
	if d := c("digest", s.Ref("e2e/crane", "v2")); d != pushed {
		t.Errorf("e2e/crane:v2 = %s, want %s", d, pushed)
	}

	// Delete the copy by digest: the manifest is gone there, kept in the source.
	c("delete", s.Ref("e2e/crane-copy", pushed))
	if code := s.headStatus(t, "/v2/e2e/crane-copy/manifests/"+pushed); code != http.StatusNotFound {
		t.Errorf("HEAD deleted manifest: %d, want 404", code)
	}
	if code := s.headStatus(t, "/v2/e2e/crane/manifests/"+pushed); code != http.StatusOK {
		t.Errorf("HEAD source manifest after deleting the copy: %d, want 200", code)
	}
}
