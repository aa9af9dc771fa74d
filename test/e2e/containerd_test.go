package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// containerdSockets are where a containerd listens on these machines: a
// system one, or the one the docker engine starts for itself.
var containerdSockets = []string{"/run/containerd/containerd.sock", "/var/run/docker/containerd/containerd.sock"}

// requireContainerd returns containerd's ctr client and the address of a
// containerd that answers. Without one the test is skipped, unless
// WHARF_E2E_REQUIRE_DOCKER=1 (the docker engine brings containerd) makes
// that a failure.
func requireContainerd(t *testing.T, env []string) (ctr, addr string) {
	t.Helper()
	ctr, err := exec.LookPath("ctr")
	if err == nil {
		err = os.ErrNotExist
		for _, s := range containerdSockets {
			if _, serr := os.Stat(s); serr != nil {
				continue
			}
			if _, _, err = run(t, cmdSpec{env: env, timeout: 30 * time.Second}, ctr, "--address", s, "version"); err == nil {
				return ctr, s
			}
		}
	}
	if os.Getenv("WHARF_E2E_REQUIRE_DOCKER") == "1" {
		t.Fatalf("no usable containerd (ctr, %v) with WHARF_E2E_REQUIRE_DOCKER=1: %v", containerdSockets, err)
	}
	t.Skipf("no usable containerd (ctr, %v), skipping: %v", containerdSockets, err)
	return "", ""
}

// TestContainerdPullPush drives containerd, the runtime under Kubernetes
// nodes, through its ctr client: a pull without credentials is refused, a
// pull with the key pair and one with an ECR token (user AWS, as the
// kubelet's ECR credential provider passes it) fetch and unpack the image
// crane pushed, and a push of it under another name keeps its digest. It
// works in a namespace of its own and removes it afterwards.
func TestContainerdPullPush(t *testing.T) {
	s := startWharf(t)
	ce := newClientEnv(t)
	ctr, addr := requireContainerd(t, ce.env)
	crane := tool(t, "crane")
	spec := cmdSpec{env: ce.env, timeout: 2 * time.Minute}

	nonce := make([]byte, 6)
	_, _ = rand.Read(nonce)
	id := hex.EncodeToString(nonce)
	layer := filepath.Join(t.TempDir(), "layer.tar")
	writeLayerTar(t, layer, map[string]string{"etc/motd": "containerd e2e " + id + "\n"})
	mustRun(t, cmdSpec{env: ce.env, stdin: s.Pass}, crane, "auth", "login", s.Addr, "-u", s.User, "--password-stdin")
	ref := s.Ref("e2e/containerd", "v1")
	pushed := craneDigest(t, mustRun(t, spec, crane, "append", "--insecure", "--oci-empty-base", "-f", layer, "-t", ref))

	ns := "wharf-e2e-" + id
	c := func(args ...string) []string { return append([]string{"--address", addr, "--namespace", ns}, args...) }
	pushedRef := s.Ref("e2e/containerd-pushed", "v2")
	t.Cleanup(func() {
		// Only this test's namespace: its images, then (content and
		// snapshots gone with them) the namespace itself.
		cl := cmdSpec{env: ce.env, timeout: time.Minute}
		_, _, _ = run(t, cl, ctr, c("images", "rm", "--sync", ref, pushedRef)...)
		_, _, _ = run(t, cl, ctr, "--address", addr, "namespaces", "rm", ns)
	})

	if _, stderr, err := run(t, spec, ctr, c("images", "pull", "--plain-http", ref)...); err == nil || !strings.Contains(stderr, "401") {
		t.Fatalf("anonymous pull: err %v, stderr %q; want a 401", err, stderr)
	}
	mustRun(t, spec, ctr, c("images", "pull", "--plain-http", "--user", s.User+":"+s.Pass, ref)...)
	if out := mustRun(t, spec, ctr, c("images", "ls")...); !strings.Contains(out, pushed) {
		t.Fatalf("containerd's images lack %s:\n%s", pushed, out)
	}

	// An ECR token, as a node's credential provider hands it to containerd.
	env := awsEnv(ce, s.User, s.Pass)
	token := strings.TrimSpace(mustRun(t, cmdSpec{env: env}, tool(t, "aws"), "ecr", "get-login-password", "--endpoint-url", s.URL))
	mustRun(t, spec, ctr, c("images", "rm", "--sync", ref)...)
	mustRun(t, spec, ctr, c("images", "pull", "--plain-http", "--user", "AWS:"+token, ref)...)

	// Pushed back under another repository (created on push): same digest.
	mustRun(t, spec, ctr, c("images", "tag", ref, pushedRef)...)
	mustRun(t, spec, ctr, c("images", "push", "--plain-http", "--user", s.User+":"+s.Pass, pushedRef)...)
	if _, served := s.getManifest(t, "e2e/containerd-pushed", "v2"); served != pushed {
		t.Fatalf("containerd pushed %s as %s, want %s", pushedRef, served, pushed)
	}
}
