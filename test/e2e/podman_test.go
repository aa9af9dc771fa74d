package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPodmanPushPull drives podman (with its own storage under the test's
// temporary directory): a push without credentials is refused; after login
// an image built FROM scratch is pushed as OCI and as Docker schema 2, each
// served with its media type and the digest podman reports, removed locally
// and pulled back by tag and by digest.
func TestPodmanPushPull(t *testing.T) {
	s := startWharf(t)
	ce := newClientEnv(t)
	store := t.TempDir()
	base := []string{"--root", filepath.Join(store, "root"), "--runroot", filepath.Join(store, "run"),
		"--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "file"}
	podman := tool(t, "podman")
	// podman insists that REGISTRY_AUTH_FILE exists, even before a login.
	writeFile(t, filepath.Join(ce.home, "containers-auth.json"), "{}")
	spec := cmdSpec{env: ce.env, timeout: 3 * time.Minute}
	p := func(args ...string) string { t.Helper(); return mustRun(t, spec, podman, append(base, args...)...) }
	t.Cleanup(func() {
		_, _, _ = run(t, cmdSpec{env: ce.env, timeout: time.Minute}, podman, append(base, "rmi", "--all", "--force")...)
	})

	nonce := make([]byte, 6)
	_, _ = rand.Read(nonce)
	ctxDir := t.TempDir()
	writeFile(t, filepath.Join(ctxDir, "hello.txt"), "podman e2e "+hex.EncodeToString(nonce)+"\n")
	writeFile(t, filepath.Join(ctxDir, "Containerfile"), "FROM scratch\nCOPY hello.txt /hello.txt\n")
	ref := s.Ref("e2e/podman", "oci")
	p("build", "-q", "-t", ref, ctxDir)

	if _, stderr, err := run(t, spec, podman, append(base, "push", "--tls-verify=false", ref)...); err == nil ||
		!strings.Contains(strings.ToLower(stderr), "unauthorized") {
		t.Fatalf("push without credentials: err %v, stderr %q; want unauthorized", err, stderr)
	}
	mustRun(t, cmdSpec{env: ce.env, stdin: s.Pass}, podman, append(base, "login", "--tls-verify=false", "-u", s.User, "--password-stdin", s.Addr)...)

	// Each format is pushed under a tag of its name.
	for _, tc := range []struct{ format, mediaType string }{
		{"oci", "application/vnd.oci.image.manifest.v1+json"},
		{"v2s2", "application/vnd.docker.distribution.manifest.v2+json"},
	} {
		r := s.Ref("e2e/podman", tc.format)
		if tc.format != "oci" {
			p("tag", ref, r)
		}
		digestFile := filepath.Join(store, tc.format+".digest")
		p("push", "--tls-verify=false", "--format", tc.format, "--digestfile", digestFile, r)
		b, err := os.ReadFile(digestFile)
		if err != nil {
			t.Fatal(err)
		}
		pushed := strings.TrimSpace(string(b))
		res, body := s.do(t, "GET", "/v2/e2e/podman/manifests/"+tc.format, manifestAccept)
		if got := res.Header.Get("Content-Type"); got != tc.mediaType {
			t.Errorf("%s: served as %s, want %s", tc.format, got, tc.mediaType)
		}
		if d := sha256Digest(body); d != pushed {
			t.Errorf("%s: registry serves %s, podman pushed %s", tc.format, d, pushed)
		}
		p("rmi", "--force", r)
		p("pull", "--tls-verify=false", s.Ref("e2e/podman", pushed))
		if out := p("image", "inspect", "--format", "{{range .RepoDigests}}{{.}} {{end}}", s.Ref("e2e/podman", pushed)); !strings.Contains(out, "/e2e/podman@"+pushed) {
			t.Errorf("%s: podman's images lack %s:\n%s", tc.format, pushed, out)
		}
		p("rmi", "--force", s.Ref("e2e/podman", pushed))
		p("pull", "--tls-verify=false", r) // by tag; the next round tags it anew
	}
}
