package e2e

import (
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestSkopeoCopyMultiPlatform builds a two-platform OCI index (the images
// with crane, the index with regctl), copies it between repositories with
// `skopeo copy --all` and with `regctl image copy`, and checks that the index
// digest is unchanged and that both children (and their blobs) resolve at
// each destination.
func TestSkopeoCopyMultiPlatform(t *testing.T) {
	s := startWharf(t)
	crane := tool(t, "crane")
	skopeo := tool(t, "skopeo")
	regctl := tool(t, "regctl")
	ce := newClientEnv(t)
	spec := cmdSpec{env: ce.env}
	c := func(args ...string) string {
		t.Helper()
		return mustRun(t, spec, crane, append(args, "--insecure")...)
	}
	mustRun(t, cmdSpec{env: ce.env, stdin: s.Pass}, crane, "auth", "login", s.Addr, "-u", s.User, "--password-stdin")

	// Two single-platform images with different content and platforms.
	dir := t.TempDir()
	platforms := []string{"linux/amd64", "linux/arm64"}
	children := map[string]string{} // platform -> manifest digest
	var childRefs []string
	for _, p := range platforms {
		arch := strings.TrimPrefix(p, "linux/")
		layer := filepath.Join(dir, arch+".tar")
		writeLayerTar(t, layer, map[string]string{"arch.txt": arch + "\n", "etc/hostname": "wharf-" + arch + "\n"})
		base := s.Ref("e2e/multi", arch+"-base")
		c("append", "--oci-empty-base", "-f", layer, "-t", base)
		ref := s.Ref("e2e/multi", arch)
		children[p] = craneDigest(t, c("mutate", "--set-platform", p, "-t", ref, base))
		childRefs = append(childRefs, "--ref", ref)
	}
	// The index is made by regctl: crane v0.22 also writes artifactType into
	// index descriptors, which skopeo 1.9 cannot carry over unchanged.
	host := "reg=" + s.Addr + ",user=" + s.User + ",pass=" + s.Pass + ",tls=disabled"
	r := func(args ...string) string {
		t.Helper()
		return mustRun(t, cmdSpec{env: ce.env, timeout: 5 * time.Minute}, regctl, append([]string{"--host", host}, args...)...)
	}
	src := s.Ref("e2e/multi", "v1")
	r(append([]string{"index", "create", src}, childRefs...)...)
	indexDigest := r("image", "digest", src)

	raw, d := s.getManifest(t, "e2e/multi", "v1")
	if d != indexDigest {
		t.Fatalf("e2e/multi:v1 resolves to %s, regctl reports %s", d, indexDigest)
	}
	checkIndex(t, parseManifest(t, raw), children)

	// skopeo copy --all.
	creds := s.User + ":" + s.Pass
	policy := filepath.Join(ce.home, "policy.json")
	writeFile(t, policy, `{"default":[{"type":"insecureAcceptAnything"}]}`)
	mustRun(t, cmdSpec{env: ce.env, timeout: 5 * time.Minute}, skopeo, "--policy", policy, "copy", "--all", "--preserve-digests",
		"--src-creds", creds, "--dest-creds", creds, "--src-tls-verify=false", "--dest-tls-verify=false",
		"docker://"+src, "docker://"+s.Ref("e2e/multi-skopeo", "v1"))
	checkCopy(t, s, "e2e/multi-skopeo", "v1", indexDigest, children)

	// regctl image copy (all platforms by default).
	r("image", "copy", src, s.Ref("e2e/multi-regctl", "v1"))
	checkCopy(t, s, "e2e/multi-regctl", "v1", indexDigest, children)
	if got := r("image", "digest", s.Ref("e2e/multi-regctl", "v1")); got != indexDigest {
		t.Errorf("regctl image digest = %s, want %s", got, indexDigest)
	}
	// Platform resolution through the copied index.
	for _, p := range platforms {
		if got := r("image", "digest", "--platform", p, s.Ref("e2e/multi-regctl", "v1")); got != children[p] {
			t.Errorf("regctl image digest --platform %s = %s, want %s", p, got, children[p])
		}
		if got := c("digest", "--platform", p, s.Ref("e2e/multi-skopeo", "v1")); got != children[p] {
			t.Errorf("crane digest --platform %s (skopeo copy) = %s, want %s", p, got, children[p])
		}
	}
}

// checkIndex asserts that an index lists exactly the given platform children.
func checkIndex(t *testing.T, idx ociManifest, children map[string]string) {
	t.Helper()
	if idx.MediaType != ociIndexType || len(idx.Manifests) != len(children) {
		t.Fatalf("index: mediaType %q with %d manifests, want %s with %d", idx.MediaType, len(idx.Manifests), ociIndexType, len(children))
	}
	for _, m := range idx.Manifests {
		if m.Platform == nil {
			t.Errorf("index entry %s has no platform", m.Digest)
			continue
		}
		p := m.Platform.OS + "/" + m.Platform.Architecture
		if children[p] != m.Digest {
			t.Errorf("index entry for %s is %s, want %s", p, m.Digest, children[p])
		}
	}
}

// checkCopy asserts that repo:tag is the index with the given digest and that
// every child manifest, config and layer resolves in repo.
func checkCopy(t *testing.T, s *wharfServer, repo, tag, indexDigest string, children map[string]string) {
	t.Helper()
	raw, d := s.getManifest(t, repo, tag)
	if d != indexDigest {
		t.Fatalf("%s:%s has digest %s after copy, want %s", repo, tag, d, indexDigest)
	}
	checkIndex(t, parseManifest(t, raw), children)
	var want []string
	for _, dg := range children {
		want = append(want, dg)
	}
	slices.Sort(want)
	for _, dg := range want {
		craw, _ := s.getManifest(t, repo, dg)
		m := parseManifest(t, craw)
		for _, b := range append([]ociDescriptor{m.Config}, m.Layers...) {
			if code := s.headStatus(t, "/v2/"+repo+"/blobs/"+b.Digest); code != http.StatusOK {
				t.Errorf("%s: blob %s of child %s: HEAD %d, want 200", repo, b.Digest, dg, code)
			}
		}
	}
}
