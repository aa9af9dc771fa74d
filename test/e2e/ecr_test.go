package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// awsEnv is a client environment for the AWS CLI and boto3 with the given
// key pair, isolated from the machine's AWS configuration.
func awsEnv(ce *clientEnv, keyID, secret string) []string {
	var env []string
	for _, kv := range ce.env {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	return append(env,
		"AWS_ACCESS_KEY_ID="+keyID,
		"AWS_SECRET_ACCESS_KEY="+secret,
		"AWS_DEFAULT_REGION=us-east-1",
		"AWS_CONFIG_FILE="+filepath.Join(ce.home, "aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(ce.home, "aws-credentials"),
		"AWS_PAGER=",
		"DOCKER_BUILDKIT=0",
	)
}

func requireAWSCLI(t *testing.T) string {
	t.Helper()
	return tool(t, "aws")
}

// buildImage builds a unique image FROM scratch and returns its local tag.
func buildImage(t *testing.T, spec cmdSpec, docker, label string) string {
	t.Helper()
	nonce := make([]byte, 6)
	_, _ = rand.Read(nonce)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "f.txt"), label+" "+hex.EncodeToString(nonce)+"\n")
	writeFile(t, filepath.Join(dir, "Dockerfile"), "FROM scratch\nCOPY f.txt /f.txt\n")
	local := "wharf-e2e-ecr-" + hex.EncodeToString(nonce) + ":latest"
	mustRun(t, spec, docker, "build", "-q", "-t", local, dir)
	t.Cleanup(func() { _, _, _ = run(t, cmdSpec{env: spec.env, timeout: time.Minute}, docker, "rmi", "-f", local) })
	return local
}

