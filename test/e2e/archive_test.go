package e2e

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// The archive storage class, lifecycle runs and pull-time update exclusions
// end to end: the real binary, the AWS CLI v1 (which knows
// update-image-storage-class and the *-pull-time-update-exclusion(s)
// commands), docker and crane.

type arImageDetail struct {
	ImageDigest          string
	ImageTags            []string
	ImageStatus          string
	LastArchivedAt       *float64
	LastActivatedAt      *float64
	LastRecordedPullTime *float64
}

// arDescribe runs describe-images with extra arguments and returns the
// details by digest.
func arDescribe(t *testing.T, spec cmdSpec, aws, ep, repo string, args ...string) map[string]arImageDetail {
	t.Helper()
	out := mustRun(t, spec, aws, append([]string{"ecr", "describe-images", ep, "--repository-name", repo}, args...)...)
	var got struct{ ImageDetails []arImageDetail }
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("describe-images output: %v\n%s", err, out)
	}
	m := map[string]arImageDetail{}
	for _, d := range got.ImageDetails {
		m[d.ImageDigest] = d
	}
	return m
}

func arTags(m map[string]arImageDetail) []string {
	var out []string
	for _, d := range m {
		out = append(out, d.ImageTags...)
	}
	slices.Sort(out)
	return out
}

