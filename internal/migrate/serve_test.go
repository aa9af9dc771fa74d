package migrate_test

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"github.com/wharfhq/wharf/internal/app"
	"github.com/wharfhq/wharf/internal/config"
	"github.com/wharfhq/wharf/internal/migrate"
	"github.com/wharfhq/wharf/internal/registry"
)

// serveAndCheck starts a server on a migrated registry, as an operator
// would (the token key and admin credentials file copied over, nothing
// else), and checks that it serves everything the source held, to the old
// credentials, with the old policies.
func serveAndCheck(t *testing.T, f *fixture, want *snapshot, loc migrate.Location) {
	t.Helper()
	ctx := context.Background()
	cfg := config.Defaults()
	if strings.Contains(loc.Metadata, "://") {
		cfg.DataDir = t.TempDir()
		cfg.Metadata, cfg.Blobs = loc.Metadata, loc.Blobs
	} else {
		cfg.DataDir = loc.Metadata
	}
	for _, name := range []string{"token-key", app.CredentialsFile} {
		b, err := os.ReadFile(filepath.Join(f.dir, name))
		check(t, err)
		check(t, os.WriteFile(filepath.Join(cfg.DataDir, name), b, 0o600))
	}
	a := try(app.New(ctx, cfg, discard())).must(t)
	srv := httptest.NewServer(a.Handler())
	defer func() { srv.Close(); a.Close() }()
	if a.Bootstrap.Created || a.Bootstrap.AccountID != accountA || a.Bootstrap.AccessKeyID != f.adminKey {
		t.Fatalf("bootstrap on the copy: %+v (want the source's account %s and admin key, none created)", a.Bootstrap, accountA)
	}
	c := httpc{t, srv.URL}
	accept := ociManifest + "," + ociIndex
	// The image being restored on the source is being restored on the copy,
	// by a job of its own.
	if js := try(a.Stores.Meta.ListJobs(ctx, registry.KindRestore)).must(t); len(js) != 1 {
		t.Fatalf("restore jobs on the copy: %+v", js)
	}

	// Every manifest (by digest and by tag, byte for byte) and every blob
	// (hashed) of the default account, as its admin.
	var manifests, blobs int
	for key, rs := range want.Repos {
		if !strings.HasPrefix(key, accountA+"/") {
			continue
		}
		name := rs.Repo.Name
		content := map[string][]byte{}
		archived := map[string]bool{}
		for _, m := range rs.Manifests {
			content[m.Digest] = m.Content
			res, body := c.do("GET", "/v2/"+name+"/manifests/"+m.Digest, nil, f.adminKey, f.adminSec, "Accept", accept)
			if !registry.Active(m) {
				// Archived (or being restored) on the copy too.
				archived[m.Digest] = true
				if res.StatusCode != 404 || !strings.Contains(string(body), m.Status) && !strings.Contains(string(body), "archived") {
					t.Fatalf("GET %s@%s (%s): %d %s", name, m.Digest, m.Status, res.StatusCode, body)
				}
				continue
			}
			if res.StatusCode != 200 || !bytes.Equal(body, m.Content) || res.Header.Get("Docker-Content-Digest") != m.Digest {
				t.Fatalf("GET %s@%s: %d, %d bytes", name, m.Digest, res.StatusCode, len(body))
			}
			manifests++
		}
		for _, tag := range rs.Tags {
			res, body := c.do("GET", "/v2/"+name+"/manifests/"+tag.Name, nil, f.adminKey, f.adminSec, "Accept", accept)
			if archived[tag.Digest] {
				if res.StatusCode != 404 {
					t.Fatalf("GET %s:%s of an archived image: %d", name, tag.Name, res.StatusCode)
				}
				continue
			}
			if res.StatusCode != 200 || !bytes.Equal(body, content[tag.Digest]) {
				t.Fatalf("GET %s:%s: %d", name, tag.Name, res.StatusCode)
			}
		}
		for _, l := range rs.Links {
			d := l[:strings.LastIndex(l, ":")]
			res, body := c.do("GET", "/v2/"+name+"/blobs/"+d, nil, f.adminKey, f.adminSec)
			if res.StatusCode != 200 || sha(body) != d {
				t.Fatalf("GET blob %s in %s: %d, %d bytes hashing to %s", d, name, res.StatusCode, len(body), sha(body))
			}
			blobs++
		}
	}
	if manifests == 0 || blobs == 0 {
		t.Fatal("nothing checked")
	}

	// The old credentials and policies: a registry token issued by the
	// source, the IAM user's key and identity policy, an inactive key, and
	// another account's access through the repository policy.
	status := func(path, user, pass string) int {
		res, _ := c.do("GET", "/v2/"+path, nil, user, pass, "Accept", accept)
		return res.StatusCode
	}
	for _, tc := range []struct {
		what, path, user, pass string
		want                   int
	}{
		{"source-issued token", "team/app/manifests/latest", "AWS", f.token, 200},
		{"user ci, allowed", "team/app/manifests/latest", ciKey, ciSecret, 200},
		{"user ci, not in its policy", "base/alpine/manifests/3.20", ciKey, ciSecret, 403},
		{"inactive key of ops", "team/app/manifests/latest", opsKey, opsSec, 401},
		{"account B, allowed by the repository policy", "team/app/manifests/v1", keyB, secretB, 200},
		{"account B, no repository policy", "base/alpine/manifests/3.20", keyB, secretB, 403},
		{"wrong secret", "team/app/manifests/latest", f.adminKey, "nope", 401},
	} {
		if got := status(tc.path, tc.user, tc.pass); got != tc.want {
			t.Errorf("%s: GET %s = %d, want %d", tc.what, tc.path, got, tc.want)
		}
	}
	res, body := c.do("GET", "/v2/team/app/referrers/"+f.img3, nil, f.adminKey, f.adminSec)
	if res.StatusCode != 200 || !bytes.Contains(body, []byte(f.referrer)) || !bytes.Contains(body, []byte("application/spdx+json")) {
		t.Errorf("referrers of %s: %d %s", f.img3, res.StatusCode, body)
	}

	// Settings and policies through the ECR API.
	adm := ecrClient(srv.URL, f.adminKey, f.adminSec)
	rp := try(adm.GetRepositoryPolicy(ctx, &ecr.GetRepositoryPolicyInput{RepositoryName: aws.String("team/app")})).must(t)
	if aws.ToString(rp.PolicyText) != repoPolicy {
		t.Errorf("repository policy %s", aws.ToString(rp.PolicyText))
	}
	gp := try(adm.GetRegistryPolicy(ctx, &ecr.GetRegistryPolicyInput{})).must(t)
	if aws.ToString(gp.PolicyText) != registryPolicy {
		t.Errorf("registry policy %s", aws.ToString(gp.PolicyText))
	}
	lp := try(adm.GetLifecyclePolicy(ctx, &ecr.GetLifecyclePolicyInput{RepositoryName: aws.String("team/app")})).must(t)
	if aws.ToString(lp.LifecyclePolicyText) != lifecyclePolicy {
		t.Errorf("lifecycle policy %s", aws.ToString(lp.LifecyclePolicyText))
	}
	st := try(adm.GetAccountSetting(ctx, &ecr.GetAccountSettingInput{Name: aws.String("BASIC_SCAN_TYPE_VERSION")})).must(t)
	if aws.ToString(st.Value) != "CLAIR" {
		t.Errorf("account setting %s", aws.ToString(st.Value))
	}
	tpl := try(adm.DescribeRepositoryCreationTemplates(ctx, &ecr.DescribeRepositoryCreationTemplatesInput{})).must(t)
	if len(tpl.RepositoryCreationTemplates) != 1 || aws.ToString(tpl.RepositoryCreationTemplates[0].Prefix) != "auto" {
		t.Errorf("creation templates %+v", tpl.RepositoryCreationTemplates)
	}
	tags := try(adm.ListTagsForResource(ctx, &ecr.ListTagsForResourceInput{ResourceArn: aws.String("arn:aws:ecr:us-east-1:" + accountA + ":repository/team/app")})).must(t)
	if len(tags.Tags) != 2 {
		t.Errorf("resource tags %+v", tags.Tags)
	}
	repos := try(adm.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{"team/locked", "team/app"}})).must(t)
	for _, r := range repos.Repositories {
		switch aws.ToString(r.RepositoryName) {
		case "team/locked":
			if r.ImageTagMutability != types.ImageTagMutabilityImmutable {
				t.Errorf("team/locked is %s", r.ImageTagMutability)
			}
		case "team/app":
			if r.ImageScanningConfiguration == nil || !r.ImageScanningConfiguration.ScanOnPush {
				t.Error("team/app lost scan on push")
			}
		}
	}
	// Push and pull times, as ECR reports them.
	var img3 imageTimes
	for _, m := range want.Repos[accountA+"/team/app"].Manifests {
		if m.Digest == f.img3 {
			img3 = imageTimes{m.PushedAt, m.LastPullAt}
		}
	}
	im := try(adm.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("team/app"),
		ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("latest")}}})).must(t)
	if len(im.ImageDetails) != 1 || !near(im.ImageDetails[0].ImagePushedAt, img3.pushed) || !near(im.ImageDetails[0].LastRecordedPullTime, img3.pulled) ||
		img3.pulled.IsZero() {
		t.Errorf("image details %+v, want pushed %v, pulled %v", im.ImageDetails, img3.pushed, img3.pulled)
	}
	// The other account's image, through its own credentials.
	b := ecrClient(srv.URL, keyB, secretB)
	bi := try(b.BatchGetImage(ctx, &ecr.BatchGetImageInput{RepositoryName: aws.String("other/thing"),
		ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("1.0")}}})).must(t)
	if len(bi.Images) != 1 || len(bi.Failures) != 0 {
		t.Errorf("account B's image: %+v", bi)
	}

	// And the copy takes new pushes.
	p := pusher{c: c, user: f.adminKey, pass: f.adminSec}
	m := p.image("team/app", "after-migration", "after", data("after migration", 1000))
	res, body = c.do("GET", "/v2/team/app/manifests/after-migration", nil, f.adminKey, f.adminSec, "Accept", accept)
	if res.StatusCode != 200 || !bytes.Equal(body, m) {
		t.Errorf("pull after push: %d", res.StatusCode)
	}
}

type imageTimes struct{ pushed, pulled time.Time }

// near compares an ECR timestamp (sent with millisecond precision) with a
// stored time.
func near(got *time.Time, want time.Time) bool {
	if got == nil {
		return want.IsZero()
	}
	d := got.Sub(want)
	return d < time.Millisecond && d > -time.Millisecond
}