// TestAWSCLIAndDockerLogin drives the ECR API with the real AWS CLI and
// boto3, logs docker in with get-login-password and checks that both planes
// see the same images.
func TestAWSCLIAndDockerLogin(t *testing.T) {
	s := startWharf(t)
	aws := requireAWSCLI(t)
	ce := newClientEnv(t)
	env := awsEnv(ce, s.User, s.Pass)
	spec := cmdSpec{env: env}
	docker := requireDocker(t, env)
	ep := "--endpoint-url=" + s.URL

	out := mustRun(t, spec, aws, "ecr", "create-repository", ep, "--repository-name", "e2e/cli",
		"--image-tag-mutability", "IMMUTABLE", "--tags", "Key=team,Value=platform")
	var created struct {
		Repository struct{ RepositoryUri, ImageTagMutability string }
	}
	if err := json.Unmarshal([]byte(out), &created); err != nil {
		t.Fatalf("create-repository output: %v", err)
	}
	if created.Repository.RepositoryUri != s.Addr+"/e2e/cli" || created.Repository.ImageTagMutability != "IMMUTABLE" {
		t.Fatalf("created %+v", created.Repository)
	}
	_, stderr, err := run(t, spec, aws, "ecr", "create-repository", ep, "--repository-name", "e2e/cli")
	if err == nil || !strings.Contains(stderr, "RepositoryAlreadyExistsException") {
		t.Fatalf("duplicate create: err=%v stderr=%s", err, stderr)
	}

	password := mustRun(t, spec, aws, "ecr", "get-login-password", ep)
	mustRun(t, cmdSpec{env: env, stdin: password}, docker, "login", "--username", "AWS", "--password-stdin", s.Addr)

	local := buildImage(t, spec, docker, "v1")
	remote := s.Addr + "/e2e/cli:v1"
	mustRun(t, spec, docker, "tag", local, remote)
	t.Cleanup(func() { _, _, _ = run(t, cmdSpec{env: env, timeout: time.Minute}, docker, "rmi", "-f", remote) })
	pushOut := mustRun(t, spec, docker, "push", remote)
	m := pushDigestRE.FindStringSubmatch(pushOut)
	if m == nil {
		t.Fatalf("no digest in push output")
	}
	digest := m[1]

	// An immutable tag cannot be moved by another image.
	other := buildImage(t, spec, docker, "v1-other")
	mustRun(t, spec, docker, "tag", other, remote)
	if _, _, err := run(t, spec, docker, "push", remote); err == nil {
		t.Fatal("pushing a different image over an immutable tag succeeded")
	}

	out = mustRun(t, spec, aws, "ecr", "describe-images", ep, "--repository-name", "e2e/cli")
	var described struct {
		ImageDetails []struct {
			ImageDigest      string
			ImageTags        []string
			ImageSizeInBytes int64
		}
	}
	if err := json.Unmarshal([]byte(out), &described); err != nil {
		t.Fatal(err)
	}
	if len(described.ImageDetails) != 1 || described.ImageDetails[0].ImageDigest != digest ||
		strings.Join(described.ImageDetails[0].ImageTags, ",") != "v1" || described.ImageDetails[0].ImageSizeInBytes <= 0 {
		t.Fatalf("describe-images: %s", out)
	}
	out = mustRun(t, spec, aws, "ecr", "batch-get-image", ep, "--repository-name", "e2e/cli", "--image-ids", "imageTag=v1")
	var got struct {
		Images []struct {
			ImageID       struct{ ImageDigest string } `json:"imageId"`
			ImageManifest string
		}
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got.Images) != 1 || got.Images[0].ImageID.ImageDigest != digest {
		t.Fatalf("batch-get-image: %v %s", err, out)
	}
	if sha256Digest([]byte(got.Images[0].ImageManifest)) != digest {
		t.Fatal("batch-get-image manifest bytes differ from what docker pushed")
	}

	// boto3 sees the same repository and its tags.
	py := `import boto3, json, sys
c = boto3.client("ecr", endpoint_url=sys.argv[1])
r = c.describe_repositories(repositoryNames=["e2e/cli"])["repositories"][0]
t = c.list_tags_for_resource(resourceArn=r["repositoryArn"])["tags"]
ids = c.list_images(repositoryName="e2e/cli")["imageIds"]
print(json.dumps({"arn": r["repositoryArn"], "tags": t, "ids": ids}))`
	out = mustRun(t, spec, "python3", "-c", py, s.URL)
	var bo struct {
		Arn  string
		Tags []struct{ Key, Value string }
		IDs  []struct{ ImageDigest, ImageTag string } `json:"ids"`
	}
	if err := json.Unmarshal([]byte(out), &bo); err != nil {
		t.Fatal(err)
	}
	if bo.Arn != "arn:aws:ecr:us-east-1:"+testAccountID+":repository/e2e/cli" || len(bo.Tags) != 1 || bo.Tags[0].Value != "platform" ||
		len(bo.IDs) != 1 || bo.IDs[0].ImageDigest != digest || bo.IDs[0].ImageTag != "v1" {
		t.Fatalf("boto3: %s", out)
	}

	// Delete through the API; the OCI plane no longer serves it.
	mustRun(t, spec, aws, "ecr", "batch-delete-image", ep, "--repository-name", "e2e/cli", "--image-ids", "imageDigest="+digest)
	if code := s.headStatus(t, "/v2/e2e/cli/manifests/"+digest); code != 404 {
		t.Fatalf("deleted image still served: %d", code)
	}
}

