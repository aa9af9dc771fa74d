package migrate_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wharfhq/wharf/internal/app/apptest"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"github.com/wharfhq/wharf/internal/app"
	"github.com/wharfhq/wharf/internal/config"
	"github.com/wharfhq/wharf/internal/registry"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// The fixture is a realistic embedded registry built through the real
// server (app.New): images, an index, a referrer and an untagged image
// pushed over /v2/; a layer mounted across repositories; tags moved twice
// and one deleted; repository, registry and IAM policies, resource tags, an
// account setting, a creation template and a lifecycle policy set through
// the ECR API (AWS SDK); IAM users with keys; pulls recorded; a second
// account with its own repository.

const (
	accountA = "210987654321"
	accountB = "300000000003"
	keyB     = "AKIASECONDACCOUNT001"
	secretB  = "second-account-secret"
	ciKey    = "AKIAMIGRATECIUSER001"
	ciSecret = "ci-user-secret"
	opsKey   = "AKIAMIGRATEOPSUSER01"
	opsSec   = "ops-user-secret"
	region   = "us-east-1"

	ociManifest = "application/vnd.oci.image.manifest.v1+json"
	ociIndex    = "application/vnd.oci.image.index.v1+json"

	repoPolicy = `{"Version":"2012-10-17","Statement":[{"Sid":"PullFromB","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` +
		accountB + `:root"},"Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer","ecr:BatchCheckLayerAvailability"]}]}`
	registryPolicy = `{"Version":"2012-10-17","Statement":[{"Sid":"Replication","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` +
		accountB + `:root"},"Action":["ecr:CreateRepository","ecr:ReplicateImage"],"Resource":"arn:aws:ecr:us-east-1:` + accountA + `:repository/*"}]}`
	ciPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer","ecr:BatchCheckLayerAvailability"],` +
		`"Resource":"arn:aws:ecr:us-east-1:` + accountA + `:repository/team/app"}]}`
	lifecyclePolicy = `{"rules":[{"rulePriority":1,"description":"keep the last 10 v images",` +
		`"selection":{"tagStatus":"tagged","tagPatternList":["v*"],"countType":"imageCountMoreThan","countNumber":10},"action":{"type":"expire"}}]}`
)

type fixture struct {
	dir                   string // the source data directory
	adminKey, adminSec    string // account A's admin key, generated at first start
	token                 string // an ECR registry token issued by the source (for Basic AWS:<token>)
	img3, referrer, multi string
}

func sha(b []byte) string { return fmt.Sprintf("sha256:%x", sha256.Sum256(b)) }

// data returns n deterministic pseudo-random bytes for a seed.
func data(seed string, n int) []byte {
	s := sha256.Sum256([]byte(seed))
	r := rand.New(rand.NewChaCha8(s))
	b := make([]byte, n+8)
	for i := 0; i < n; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], r.Uint64())
	}
	return b[:n]
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// httpc is a /v2/ client of one server.
type httpc struct {
	t    testing.TB
	base string
}

func (c httpc) do(method, path string, body []byte, user, pass string, hdr ...string) (*http.Response, []byte) {
	c.t.Helper()
	return apptest.Do(c.t, method, c.base+path, body, user, pass, hdr...)
}

func ecrClient(base, id, secret string) *ecr.Client {
	return ecr.New(ecr.Options{
		Region:           region,
		Credentials:      credentials.NewStaticCredentialsProvider(id, secret, ""),
		BaseEndpoint:     aws.String(base),
		RetryMaxAttempts: 1,
	})
}

// try pairs a result with its error; must then fails the test on the error:
// try(f()).must(t).
func try[T any](v T, err error) result[T] { return result[T]{v, err} }

type result[T any] struct {
	v   T
	err error
}

func (r result[T]) must(t testing.TB) T {
	t.Helper()
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.v
}

