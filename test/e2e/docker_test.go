package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// requireDocker returns the docker CLI when a daemon answers. Without one the
// test is skipped, unless WHARF_E2E_REQUIRE_DOCKER=1 (scripts/test.sh sets it)
// makes that a failure.
func requireDocker(t *testing.T, env []string) string {
	t.Helper()
	docker, err := exec.LookPath("docker")
	if err == nil {
		_, _, err = run(t, cmdSpec{env: env, timeout: 30 * time.Second}, docker, "version", "--format", "{{.Server.Version}}")
	}
	if err != nil {
		if os.Getenv("WHARF_E2E_REQUIRE_DOCKER") == "1" {
			t.Fatalf("docker daemon not usable (WHARF_E2E_REQUIRE_DOCKER=1): %v", err)
		}
		t.Skipf("docker daemon not usable, skipping (set WHARF_E2E_REQUIRE_DOCKER=1 to fail instead): %v", err)
	}
	return docker
}

var pushDigestRE = regexp.MustCompile(`digest: (sha256:[0-9a-f]{64}) size: \d+`)

// TestDockerPushPull pushes an image built FROM scratch with the real docker
// client, removes it locally, checks that pulling without credentials is
// refused, then pulls it back and checks that the image ID and repo digest
// are unchanged.
func TestDockerPushPull(t *testing.T) {
	s := startWharf(t)
	ce := newClientEnv(t)
	env := append(ce.env, "DOCKER_BUILDKIT=0") // the classic builder needs no buildx plugin
	docker := requireDocker(t, env)
	spec := cmdSpec{env: env}

	// A build context with two small files; the nonce makes the image unique.
	nonce := make([]byte, 8)
	_, _ = rand.Read(nonce)
	data := make([]byte, 64<<10)
	_, _ = rand.Read(data)
	ctxDir := t.TempDir()
	writeFile(t, filepath.Join(ctxDir, "hello.txt"), "hello from wharf e2e "+hex.EncodeToString(nonce)+"\n")
	writeFile(t, filepath.Join(ctxDir, "data.bin"), string(data))
	writeFile(t, filepath.Join(ctxDir, "Dockerfile"),
		"FROM scratch\nCOPY hello.txt /hello.txt\nCOPY data.bin /data/data.bin\nLABEL org.example.e2e=wharf\n")

	local := "wharf-e2e-" + hex.EncodeToString(nonce) + ":v1"
	remote := s.Ref("e2e/app", "v1")
	mustRun(t, spec, docker, "build", "-q", "-t", local, ctxDir)
	imageID := mustRun(t, spec, docker, "image", "inspect", "--format", "{{.Id}}", local)
	t.Cleanup(func() {
		// Remove every tag of the image this test created, nothing else.
		_, _, _ = run(t, cmdSpec{env: env, timeout: time.Minute}, docker, "rmi", "-f", imageID)
	})
	mustRun(t, spec, docker, "tag", local, remote)

	mustRun(t, cmdSpec{env: env, stdin: s.Pass}, docker, "login", s.Addr, "-u", s.User, "--password-stdin")
	out := mustRun(t, cmdSpec{env: env, timeout: 5 * time.Minute}, docker, "push", remote)
	m := pushDigestRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no digest in docker push output:\n%s", out)
	}
	pushed := m[1]

	// The registry serves exactly the manifest docker pushed.
	_, served := s.getManifest(t, "e2e/app", "v1")
	if served != pushed {
		t.Fatalf("registry serves e2e/app:v1 as %s, docker pushed %s", served, pushed)
	}

	// Remove the image locally.
	mustRun(t, spec, docker, "rmi", remote, local)
	if _, _, err := run(t, spec, docker, "image", "inspect", imageID); err == nil {
		t.Fatalf("image %s still present after docker rmi", imageID)
	}

	// Without credentials the pull is refused.
	mustRun(t, spec, docker, "logout", s.Addr)
	if _, _, err := run(t, cmdSpec{env: env, timeout: 2 * time.Minute}, docker, "pull", remote); err == nil {
		t.Fatalf("docker pull %s without credentials succeeded", remote)
	}

	// With them it comes back identical.
	mustRun(t, cmdSpec{env: env, stdin: s.Pass}, docker, "login", s.Addr, "-u", s.User, "--password-stdin")
	mustRun(t, cmdSpec{env: env, timeout: 5 * time.Minute}, docker, "pull", remote)
	gotID := mustRun(t, spec, docker, "image", "inspect", "--format", "{{.Id}}", remote)
	if gotID != imageID {
		t.Errorf("pulled image ID %s, pushed %s", gotID, imageID)
	}
	repoDigests := strings.Fields(mustRun(t, spec, docker, "image", "inspect", "--format",
		`{{range .RepoDigests}}{{.}} {{end}}`, remote))
	want := s.Addr + "/e2e/app@" + pushed
	if !slices.Contains(repoDigests, want) {
		t.Errorf("RepoDigests %v does not contain %s", repoDigests, want)
	}

	// Pulling by digest works too and resolves to the same image.
	byDigest := s.Ref("e2e/app", pushed)
	mustRun(t, cmdSpec{env: env, timeout: 5 * time.Minute}, docker, "pull", byDigest)
	if id := mustRun(t, spec, docker, "image", "inspect", "--format", "{{.Id}}", byDigest); id != imageID {
		t.Errorf("image pulled by digest has ID %s, want %s", id, imageID)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
