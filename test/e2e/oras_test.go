package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

const (
	sbomArtifactType  = "application/vnd.example.sbom"
	thingArtifactType = "application/vnd.example.thing"
	ociIndexType      = "application/vnd.oci.image.index.v1+json"
	ociManifestType   = "application/vnd.oci.image.manifest.v1+json"
)

// orasDescriptor is the JSON that `oras push|attach|discover --format json`
// print.
type orasDescriptor struct {
	Reference    string           `json:"reference"`
	MediaType    string           `json:"mediaType"`
	Digest       string           `json:"digest"`
	Size         int64            `json:"size"`
	ArtifactType string           `json:"artifactType"`
	Referrers    []orasDescriptor `json:"referrers"`
}

func parseORAS(t *testing.T, out string) orasDescriptor {
	t.Helper()
	var d orasDescriptor
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatalf("parsing oras JSON output: %v\n%s", err, out)
	}
	return d
}

// TestORASReferrers pushes an artifact with oras, attaches an SBOM-typed
// artifact to it and finds that referrer through the referrers API, both
// with `oras discover` and with direct requests.
func TestORASReferrers(t *testing.T) {
	s := startWharf(t)
	oras := tool(t, "oras")
	ce := newClientEnv(t)
	dir := t.TempDir()
	o := func(args ...string) string {
		t.Helper()
		args = append(args, "--plain-http", "-u", s.User, "--password-stdin",
			"--registry-config", filepath.Join(ce.home, "oras-auth.json"))
		return mustRun(t, cmdSpec{env: ce.env, dir: dir, stdin: s.Pass}, oras, args...)
	}
	// Force the referrers API: the tag fallback scheme would hide a missing API.
	api := "--distribution-spec=v1.1-referrers-api"

	writeFile(t, filepath.Join(dir, "artifact.txt"), "the subject artifact\n")
	writeFile(t, filepath.Join(dir, "sbom.json"), `{"spdxVersion":"SPDX-2.3","name":"wharf-e2e"}`+"\n")
	ref := s.Ref("e2e/oras", "v1")

	subject := parseORAS(t, o("push", "--format", "json", "--artifact-type", thingArtifactType, ref, "artifact.txt:text/plain"))
	if subject.Digest == "" {
		t.Fatal("oras push printed no digest")
	}
	if _, d := s.getManifest(t, "e2e/oras", "v1"); d != subject.Digest {
		t.Fatalf("e2e/oras:v1 resolves to %s, oras pushed %s", d, subject.Digest)
	}

	sbom := parseORAS(t, o("attach", api, "--format", "json", "--artifact-type", sbomArtifactType, ref, "sbom.json:application/spdx+json"))
	if sbom.Digest == "" || sbom.Digest == subject.Digest {
		t.Fatalf("oras attach printed digest %q", sbom.Digest)
	}
	raw, _ := s.getManifest(t, "e2e/oras", sbom.Digest)
	if m := parseManifest(t, raw); m.Subject == nil || m.Subject.Digest != subject.Digest || m.ArtifactType != sbomArtifactType {
		t.Fatalf("referrer manifest has subject %+v, artifactType %q", m.Subject, m.ArtifactType)
	}

	// oras discover finds exactly the attached artifact.
	found := parseORAS(t, o("discover", api, "--format", "json", ref))
	if found.Digest != subject.Digest {
		t.Errorf("oras discover reports subject %s, want %s", found.Digest, subject.Digest)
	}
	if len(found.Referrers) != 1 || found.Referrers[0].Digest != sbom.Digest || found.Referrers[0].ArtifactType != sbomArtifactType {
		t.Errorf("oras discover referrers = %+v, want one %s with artifactType %s", found.Referrers, sbom.Digest, sbomArtifactType)
	}
	filtered := parseORAS(t, o("discover", api, "--format", "json", "--artifact-type", "application/vnd.example.other", ref))
	if len(filtered.Referrers) != 0 {
		t.Errorf("oras discover --artifact-type other = %+v, want none", filtered.Referrers)
	}

	// The referrers API directly.
	idx := getReferrers(t, s, "e2e/oras", subject.Digest)
	if len(idx.Manifests) != 1 {
		t.Fatalf("referrers of %s: %d descriptors, want 1: %+v", subject.Digest, len(idx.Manifests), idx.Manifests)
	}
	got := idx.Manifests[0]
	if got.Digest != sbom.Digest || got.ArtifactType != sbomArtifactType || got.MediaType != ociManifestType || got.Size != int64(len(raw)) {
		t.Errorf("referrer descriptor %+v, want digest %s, artifactType %s, mediaType %s, size %d",
			got, sbom.Digest, sbomArtifactType, ociManifestType, len(raw))
	}
	// Filtering by artifactType: a registry that applies the filter says so
	// in OCI-Filters-Applied; one that does not returns the full list.
	resp, body := s.do(t, http.MethodGet, "/v2/e2e/oras/referrers/"+subject.Digest+"?artifactType=application/vnd.example.other", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("filtered referrers: %s: %s", resp.Status, body)
	}
	var fidx ociManifest
	if err := json.Unmarshal(body, &fidx); err != nil {
		t.Fatalf("filtered referrers: %v: %s", err, body)
	}
	if resp.Header.Get("OCI-Filters-Applied") == "artifactType" {
		if len(fidx.Manifests) != 0 {
			t.Errorf("filtered referrers (filter applied) lists %+v, want none", fidx.Manifests)
		}
	} else if len(fidx.Manifests) != 1 {
		t.Errorf("referrers without the filter applied lists %d descriptors, want 1", len(fidx.Manifests))
	}
	// A subject with no referrers (that does not even exist) gives an empty index, not 404.
	none := sha256Digest([]byte("no such manifest"))
	if idx := getReferrers(t, s, "e2e/oras", none); len(idx.Manifests) != 0 {
		t.Errorf("referrers of an unknown digest: %+v, want none", idx.Manifests)
	}

	// oras pull brings the files back.
	out := filepath.Join(dir, "pulled")
	o("pull", "-o", out, ref)
	o("pull", "-o", filepath.Join(out, "sbom"), s.Ref("e2e/oras", sbom.Digest))
	for _, f := range []struct{ got, want string }{
		{filepath.Join(out, "artifact.txt"), filepath.Join(dir, "artifact.txt")},
		{filepath.Join(out, "sbom", "sbom.json"), filepath.Join(dir, "sbom.json")},
	} {
		g, err := os.ReadFile(f.got)
		if err != nil {
			t.Errorf("oras pull: %v", err)
			continue
		}
		w, _ := os.ReadFile(f.want)
		if string(g) != string(w) {
			t.Errorf("oras pull: %s = %q, want %q", f.got, g, w)
		}
	}
}

// getReferrers calls the referrers API and checks the response shape.
func getReferrers(t *testing.T, s *wharfServer, repo, digest string) ociManifest {
	t.Helper()
	path := "/v2/" + repo + "/referrers/" + digest
	resp, body := s.do(t, http.MethodGet, path, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", path, resp.Status, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != ociIndexType {
		t.Errorf("GET %s: Content-Type %q, want %q", path, ct, ociIndexType)
	}
	idx := parseManifest(t, body)
	if idx.SchemaVersion != 2 || idx.MediaType != ociIndexType {
		t.Errorf("GET %s: schemaVersion %d mediaType %q, want an OCI index", path, idx.SchemaVersion, idx.MediaType)
	}
	return idx
}
