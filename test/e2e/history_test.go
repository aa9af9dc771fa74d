package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The tag history, rollback, platform guard and recycle bin with real
// clients: docker pushes and pulls, the AWS CLI deletes, the wharf CLI
// lists and rolls back (offline, next to the running server), and boto3's
// SigV4 signer calls the extension API.

// buildPlatformImage builds a unique image FROM scratch for a platform
// ("linux/arm64"): nothing runs during the build, so no emulation is
// needed. It returns the local tag.
func buildPlatformImage(t *testing.T, spec cmdSpec, docker, platform, label string) string {
	t.Helper()
	nonce := make([]byte, 6)
	_, _ = rand.Read(nonce)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "f.txt"), label+" "+platform+" "+hex.EncodeToString(nonce)+"\n")
	writeFile(t, filepath.Join(dir, "Dockerfile"), "FROM scratch\nCOPY f.txt /f.txt\n")
	local := "wharf-e2e-history-" + hex.EncodeToString(nonce) + ":latest"
	mustRun(t, spec, docker, "build", "-q", "--platform", platform, "-t", local, dir)
	t.Cleanup(func() { _, _, _ = run(t, cmdSpec{env: spec.env, timeout: time.Minute}, docker, "rmi", "-f", local) })
	if got := mustRun(t, spec, docker, "image", "inspect", "--format", "{{.Os}}/{{.Architecture}}", local); got != platform {
		t.Fatalf("built %s for %s", got, platform)
	}
	return local
}

// wharfAPIScript calls one extension operation with botocore's SigV4
// signer (service "ecr") and prints the JSON answer; argv: endpoint,
// operation, JSON input.
const wharfAPIScript = `
import sys, urllib.request, urllib.error
import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
url, op, body = sys.argv[1] + "/", sys.argv[2], sys.argv[3]
creds = botocore.session.get_session().get_credentials()
req = AWSRequest(method="POST", url=url, data=body.encode(),
                 headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "WharfRegistry_V1." + op})
SigV4Auth(creds, "ecr", "us-east-1").add_auth(req)
hdrs = {k: v for k, v in req.headers.items() if k.lower() != "host"}
try:
    with urllib.request.urlopen(urllib.request.Request(url, data=body.encode(), headers=hdrs, method="POST")) as r:
        print(r.read().decode())
except urllib.error.HTTPError as e:
    print(e.read().decode())
    sys.exit(1)
`

