package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Pull gates, suppressions and SBOMs with real clients: a repository
// policy denies ecr:BatchGetImage of images with HIGH/CRITICAL findings or
// no completed scan, except for a named user; docker pull is refused with
// the reason (no completed scan, then the CRITICAL finding an imported OSV
// advisory gives), the exempt user pulls; a suppression, then an OpenVEX
// document attached with oras, lets the pull through;
// an SBOM attached through the extension API is found by `oras discover`.

// dpkgPackageRE reads the package name of a dpkg status stanza.
var dpkgPackageRE = regexp.MustCompile(`(?m)^Package: (\S+)$`)

// lonePackage returns an installed package that is its own source package
// (no Source: field), so that an advisory naming it matches it.
func lonePackage(status string) string {
	for _, stanza := range strings.Split(status, "\n\n") {
		m := dpkgPackageRE.FindStringSubmatch(stanza)
		if m != nil && !strings.Contains(stanza, "\nSource: ") && strings.Contains(stanza, "\nStatus: install ok installed") {
			return m[1]
		}
	}
	return ""
}

// buildDebianImage builds, FROM scratch, an image holding this machine's
// os-release and dpkg database (nothing runs in it: the scanner reads the
// files). It returns the local tag and one package name of the database.
func buildDebianImage(t *testing.T, spec cmdSpec, docker string) (local, pkg string) {
	t.Helper()
	status, err := os.ReadFile("/var/lib/dpkg/status")
	if err != nil {
		t.Skipf("no dpkg database on this machine: %v", err)
	}
	osRelease, err := os.ReadFile("/etc/os-release")
	if err != nil {
		t.Skipf("no os-release: %v", err)
	}
	pkg = lonePackage(string(status))
	if pkg == "" {
		t.Skip("the dpkg database lists no package that is its own source")
	}
	nonce := make([]byte, 6)
	_, _ = rand.Read(nonce)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "status"), string(status))
	writeFile(t, filepath.Join(dir, "os-release"), string(osRelease))
	writeFile(t, filepath.Join(dir, "nonce"), hex.EncodeToString(nonce))
	writeFile(t, filepath.Join(dir, "Dockerfile"), "FROM scratch\nCOPY os-release /etc/os-release\nCOPY status /var/lib/dpkg/status\nCOPY nonce /nonce\n")
	local = "wharf-e2e-gate-" + hex.EncodeToString(nonce) + ":latest"
	mustRun(t, spec, docker, "build", "-q", "-t", local, dir)
	t.Cleanup(func() { _, _, _ = run(t, cmdSpec{env: spec.env, timeout: time.Minute}, docker, "rmi", "-f", local) })
	return local, pkg
}