// TestArchiveAndLifecycleRunAWSCLI: a lifecycle policy put with the AWS CLI
// and run with `wharf lifecycle run` next to the server expires one image
// and archives another (describe-images shows both, wharf audit records
// both); update-image-storage-class archives a docker-pushed image, which
// docker and crane then fail to pull with a message naming the restore
// command; restoring goes ACTIVATING then ACTIVE, and the pull works again;
// the pull-time update exclusion commands round-trip.
func TestArchiveAndLifecycleRunAWSCLI(t *testing.T) {
	const restoreDelay = 12 * time.Second
	s := startWharf(t, "--archive-restore-delay", restoreDelay.String())
	aws := requireAWSCLI(t)
	ce := newClientEnv(t)
	env := awsEnv(ce, s.User, s.Pass)
	spec := cmdSpec{env: env}
	docker := requireDocker(t, env)
	crane := tool(t, "crane")
	ep := "--endpoint-url=" + s.URL
	const repo = "e2e/archive"

	mustRun(t, spec, aws, "ecr", "create-repository", ep, "--repository-name", repo)
	v1 := lcPushImage(t, s, repo, "v1")
	for _, tag := range []string{"v2", "v3"} {
		lcPushImage(t, s, repo, tag)
	}
	rc1 := lcPushImage(t, s, repo, "rc1")
	lcPushImage(t, s, repo, "rc2")
	password := mustRun(t, spec, aws, "ecr", "get-login-password", ep)
	mustRun(t, cmdSpec{env: env, stdin: password}, docker, "login", "--username", "AWS", "--password-stdin", s.Addr)
	local := buildImage(t, spec, docker, "archive-e2e")
	remote := s.Addr + "/" + repo + ":v4"
	mustRun(t, spec, docker, "tag", local, remote)
	t.Cleanup(func() { _, _, _ = run(t, cmdSpec{env: env, timeout: time.Minute}, docker, "rmi", "-f", remote) })
	m := pushDigestRE.FindStringSubmatch(mustRun(t, cmdSpec{env: env, timeout: 5 * time.Minute}, docker, "push", remote))
	if m == nil {
		t.Fatal("no digest in docker push output")
	}
	v4 := m[1]

	// Keep the three newest v images; archive all rc images but the newest.
	policy := `{"rules":[` +
		`{"rulePriority":1,"selection":{"tagStatus":"tagged","tagPrefixList":["v"],"countType":"imageCountMoreThan","countNumber":3},"action":{"type":"expire"}},` +
		`{"rulePriority":2,"selection":{"tagStatus":"tagged","tagPrefixList":["rc"],"countType":"imageCountMoreThan","countNumber":1},` +
		`"action":{"type":"transition","targetStorageClass":"archive"}}]}`
	mustRun(t, spec, aws, "ecr", "put-lifecycle-policy", ep, "--repository-name", repo, "--lifecycle-policy-text", policy)

	wharf := os.Getenv("WHARF_BIN")
	wspec := cmdSpec{env: envWithoutPrefix("WHARF_")}
	out := mustRun(t, wspec, wharf, "lifecycle", "run", "--data", s.DataDir, "--account", testAccountID, "--dry-run")
	if !strings.Contains(out, v1) || !strings.Contains(out, rc1) || !strings.Contains(out, "would act on 2 images") {
		t.Fatalf("dry run:\n%s", out)
	}
	if got := arTags(arDescribe(t, spec, aws, ep, repo)); len(got) != 6 {
		t.Fatalf("the dry run changed images: %v", got)
	}
	out = mustRun(t, wspec, wharf, "lifecycle", "run", "--data", s.DataDir, "--account", testAccountID)
	if !strings.Contains(out, "acted on 2 images in 1 repositories") {
		t.Fatalf("run:\n%s", out)
	}

	// describe-images lists active images by default; ANY shows the
	// archived one with its status and archive time.
	if got, want := arTags(arDescribe(t, spec, aws, ep, repo)), []string{"rc2", "v2", "v3", "v4"}; !slices.Equal(got, want) {
		t.Fatalf("active images after the run: %v, want %v", got, want)
	}
	all := arDescribe(t, spec, aws, ep, repo, "--filter", "imageStatus=ANY")
	if _, ok := all[v1]; ok || len(all) != 5 {
		t.Fatalf("v1 not expired: %+v", all)
	}
	if d := all[rc1]; d.ImageStatus != "ARCHIVED" || d.LastArchivedAt == nil {
		t.Fatalf("rc1 after the run: %+v", d)
	}
	out = mustRun(t, spec, aws, "ecr", "get-lifecycle-policy", ep, "--repository-name", repo)
	if !strings.Contains(out, `"lastEvaluatedAt"`) {
		t.Fatalf("get-lifecycle-policy after a run: %s", out)
	}
	audit := mustRun(t, wspec, wharf, "audit", "--data", s.DataDir, "--action", "lifecycle.", "--json")
	if strings.Count(audit, "\n") != 1 || !strings.Contains(audit, `"action":"lifecycle.expire"`) ||
		!strings.Contains(audit, `"action":"lifecycle.transition"`) || !strings.Contains(audit, v1) || !strings.Contains(audit, rc1) {
		t.Fatalf("audit trail:\n%s", audit)
	}

	// Archive the docker image by hand: docker and crane cannot pull it and
	// say how to restore it.
	out = mustRun(t, spec, aws, "ecr", "update-image-storage-class", ep, "--repository-name", repo,
		"--image-id", "imageTag=v4", "--target-storage-class", "ARCHIVE")
	if !strings.Contains(out, `"imageStatus": "ARCHIVED"`) {
		t.Fatalf("update-image-storage-class ARCHIVE: %s", out)
	}
	_, stderr, err := run(t, spec, aws, "ecr", "update-image-storage-class", ep, "--repository-name", repo,
		"--image-id", "imageTag=v4", "--target-storage-class", "ARCHIVE")
	if err == nil || !strings.Contains(stderr, "ImageStorageClassUpdateNotSupportedException") {
		t.Fatalf("archiving twice: %v %s", err, stderr)
	}
	mustRun(t, spec, docker, "rmi", remote)
	restoreHint := "update-image-storage-class --repository-name " + repo + " --image-id imageDigest=" + v4 + " --target-storage-class STANDARD"
	_, stderr, err = run(t, cmdSpec{env: env, timeout: 2 * time.Minute}, docker, "pull", remote)
	if err == nil || !strings.Contains(stderr, "archived") || !strings.Contains(stderr, restoreHint) {
		t.Fatalf("docker pull of an archived image: err=%v\n%s", err, stderr)
	}
	_, stderr, err = run(t, spec, crane, "pull", "--insecure", remote, t.TempDir()+"/img.tar")
	if err == nil || !strings.Contains(stderr, "MANIFEST_UNKNOWN") || !strings.Contains(stderr, restoreHint) {
		t.Fatalf("crane pull of an archived image: err=%v\n%s", err, stderr)
	}

	// Restore: ACTIVATING, then ACTIVE after the restore delay.
	restoring := time.Now()
	out = mustRun(t, spec, aws, "ecr", "update-image-storage-class", ep, "--repository-name", repo,
		"--image-id", "imageDigest="+v4, "--target-storage-class", "STANDARD")
	if !strings.Contains(out, `"imageStatus": "ACTIVATING"`) {
		t.Fatalf("update-image-storage-class STANDARD: %s", out)
	}
	if d := arDescribe(t, spec, aws, ep, repo, "--image-ids", "imageTag=v4")[v4]; d.ImageStatus != "ACTIVATING" &&
		time.Since(restoring) < restoreDelay {
		t.Fatalf("while restoring: %+v", d)
	}
	deadline := time.Now().Add(restoreDelay + time.Minute)
	for {
		d := arDescribe(t, spec, aws, ep, repo, "--image-ids", "imageTag=v4")[v4]
		if d.ImageStatus == "ACTIVE" {
			if time.Since(restoring) < restoreDelay {
				t.Fatalf("restored within %v, before the restore delay", time.Since(restoring))
			}
			if d.LastActivatedAt == nil || d.LastArchivedAt == nil || *d.LastActivatedAt < *d.LastArchivedAt {
				t.Fatalf("restored: %+v", d)
			}
			break
		}
		if d.ImageStatus != "ACTIVATING" || time.Now().After(deadline) {
			t.Fatalf("restore not done: %+v", d)
		}
		time.Sleep(500 * time.Millisecond)
	}
	mustRun(t, cmdSpec{env: env, timeout: 5 * time.Minute}, docker, "pull", remote)

	// The pull is recorded (batched, within seconds): the root is not
	// excluded.
	deadline = time.Now().Add(20 * time.Second)
	for arDescribe(t, spec, aws, ep, repo, "--image-ids", "imageTag=v4")[v4].LastRecordedPullTime == nil {
		if time.Now().After(deadline) {
			t.Fatal("lastRecordedPullTime not recorded after a docker pull")
		}
		time.Sleep(500 * time.Millisecond)
	}

	// Pull-time update exclusions round trip.
	arn := "arn:aws:iam::" + testAccountID + ":role/ci-scanner"
	out = mustRun(t, spec, aws, "ecr", "register-pull-time-update-exclusion", ep, "--principal-arn", arn)
	var reg struct {
		PrincipalArn string
		CreatedAt    float64
	}
	if err := json.Unmarshal([]byte(out), &reg); err != nil || reg.PrincipalArn != arn || reg.CreatedAt == 0 {
		t.Fatalf("register-pull-time-update-exclusion: %v %s", err, out)
	}
	_, stderr, err = run(t, spec, aws, "ecr", "register-pull-time-update-exclusion", ep, "--principal-arn", arn)
	if err == nil || !strings.Contains(stderr, "ExclusionAlreadyExistsException") {
		t.Fatalf("duplicate exclusion: %v %s", err, stderr)
	}
	out = mustRun(t, spec, aws, "ecr", "list-pull-time-update-exclusions", ep)
	var list struct{ PullTimeUpdateExclusions []string }
	if err := json.Unmarshal([]byte(out), &list); err != nil || !slices.Equal(list.PullTimeUpdateExclusions, []string{arn}) {
		t.Fatalf("list-pull-time-update-exclusions: %v %s", err, out)
	}
	mustRun(t, spec, aws, "ecr", "deregister-pull-time-update-exclusion", ep, "--principal-arn", arn)
	_, stderr, err = run(t, spec, aws, "ecr", "deregister-pull-time-update-exclusion", ep, "--principal-arn", arn)
	if err == nil || !strings.Contains(stderr, "ExclusionNotFoundException") {
		t.Fatalf("deregister twice: %v %s", err, stderr)
	}
	out = mustRun(t, spec, aws, "ecr", "list-pull-time-update-exclusions", ep)
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list.PullTimeUpdateExclusions) != 0 {
		t.Fatalf("list after deregister: %v %s", err, out)
	}
}