func TestPlatformGuardHistoryAndBin(t *testing.T) {
	s := startWharf(t)
	aws := requireAWSCLI(t)
	ce := newClientEnv(t)
	env := awsEnv(ce, s.User, s.Pass)
	spec := cmdSpec{env: env}
	docker := requireDocker(t, env)
	ep := "--endpoint-url=" + s.URL
	const repo = "e2e/guard"

	// The wharf CLI, offline against the running server's data directory.
	wharfEnv := append(envWithoutPrefix("WHARF_"), "WHARF_ACCOUNT_ID="+testAccountID)
	wharf := func(args ...string) string {
		t.Helper()
		return mustRun(t, cmdSpec{env: wharfEnv}, os.Getenv("WHARF_BIN"), append(args, "--data", s.DataDir)...)
	}
	api := func(op string, in any) string {
		t.Helper()
		b, _ := json.Marshal(in)
		return mustRun(t, spec, "python3", "-c", wharfAPIScript, s.URL, op, string(b))
	}
	// latestIs waits (bounded) until /v2/ serves repo:latest as d: the
	// offline CLI writes the store, a server sees it within its tag cache
	// TTL (0.5 s).
	latestIs := func(d string) {
		t.Helper()
		for i := 0; i < 50; i++ {
			resp, _ := s.do(t, http.MethodHead, "/v2/"+repo+"/manifests/latest", manifestAccept)
			if resp.Header.Get("Docker-Content-Digest") == d {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("%s:latest is not %s after 5 s", repo, d)
	}

	mustRun(t, cmdSpec{env: env, stdin: s.Pass}, docker, "login", s.Addr, "-u", s.User, "--password-stdin")
	amdLocal := buildPlatformImage(t, spec, docker, "linux/amd64", "app")
	armLocal := buildPlatformImage(t, spec, docker, "linux/arm64", "app")
	latest := s.Ref(repo, "latest")
	t.Cleanup(func() {
		_, _, _ = run(t, cmdSpec{env: env, timeout: time.Minute}, docker, "rmi", "-f", latest, s.Ref(repo, "arm"))
	})
	push := func(local, ref string) (string, string, error) {
		t.Helper()
		mustRun(t, spec, docker, "tag", local, ref)
		out, stderr, err := run(t, cmdSpec{env: env, timeout: 5 * time.Minute}, docker, "push", ref)
		if m := pushDigestRE.FindStringSubmatch(out); m != nil {
			return m[1], stderr, err
		}
		return "", out + stderr, err
	}

	amd, _, err := push(amdLocal, latest)
	if err != nil || amd == "" {
		t.Fatalf("push amd64: %v", err)
	}
	arm, _, err := push(armLocal, s.Ref(repo, "arm"))
	if err != nil || arm == "" {
		t.Fatalf("push arm64 as :arm: %v", err)
	}

	// The guard, turned on through the extension API signed by botocore.
	out := api("PutPlatformGuard", map[string]any{"repositoryName": repo, "enabled": true})
	if !strings.Contains(out, `"enabled":true`) {
		t.Fatalf("PutPlatformGuard: %s", out)
	}
	if out := wharf("tag", "guard", repo); !strings.Contains(out, "platform guard on "+repo+": on") {
		t.Fatalf("wharf tag guard: %s", out)
	}

	// arm64 pushed over the amd64 latest: docker push fails, saying why.
	_, msg, err := push(armLocal, latest)
	if err == nil {
		t.Fatal("docker push of an arm64 image over the amd64 latest succeeded with the guard on")
	}
	if !strings.Contains(msg, "tag latest points at linux/amd64; refusing linux/arm64") || !strings.Contains(msg, "platform guard on "+repo) {
		t.Fatalf("docker push error does not name both platforms:\n%s", msg)
	}
	latestIs(amd)

	// An intended change: the override header (any HTTP client can send it).
	armManifest, _ := s.getManifest(t, repo, arm)
	put := func(override bool) (int, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodPut, s.URL+"/v2/"+repo+"/manifests/latest", bytes.NewReader(armManifest))
		req.SetBasicAuth(s.User, s.Pass)
		req.Header.Set("Content-Type", "application/vnd.docker.distribution.manifest.v2+json")
		if override {
			req.Header.Set("X-Wharf-Platform-Override", "true")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := put(false); code != http.StatusForbidden || !strings.Contains(body, "X-Wharf-Platform-Override") {
		t.Fatalf("guarded PUT: %d %s", code, body)
	}
	if code, body := put(true); code != http.StatusCreated {
		t.Fatalf("PUT with the override: %d %s", code, body)
	}
	latestIs(arm)

	// The history shows every move; a rollback puts amd64 back.
	var moves []struct{ From, To, Via string }
	for _, line := range strings.Split(wharf("tag", "history", repo, "latest", "--json"), "\n") {
		var m struct{ From, To, Via string }
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("history line %q: %v", line, err)
		}
		moves = append(moves, m)
	}
	if len(moves) != 2 || moves[0].From != amd || moves[0].To != arm || moves[1].From != "" || moves[1].To != amd {
		t.Fatalf("history of latest: %+v", moves)
	}
	if out := wharf("tag", "rollback", repo, "latest"); !strings.Contains(out, "rolled back: "+arm+" -> "+amd) {
		t.Fatalf("rollback: %s", out)
	}
	latestIs(amd)
	mustRun(t, spec, docker, "rmi", "-f", latest)
	mustRun(t, cmdSpec{env: env, timeout: 5 * time.Minute}, docker, "pull", latest)
	if got := mustRun(t, spec, docker, "image", "inspect", "--format", "{{.Architecture}}", latest); got != "amd64" {
		t.Fatalf("pulled latest is %s after the rollback", got)
	}
	// The extension API sees the same history.
	hist := api("ListTagHistory", map[string]any{"repositoryName": repo, "imageTag": "latest"})
	var h struct {
		TagEvents []struct{ ImageTag, FromImageDigest, ToImageDigest, Via string }
	}
	if err := json.Unmarshal([]byte(hist), &h); err != nil || len(h.TagEvents) != 3 || h.TagEvents[0].Via != "rollback" || h.TagEvents[0].ToImageDigest != amd {
		t.Fatalf("ListTagHistory: %v %s", err, hist)
	}

	// The recycle bin: delete with the AWS CLI, list and restore with wharf.
	mustRun(t, spec, aws, "ecr", "batch-delete-image", ep, "--repository-name", repo, "--image-ids", "imageDigest="+arm)
	if code := s.headStatus(t, "/v2/"+repo+"/manifests/arm"); code != 404 {
		t.Fatalf("deleted image still served: %d", code)
	}
	desc := mustRun(t, spec, aws, "ecr", "describe-images", ep, "--repository-name", repo)
	if strings.Contains(desc, arm) {
		t.Fatalf("deleted image described:\n%s", desc)
	}
	var entry struct {
		Repository, Digest, Via string
		Tags                    []string
	}
	if err := json.Unmarshal([]byte(wharf("bin", "list", repo, "--json")), &entry); err != nil || entry.Digest != arm ||
		strings.Join(entry.Tags, ",") != "arm" || entry.Via != "ecr" {
		t.Fatalf("bin list: %v %+v", err, entry)
	}
	if out := wharf("bin", "restore", repo, arm); !strings.Contains(out, "with tags arm") {
		t.Fatalf("bin restore: %s", out)
	}
	mustRun(t, spec, docker, "rmi", "-f", s.Ref(repo, "arm"))
	mustRun(t, cmdSpec{env: env, timeout: 5 * time.Minute}, docker, "pull", "--platform", "linux/arm64", s.Ref(repo, "arm"))
	if got := mustRun(t, spec, docker, "image", "inspect", "--format", "{{.Architecture}}", s.Ref(repo, "arm")); got != "arm64" {
		t.Fatalf("restored image pulled as %s", got)
	}
	audit := wharf("audit", "--repository", repo, "--json")
	for _, action := range []string{"repository.platform-guard", "tag.platform-override", "tag.rollback", "image.restore"} {
		if !strings.Contains(audit, `"action":"`+action+`"`) {
			t.Errorf("audit trail lacks %s:\n%s", action, audit)
		}
	}
}