func check(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

type pusher struct {
	c          httpc
	user, pass string
}

func (p pusher) blob(repo string, b []byte) string {
	p.c.t.Helper()
	d := sha(b)
	res, body := p.c.do("POST", "/v2/"+repo+"/blobs/uploads/?digest="+d, b, p.user, p.pass)
	if res.StatusCode != 201 {
		p.c.t.Fatalf("push blob to %s: %d %s", repo, res.StatusCode, body)
	}
	return d
}

func (p pusher) mount(repo, from, d string) {
	p.c.t.Helper()
	res, body := p.c.do("POST", "/v2/"+repo+"/blobs/uploads/?mount="+d+"&from="+from, nil, p.user, p.pass)
	if res.StatusCode != 201 {
		p.c.t.Fatalf("mount %s into %s: %d %s", d, repo, res.StatusCode, body)
	}
}

func (p pusher) manifest(repo, ref, mediaType string, m []byte) string {
	p.c.t.Helper()
	res, body := p.c.do("PUT", "/v2/"+repo+"/manifests/"+ref, m, p.user, p.pass, "Content-Type", mediaType)
	if res.StatusCode != 201 {
		p.c.t.Fatalf("push manifest %s:%s: %d %s", repo, ref, res.StatusCode, body)
	}
	return sha(m)
}

type desc struct {
	MediaType string            `json:"mediaType"`
	Digest    string            `json:"digest"`
	Size      int               `json:"size"`
	Platform  map[string]string `json:"platform,omitempty"`
}

func descOf(mediaType string, b []byte) desc {
	return desc{MediaType: mediaType, Digest: sha(b), Size: len(b)}
}

func jsonBytes(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	check(t, err)
	return b
}

// image pushes a config and layers (already pushed layers are skipped) and
// the manifest, returning the manifest bytes.
func (p pusher) image(repo, ref, seed string, layers ...[]byte) []byte {
	cfg := []byte(`{"architecture":"amd64","os":"linux","config":{"Env":["SEED=` + seed + `"]}}`)
	p.blob(repo, cfg)
	var ls []desc
	for _, l := range layers {
		p.blob(repo, l)
		ls = append(ls, descOf("application/vnd.oci.image.layer.v1.tar+gzip", l))
	}
	m := jsonBytes(p.c.t, map[string]any{
		"schemaVersion": 2, "mediaType": ociManifest,
		"config": descOf("application/vnd.oci.image.config.v1+json", cfg), "layers": ls,
	})
	p.manifest(repo, ref, ociManifest, m)
	return m
}

// buildSource builds the fixture registry in a temporary directory and
// stops its server.
func buildSource(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{dir: t.TempDir()}
	cfg := config.Defaults()
	cfg.DataDir = f.dir
	cfg.AccountID = accountA
	a := try(app.New(ctx, cfg, discard())).must(t)
	srv := httptest.NewServer(a.Handler())
	defer func() { srv.Close(); a.Close() }()
	f.adminKey, f.adminSec = a.Bootstrap.AccessKeyID, a.Bootstrap.Secret
	if !a.Bootstrap.Created {
		t.Fatal("no admin key generated")
	}
	m := a.Stores.Meta
	adminECR := ecrClient(srv.URL, f.adminKey, f.adminSec)
	p := pusher{c: httpc{t, srv.URL}, user: f.adminKey, pass: f.adminSec}

	// Repositories with settings and resource tags.
	try(adminECR.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("team/app"),
		ImageScanningConfiguration: &types.ImageScanningConfiguration{ScanOnPush: true},
		Tags:                       []types.Tag{{Key: aws.String("env"), Value: aws.String("prod")}, {Key: aws.String("team"), Value: aws.String("platform")}}})).must(t)
	try(adminECR.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("team/locked"),
		ImageTagMutability: types.ImageTagMutabilityImmutable})).must(t)
	try(adminECR.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("base/alpine"),
		Tags: []types.Tag{{Key: aws.String("tier"), Value: aws.String("base")}}})).must(t)
	try(adminECR.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("tools/cli")})).must(t)

	// Images. The shared layer is pushed once and mounted elsewhere; the
	// big layer spans two S3 parts.
	shared := data("shared layer", 3<<20+17)
	img1 := p.image("team/app", "v1", "one", shared, data("app one", 4096))
	p.manifest("team/app", "latest", ociManifest, img1)
	img2 := p.image("team/app", "v2", "two", shared, data("app two", 70000))
	p.manifest("team/app", "stable", ociManifest, img2)
	p.manifest("team/app", "latest", ociManifest, img2) // moved once
	img3 := p.image("team/app", "latest", "three", data("big layer", 9<<20+123), data("app three", 10))
	f.img3 = sha(img3) // latest moved twice
	p.image("team/app", "v4", "four", data("app four", 1))
	// An untagged image (pushed by digest) and deleting a tag.
	cfg5 := []byte(`{"architecture":"arm64","os":"linux"}`)
	p.blob("team/app", cfg5)
	untagged := jsonBytes(t, map[string]any{"schemaVersion": 2, "mediaType": ociManifest,
		"config": descOf("application/vnd.oci.image.config.v1+json", cfg5), "layers": []desc{descOf("application/vnd.oci.image.layer.v1.tar+gzip", shared)}})
	p.manifest("team/app", sha(untagged), ociManifest, untagged)
	try(adminECR.BatchDeleteImage(ctx, &ecr.BatchDeleteImageInput{RepositoryName: aws.String("team/app"),
		ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("v4")}}})).must(t)

	// An index of two images, and a referrer of img3.
	d1, d2 := descOf(ociManifest, img1), descOf(ociManifest, untagged)
	d1.Platform = map[string]string{"architecture": "amd64", "os": "linux"}
	d2.Platform = map[string]string{"architecture": "arm64", "os": "linux"}
	index := jsonBytes(t, map[string]any{"schemaVersion": 2, "mediaType": ociIndex, "manifests": []desc{d1, d2}})
	f.multi = p.manifest("team/app", "multi", ociIndex, index)
	empty := []byte("{}")
	p.blob("team/app", empty)
	sbom := []byte(`{"spdxVersion":"SPDX-2.3","name":"app"}`)
	p.blob("team/app", sbom)
	ref := jsonBytes(t, map[string]any{"schemaVersion": 2, "mediaType": ociManifest,
		"artifactType": "application/spdx+json",
		"config":       descOf("application/vnd.oci.empty.v1+json", empty),
		"layers":       []desc{descOf("application/spdx+json", sbom)},
		"subject":      descOf(ociManifest, img3),
		"annotations":  map[string]string{"org.opencontainers.image.created": "2024-05-06T07:08:09Z"}})
	f.referrer = p.manifest("team/app", sha(ref), ociManifest, ref)

	p.mount("base/alpine", "team/app", sha(shared))
	p.image("base/alpine", "3.20", "alpine")
	p.image("team/locked", "v1", "locked", data("locked layer", 100))
	p.image("team/locked", "v0", "archived", data("archived layer", 100))
	// An archived image, one being restored (its job stays with the
	// source), and a pull-time update exclusion.
	for _, tag := range []string{"v0", "v1"} {
		try(adminECR.UpdateImageStorageClass(ctx, &ecr.UpdateImageStorageClassInput{RepositoryName: aws.String("team/locked"),
			ImageId: &types.ImageIdentifier{ImageTag: aws.String(tag)}, TargetStorageClass: types.TargetStorageClassArchive})).must(t)
	}
	try(adminECR.UpdateImageStorageClass(ctx, &ecr.UpdateImageStorageClassInput{RepositoryName: aws.String("team/locked"),
		ImageId: &types.ImageIdentifier{ImageTag: aws.String("v1")}, TargetStorageClass: types.TargetStorageClassStandard})).must(t)
	try(adminECR.RegisterPullTimeUpdateExclusion(ctx, &ecr.RegisterPullTimeUpdateExclusionInput{
		PrincipalArn: aws.String("arn:aws:iam::" + accountA + ":user/ci")})).must(t)
	// An abandoned push: a linked blob no manifest references.
	p.blob("tools/cli", data("abandoned", 5000))

	// Policies and settings through the ECR API.
	try(adminECR.SetRepositoryPolicy(ctx, &ecr.SetRepositoryPolicyInput{RepositoryName: aws.String("team/app"), PolicyText: aws.String(repoPolicy)})).must(t)
	try(adminECR.PutRegistryPolicy(ctx, &ecr.PutRegistryPolicyInput{PolicyText: aws.String(registryPolicy)})).must(t)
	try(adminECR.PutAccountSetting(ctx, &ecr.PutAccountSettingInput{Name: aws.String("BASIC_SCAN_TYPE_VERSION"), Value: aws.String("CLAIR")})).must(t)
	try(adminECR.CreateRepositoryCreationTemplate(ctx, &ecr.CreateRepositoryCreationTemplateInput{Prefix: aws.String("auto"),
		AppliedFor:   []types.RCTAppliedFor{types.RCTAppliedForCreateOnPush},
		Description:  aws.String("repositories created on push"),
		ResourceTags: []types.Tag{{Key: aws.String("origin"), Value: aws.String("push")}}})).must(t)
	try(adminECR.PutLifecyclePolicy(ctx, &ecr.PutLifecyclePolicyInput{RepositoryName: aws.String("team/app"), LifecyclePolicyText: aws.String(lifecyclePolicy)})).must(t)
	appRepo := try(a.Registry.Repository(ctx, accountA, "team/app", false)).must(t)
	try(a.Registry.SetPlatformGuard(ctx, appRepo, true, registry.Actor{Principal: "fixture", Via: "test"})).must(t)
	// Finding suppressions: a repository's (one expired) and a registry-wide one.
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	for _, sup := range []meta.Suppression{
		{AccountID: accountA, Repository: "team/app", FindingID: "CVE-2024-1", Package: "openssl", Justification: "not reachable", ExpiresAt: t0.Add(24 * time.Hour), CreatedBy: "fixture", CreatedAt: t0},
		{AccountID: accountA, Repository: "team/app", FindingID: "CVE-2024-2", Digest: f.img3, Justification: "expired", ExpiresAt: t0.Add(time.Hour), CreatedBy: "fixture", CreatedAt: t0},
		{AccountID: accountA, Repository: meta.RegistryWide, FindingID: "CVE-2024-3", Justification: "everywhere", ExpiresAt: t0.Add(48 * time.Hour), CreatedBy: "fixture", CreatedAt: t0},
	} {
		if _, _, err := a.Stores.Meta.PutSuppression(ctx, sup); err != nil {
			t.Fatal(err)
		}
	}
	try(adminECR.TagResource(ctx, &ecr.TagResourceInput{ResourceArn: aws.String("arn:aws:ecr:us-east-1:" + accountA + ":repository/team/locked"),
		Tags: []types.Tag{{Key: aws.String("compliance"), Value: aws.String("pci")}}})).must(t)

	// IAM: user ci (pull team/app only) and user ops with an inactive key.
	now := time.Now()
	check(t, m.CreateUser(ctx, meta.User{AccountID: accountA, Name: "ci", CreatedAt: now}))
	check(t, m.PutAccessKey(ctx, meta.AccessKey{AccessKeyID: ciKey, Secret: ciSecret, AccountID: accountA, UserName: "ci", Active: true, CreatedAt: now}))
	check(t, m.PutUserPolicy(ctx, meta.UserPolicy{AccountID: accountA, UserName: "ci", Name: "pull-app", Document: ciPolicy}))
	check(t, m.CreateUser(ctx, meta.User{AccountID: accountA, Name: "ops", CreatedAt: now}))
	check(t, m.PutAccessKey(ctx, meta.AccessKey{AccessKeyID: opsKey, Secret: opsSec, AccountID: accountA, UserName: "ops", Active: false, CreatedAt: now}))

	// A second account, with a repository and an image pushed through the
	// ECR layer API.
	check(t, m.CreateAccount(ctx, meta.Account{ID: accountB, Name: "second", CreatedAt: now}))
	check(t, m.PutAccessKey(ctx, meta.AccessKey{AccessKeyID: keyB, Secret: secretB, AccountID: accountB, Active: true, CreatedAt: now}))
	bECR := ecrClient(srv.URL, keyB, secretB)
	try(bECR.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("other/thing"),
		Tags: []types.Tag{{Key: aws.String("owner"), Value: aws.String("b")}}})).must(t)
	bCfg := []byte(`{"architecture":"amd64","os":"linux","owner":"b"}`)
	bLayer := data("second account layer", 20000)
	for _, b := range [][]byte{bCfg, bLayer} {
		up := try(bECR.InitiateLayerUpload(ctx, &ecr.InitiateLayerUploadInput{RepositoryName: aws.String("other/thing")})).must(t)
		try(bECR.UploadLayerPart(ctx, &ecr.UploadLayerPartInput{RepositoryName: aws.String("other/thing"), UploadId: up.UploadId,
			PartFirstByte: aws.Int64(0), PartLastByte: aws.Int64(int64(len(b) - 1)), LayerPartBlob: b})).must(t)
		try(bECR.CompleteLayerUpload(ctx, &ecr.CompleteLayerUploadInput{RepositoryName: aws.String("other/thing"), UploadId: up.UploadId,
			LayerDigests: []string{sha(b)}})).must(t)
	}
	bManifest := jsonBytes(t, map[string]any{"schemaVersion": 2, "mediaType": ociManifest,
		"config": descOf("application/vnd.oci.image.config.v1+json", bCfg),
		"layers": []desc{descOf("application/vnd.oci.image.layer.v1.tar+gzip", bLayer)}})
	try(bECR.PutImage(ctx, &ecr.PutImageInput{RepositoryName: aws.String("other/thing"), ImageManifest: aws.String(string(bManifest)),
		ImageManifestMediaType: aws.String(ociManifest), ImageTag: aws.String("1.0")})).must(t)

	// Pulls, recorded.
	for _, ref := range []string{"team/app/manifests/latest", "base/alpine/manifests/3.20", "team/app/manifests/multi"} {
		if res, body := p.c.do("GET", "/v2/"+ref, nil, f.adminKey, f.adminSec, "Accept", ociManifest+","+ociIndex); res.StatusCode != 200 {
			t.Fatalf("pull %s: %d %s", ref, res.StatusCode, body)
		}
	}
	check(t, a.Registry.FlushPulls(ctx))

	// A registry token, to use on the destination (same token key).
	tok := try(adminECR.GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{})).must(t)
	raw := try(base64.StdEncoding.DecodeString(aws.ToString(tok.AuthorizationData[0].AuthorizationToken))).must(t)
	user, pass, ok := strings.Cut(string(raw), ":")
	if !ok || user != "AWS" {
		t.Fatalf("token %q", raw)
	}
	f.token = pass
	return f
}