// TestCrossAccountPull: account B cannot pull from A; A's repository policy
// grants B; B pulls with docker and through BatchGetImage; a Deny in the
// identity policy of B's user still blocks that user.
func TestCrossAccountPull(t *testing.T) {
	s := startWharf(t)
	aws := requireAWSCLI(t)
	ce := newClientEnv(t)
	envA := awsEnv(ce, s.User, s.Pass)
	docker := requireDocker(t, envA)
	ep := "--endpoint-url=" + s.URL
	bin := os.Getenv("WHARF_BIN")
	admin := func(args ...string) string {
		return mustRun(t, cmdSpec{env: cleanEnv()}, bin, append(append([]string{"admin"}, args...), "--data", s.DataDir)...)
	}

	// A pushes an image.
	passA := mustRun(t, cmdSpec{env: envA}, aws, "ecr", "get-login-password", ep)
	mustRun(t, cmdSpec{env: envA, stdin: passA}, docker, "login", "-u", "AWS", "--password-stdin", s.Addr)
	local := buildImage(t, cmdSpec{env: envA}, docker, "cross")
	remote := s.Addr + "/shared/app:v1"
	mustRun(t, cmdSpec{env: envA}, docker, "tag", local, remote)
	t.Cleanup(func() { _, _, _ = run(t, cmdSpec{env: envA, timeout: time.Minute}, docker, "rmi", "-f", remote) })
	mustRun(t, cmdSpec{env: envA}, docker, "push", remote)

	// Account B with its root key and a user whose identity policy denies pulls.
	const acctB = "210987654321"
	out := admin("account", "create", "--id", acctB)
	keyB, secretB := field(out, "access key id:"), field(out, "secret access key:")
	admin("user", "create", "ci", "--account", acctB)
	out = admin("key", "create", "--user", "ci", "--account", acctB)
	keyU, secretU := field(out, "access key id:"), field(out, "secret access key:")
	denyFile := filepath.Join(t.TempDir(), "deny.json")
	writeFile(t, denyFile, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:*","Resource":"*"},{"Effect":"Deny","Action":"ecr:BatchGetImage","Resource":"*"}]}`)
	admin("policy", "put", "--user", "ci", "--file", denyFile, "--account", acctB)

	ceB := newClientEnv(t)
	envB := awsEnv(ceB, keyB, secretB)
	pull := func(env []string) error {
		pass := mustRun(t, cmdSpec{env: env}, aws, "ecr", "get-login-password", ep)
		mustRun(t, cmdSpec{env: env, stdin: pass}, docker, "login", "-u", "AWS", "--password-stdin", s.Addr)
		_, _, err := run(t, cmdSpec{env: env}, docker, "pull", remote)
		return err
	}
	_, _, _ = run(t, cmdSpec{env: envA}, docker, "rmi", "-f", remote)
	if err := pull(envB); err == nil {
		t.Fatal("account B pulled from A without a policy")
	}
	if _, stderr, err := run(t, cmdSpec{env: envB}, aws, "ecr", "batch-get-image", ep, "--registry-id", testAccountID,
		"--repository-name", "shared/app", "--image-ids", "imageTag=v1"); err == nil || !strings.Contains(stderr, "AccessDenied") {
		t.Fatalf("B's batch-get-image without policy: err=%v %s", err, stderr)
	}

	policyDoc := `{"Version":"2012-10-17","Statement":[{"Sid":"PullFromB","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acctB + `:root"},"Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer","ecr:BatchCheckLayerAvailability"]}]}`
	mustRun(t, cmdSpec{env: envA}, aws, "ecr", "set-repository-policy", ep, "--repository-name", "shared/app", "--policy-text", policyDoc)

	if err := pull(envB); err != nil {
		t.Fatalf("account B could not pull after A's policy granted it: %v", err)
	}
	_, _, _ = run(t, cmdSpec{env: envB}, docker, "rmi", "-f", remote)
	out = mustRun(t, cmdSpec{env: envB}, aws, "ecr", "batch-get-image", ep, "--registry-id", testAccountID,
		"--repository-name", "shared/app", "--image-ids", "imageTag=v1")
	if !strings.Contains(out, `"imageManifest"`) {
		t.Fatalf("B's batch-get-image: %s", out)
	}

	envU := awsEnv(newClientEnv(t), keyU, secretU)
	if err := pull(envU); err == nil {
		t.Fatal("B's user pulled although its identity policy denies ecr:BatchGetImage")
	}
}

// field returns the value after a "label" line of wharf admin's output.
func field(out, label string) string {
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, label) {
			return strings.TrimSpace(strings.TrimPrefix(line, label))
		}
	}
	return ""
}
