package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// lcPut sends one authenticated /v2/ request with a body and fails the
// test unless it answers want.
func lcPut(t *testing.T, s *wharfServer, method, path, contentType string, body []byte, want int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, s.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(s.User, s.Pass)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %s: %s", method, path, resp.Status, b)
	}
}

// lcPushImage pushes a one-layer OCI image over /v2/ and returns its
// digest.
func lcPushImage(t *testing.T, s *wharfServer, repo, tag string) string {
	t.Helper()
	cfg := []byte(`{"architecture":"amd64","os":"linux","lifecycle":"` + tag + `"}`)
	layer := []byte(strings.Repeat("lifecycle e2e layer ", 50) + tag)
	for _, b := range [][]byte{cfg, layer} {
		lcPut(t, s, http.MethodPost, "/v2/"+repo+"/blobs/uploads/?digest="+sha256Digest(b), "", b, http.StatusCreated)
	}
	m := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},`+
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%d}]}`,
		sha256Digest(cfg), len(cfg), sha256Digest(layer), len(layer)))
	lcPut(t, s, http.MethodPut, "/v2/"+repo+"/manifests/"+tag, "application/vnd.oci.image.manifest.v1+json", m, http.StatusCreated)
	return sha256Digest(m)
}

// TestLifecyclePolicyPreviewAWSCLI: twelve images v1..v12 pushed in order,
// "keep the last 10 v images" put with the AWS CLI, a preview started and
// waited for with `aws ecr wait lifecycle-policy-preview-complete`: v1 and
// v2 would expire, and nothing is deleted.
func TestLifecyclePolicyPreviewAWSCLI(t *testing.T) {
	s := startWharf(t)
	aws := requireAWSCLI(t)
	ce := newClientEnv(t)
	spec := cmdSpec{env: awsEnv(ce, s.User, s.Pass)}
	ep := "--endpoint-url=" + s.URL
	const repo = "e2e/lifecycle"

	mustRun(t, spec, aws, "ecr", "create-repository", ep, "--repository-name", repo)
	digests := make([]string, 13)
	for i := 1; i <= 12; i++ {
		digests[i] = lcPushImage(t, s, repo, "v"+strconv.Itoa(i))
	}

	policy := `{"rules":[{"rulePriority":1,"description":"keep the last 10 v images",` +
		`"selection":{"tagStatus":"tagged","tagPatternList":["v*"],"countType":"imageCountMoreThan","countNumber":10},` +
		`"action":{"type":"expire"}}]}`
	// Refused policies carry the parser's explanation.
	bad := strings.Replace(policy, `"countNumber":10`, `"countNumber":10,"countUnit":"days"`, 1)
	_, stderr, err := run(t, spec, aws, "ecr", "put-lifecycle-policy", ep, "--repository-name", repo, "--lifecycle-policy-text", bad)
	if err == nil || !strings.Contains(stderr, "InvalidParameterException") || !strings.Contains(stderr, "countUnit") {
		t.Fatalf("invalid policy: err=%v stderr=%s", err, stderr)
	}
	_, stderr, err = run(t, spec, aws, "ecr", "get-lifecycle-policy", ep, "--repository-name", repo)
	if err == nil || !strings.Contains(stderr, "LifecyclePolicyNotFoundException") {
		t.Fatalf("get without a policy: err=%v stderr=%s", err, stderr)
	}

	out := mustRun(t, spec, aws, "ecr", "put-lifecycle-policy", ep, "--repository-name", repo, "--lifecycle-policy-text", policy)
	var put struct{ RegistryID, RepositoryName, LifecyclePolicyText string }
	if err := json.Unmarshal([]byte(out), &put); err != nil {
		t.Fatalf("put-lifecycle-policy output: %v", err)
	}
	if put.RegistryID != testAccountID || put.RepositoryName != repo || put.LifecyclePolicyText != policy {
		t.Fatalf("put-lifecycle-policy: %s", out)
	}
	out = mustRun(t, spec, aws, "ecr", "get-lifecycle-policy", ep, "--repository-name", repo)
	var got struct{ LifecyclePolicyText string }
	if err := json.Unmarshal([]byte(out), &got); err != nil || got.LifecyclePolicyText != policy {
		t.Fatalf("get-lifecycle-policy: %v %s", err, out)
	}

	// The preview of the stored policy.
	out = mustRun(t, spec, aws, "ecr", "start-lifecycle-policy-preview", ep, "--repository-name", repo)
	var started struct{ Status, LifecyclePolicyText string }
	if err := json.Unmarshal([]byte(out), &started); err != nil || started.Status != "IN_PROGRESS" || started.LifecyclePolicyText != policy {
		t.Fatalf("start-lifecycle-policy-preview: %v %s", err, out)
	}
	mustRun(t, spec, aws, "ecr", "wait", "lifecycle-policy-preview-complete", ep, "--repository-name", repo)
	out = mustRun(t, spec, aws, "ecr", "get-lifecycle-policy-preview", ep, "--repository-name", repo)
	var preview struct {
		Status         string
		PreviewResults []struct {
			ImageTags   []string
			ImageDigest string
			Action      struct{ Type string }
			// AppliedRulePriority as the CLI prints it.
			AppliedRulePriority int
		}
		Summary struct{ ExpiringImageTotalCount int }
	}
	if err := json.Unmarshal([]byte(out), &preview); err != nil {
		t.Fatalf("get-lifecycle-policy-preview output: %v", err)
	}
	var results []string
	for _, r := range preview.PreviewResults {
		results = append(results, fmt.Sprintf("%s %s %s %d", r.ImageDigest, strings.Join(r.ImageTags, ","), r.Action.Type, r.AppliedRulePriority))
	}
	slices.Sort(results)
	want := []string{digests[1] + " v1 EXPIRE 1", digests[2] + " v2 EXPIRE 1"}
	slices.Sort(want)
	if preview.Status != "COMPLETE" || !slices.Equal(results, want) || preview.Summary.ExpiringImageTotalCount != 2 {
		t.Fatalf("preview: status %s, summary %+v, results\n got  %q\n want %q", preview.Status, preview.Summary, results, want)
	}

	// A preview deletes nothing.
	out = mustRun(t, spec, aws, "ecr", "list-images", ep, "--repository-name", repo)
	var listed struct {
		ImageIDs []struct{ ImageDigest string }
	}
	if err := json.Unmarshal([]byte(out), &listed); err != nil || len(listed.ImageIDs) != 12 {
		t.Fatalf("list-images after the preview: %v %s", err, out)
	}

	out = mustRun(t, spec, aws, "ecr", "delete-lifecycle-policy", ep, "--repository-name", repo)
	var deleted struct{ LifecyclePolicyText string }
	if err := json.Unmarshal([]byte(out), &deleted); err != nil || deleted.LifecyclePolicyText != policy {
		t.Fatalf("delete-lifecycle-policy: %v %s", err, out)
	}
}