func TestPullGateSuppressionAndSBOM(t *testing.T) {
	s := startWharf(t)
	aws := requireAWSCLI(t)
	rootCE := newClientEnv(t)
	rootEnv := awsEnv(rootCE, s.User, s.Pass)
	docker := requireDocker(t, rootEnv)
	ep := "--endpoint-url=" + s.URL
	bin := os.Getenv("WHARF_BIN")
	const repo = "e2e/gate"
	admin := func(args ...string) string {
		t.Helper()
		return mustRun(t, cmdSpec{env: cleanEnv()}, bin, append(append([]string{"admin"}, args...), "--data", s.DataDir)...)
	}
	api := func(env []string, op string, in any) (string, error) {
		t.Helper()
		b, _ := json.Marshal(in)
		out, _, err := run(t, cmdSpec{env: env}, "python3", "-c", wharfAPIScript, s.URL, op, string(b))
		return out, err
	}

	// The image, pushed by the root.
	mustRun(t, cmdSpec{env: rootEnv, stdin: s.Pass}, docker, "login", s.Addr, "-u", s.User, "--password-stdin")
	local, pkg := buildDebianImage(t, cmdSpec{env: rootEnv}, docker)
	ref := s.Ref(repo, "v1")
	mustRun(t, cmdSpec{env: rootEnv}, docker, "tag", local, ref)
	t.Cleanup(func() { _, _, _ = run(t, cmdSpec{env: rootEnv, timeout: time.Minute}, docker, "rmi", "-f", ref) })
	pushOut := mustRun(t, cmdSpec{env: rootEnv, timeout: 5 * time.Minute}, docker, "push", ref)
	dm := pushDigestRE.FindStringSubmatch(pushOut)
	if dm == nil {
		t.Fatalf("no digest in docker push output:\n%s", pushOut)
	}
	digest := dm[1]

	// Two IAM users: dev, gated, and breakglass, exempt.
	users := map[string][]string{}
	for _, u := range []string{"dev", "breakglass"} {
		admin("user", "create", u)
		out := admin("key", "create", "--user", u)
		ce := newClientEnv(t)
		users[u] = awsEnv(ce, field(out, "access key id:"), field(out, "secret access key:"))
		mustRun(t, cmdSpec{env: users[u], stdin: field(out, "secret access key:")}, docker, "login", s.Addr, "-u", field(out, "access key id:"), "--password-stdin")
	}
	arn := func(u string) string { return "arn:aws:iam::" + testAccountID + ":user/" + u }
	// Exempt: the breakglass user and the account root (which pushes and
	// attaches SBOMs; a gate with Principal "*" binds the root too).
	exempt := `["` + arn("breakglass") + `","arn:aws:iam::` + testAccountID + `:root"]`
	policy := `{"Version":"2012-10-17","Statement":[
 {"Sid":"TeamPull","Effect":"Allow","Principal":{"AWS":["` + arn("dev") + `","` + arn("breakglass") + `"]},
  "Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer","ecr:BatchCheckLayerAvailability"]},
 {"Sid":"NoHighFindings","Effect":"Deny","Principal":"*","Action":"ecr:BatchGetImage",
  "Condition":{"StringEquals":{"wharf:ImageMaxSeverity":["HIGH","CRITICAL"]},"ArnNotEquals":{"aws:PrincipalArn":` + exempt + `}}},
 {"Sid":"ScannedOnly","Effect":"Deny","Principal":"*","Action":"ecr:BatchGetImage",
  "Condition":{"StringNotEquals":{"wharf:ScanStatus":"COMPLETE"},"ArnNotEquals":{"aws:PrincipalArn":` + exempt + `}}}]}`
	mustRun(t, cmdSpec{env: rootEnv}, aws, "ecr", "set-repository-policy", ep, "--repository-name", repo, "--policy-text", policy)

	pull := func(u string) (string, error) {
		t.Helper()
		_, _, _ = run(t, cmdSpec{env: users[u], timeout: time.Minute}, docker, "rmi", "-f", ref)
		stdout, stderr, err := run(t, cmdSpec{env: users[u], timeout: 5 * time.Minute}, docker, "pull", ref)
		return stdout + stderr, err
	}
	// pullRefused waits (bounded: policies and gate facts are cached for
	// about 2 s) until dev's pull is refused with a message containing want.
	pullRefused := func(want string) {
		t.Helper()
		var out string
		for i := 0; i < 10; i++ {
			var err error
			if out, err = pull("dev"); err != nil && strings.Contains(out, want) {
				return
			}
			time.Sleep(500 * time.Millisecond)
		}
		t.Fatalf("dev's pull was not refused with %q:\n%s", want, out)
	}
	pullAllowed := func(u string) {
		t.Helper()
		var out string
		for i := 0; i < 10; i++ {
			var err error
			if out, err = pull(u); err == nil {
				return
			}
			time.Sleep(500 * time.Millisecond)
		}
		t.Fatalf("%s could not pull:\n%s", u, out)
	}

	// Not scanned yet: dev is refused with the reason; breakglass pulls.
	pullRefused("pull blocked by policy: image " + digest + " has no completed vulnerability scan (scan status NONE)")
	pullAllowed("breakglass")
	// BatchGetImage answers the same reason per image.
	out := mustRun(t, cmdSpec{env: users["dev"]}, aws, "ecr", "batch-get-image", ep, "--repository-name", repo, "--image-ids", "imageTag=v1")
	if !strings.Contains(out, `"failureCode": "ImageInaccessible"`) || !strings.Contains(out, "has no completed vulnerability scan") {
		t.Fatalf("dev's batch-get-image: %s", out)
	}

	// The SBOM, attached through the extension API (botocore's signer) and
	// found by oras through the referrers API.
	out, err := api(rootEnv, "GetImageSbom", map[string]any{"repositoryName": repo, "imageId": map[string]any{"imageTag": "v1"},
		"format": "CYCLONEDX_1_6", "attach": true})
	if err != nil || !strings.Contains(out, `"referrerDigest":"sha256:`) || !strings.Contains(out, `\"name\": \"`+pkg+`\"`) {
		t.Fatalf("GetImageSbom: %v %.500s", err, out)
	}
	oras := tool(t, "oras")
	discovered := mustRun(t, cmdSpec{env: rootCE.env, stdin: s.Pass}, oras, "discover", "--format", "json", "--plain-http",
		"--distribution-spec=v1.1-referrers-api", "-u", s.User, "--password-stdin",
		"--registry-config", filepath.Join(rootCE.home, "oras-auth.json"), s.Ref(repo, "v1"))
	d := parseORAS(t, discovered)
	var types []string
	for _, r := range d.Referrers {
		types = append(types, r.ArtifactType)
	}
	if len(d.Referrers) != 1 || d.Referrers[0].ArtifactType != "application/vnd.cyclonedx+json" {
		t.Fatalf("oras discover: referrers %q", types)
	}
	// The offline CLI writes the same inventory as SPDX.
	spdx := mustRun(t, cmdSpec{env: cleanEnv(), binary: true}, bin, "scan", "sbom", repo, "v1", "--format", "spdx", "--data", s.DataDir)
	if !strings.Contains(spdx, `"spdxVersion": "SPDX-2.3"`) || !strings.Contains(spdx, `"name": "`+pkg+`"`) {
		t.Fatalf("wharf scan sbom: %.300s", spdx)
	}

	// Findings: an advisory for one of the image's packages, a scan.
	scanWithFixture(t, s, rootEnv, aws, pkg, repo, digest)
	pullRefused("pull blocked by policy: image " + digest + " has CRITICAL finding CVE-2099-0001")
	pullAllowed("breakglass")
	out, err = api(rootEnv, "PutFindingSuppression", map[string]any{"repositoryName": repo, "findingId": "CVE-2099-0001",
		"justification": "e2e: the package is never executed", "expiresAt": time.Now().Add(24 * time.Hour).Unix()})
	if err != nil {
		t.Fatalf("PutFindingSuppression: %v %s", err, out)
	}
	pullAllowed("dev")
	audit := mustRun(t, cmdSpec{env: cleanEnv()}, bin, "audit", "--action", "scan.suppress", "--data", s.DataDir)
	if !strings.Contains(audit, "CVE-2099-0001") {
		t.Fatalf("audit: %s", audit)
	}
	// Lifted, the gate holds again; an OpenVEX statement attached with
	// oras (not_affected for this image) suppresses it as well.
	if out, err := api(rootEnv, "DeleteFindingSuppression", map[string]any{"repositoryName": repo, "findingId": "CVE-2099-0001"}); err != nil {
		t.Fatalf("DeleteFindingSuppression: %v %s", err, out)
	}
	pullRefused("CVE-2099-0001")
	vexDir := t.TempDir()
	writeFile(t, filepath.Join(vexDir, "vex.json"), `{"@context":"https://openvex.dev/ns/v0.2.0","@id":"https://example.com/vex/e2e","author":"e2e",
"timestamp":"2026-01-01T00:00:00Z","version":1,"statements":[{"vulnerability":{"name":"CVE-2099-0001"},
"products":[{"@id":"pkg:oci/gate@`+strings.Replace(digest, ":", "%3A", 1)+`"}],"status":"not_affected","justification":"vulnerable_code_not_present"}]}`)
	mustRun(t, cmdSpec{env: rootCE.env, dir: vexDir, stdin: s.Pass}, oras, "attach", "--plain-http", "--distribution-spec=v1.1-referrers-api",
		"-u", s.User, "--password-stdin", "--registry-config", filepath.Join(rootCE.home, "oras-auth.json"),
		"--artifact-type", "application/vnd.openvex+json", s.Ref(repo, "v1"), "vex.json")
	pullAllowed("dev")
}

// scanWithFixture imports an OSV advisory that affects pkg at any version
// (fixed only at 99:0, above every real version) and scans the image.
func scanWithFixture(t *testing.T, s *wharfServer, env []string, aws, pkg, repo, digest string) {
	t.Helper()
	bin := os.Getenv("WHARF_BIN")
	osv := `{"schema_version":"1.6.0","id":"CVE-2099-0001","modified":"2026-01-01T00:00:00Z","published":"2026-01-01T00:00:00Z",
"summary":"e2e fixture","severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
"affected":[{"package":{"ecosystem":"Debian:12","name":"` + pkg + `"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"99:0"}]}]}]}`
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "CVE-2099-0001.json"), osv)
	mustRun(t, cmdSpec{env: cleanEnv()}, bin, "vulndb", "import", dir, "--data", s.DataDir)
	ep := "--endpoint-url=" + s.URL
	mustRun(t, cmdSpec{env: env}, aws, "ecr", "start-image-scan", ep, "--repository-name", repo, "--image-id", "imageDigest="+digest)
	mustRun(t, cmdSpec{env: env, timeout: 5 * time.Minute}, aws, "ecr", "wait", "image-scan-complete", ep, "--repository-name", repo, "--image-id", "imageDigest="+digest)
}