// TestLifecycleRunnerPeriodic: with a short lifecycle_interval the server
// applies the policy by itself (the periodic job and its per-repository
// job), once per interval.
func TestLifecycleRunnerPeriodic(t *testing.T) {
	s := startWharf(t, "--lifecycle-interval", "2s")
	aws := requireAWSCLI(t)
	ce := newClientEnv(t)
	spec := cmdSpec{env: awsEnv(ce, s.User, s.Pass)}
	ep := "--endpoint-url=" + s.URL
	const repo = "e2e/periodic"
	mustRun(t, spec, aws, "ecr", "create-repository", ep, "--repository-name", repo)
	for _, tag := range []string{"a", "b", "c"} {
		lcPushImage(t, s, repo, tag)
	}
	mustRun(t, spec, aws, "ecr", "put-lifecycle-policy", ep, "--repository-name", repo, "--lifecycle-policy-text",
		`{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}`)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if got := arTags(arDescribe(t, spec, aws, ep, repo)); slices.Equal(got, []string{"c"}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server did not apply the policy: %v", arTags(arDescribe(t, spec, aws, ep, repo)))
		}
		time.Sleep(500 * time.Millisecond)
	}
	out := mustRun(t, spec, aws, "ecr", "get-lifecycle-policy", ep, "--repository-name", repo)
	if !strings.Contains(out, `"lastEvaluatedAt"`) {
		t.Fatalf("get-lifecycle-policy: %s", out)
	}
}
