package wharfapi_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/wharfhq/wharf/internal/config"
	"github.com/wharfhq/wharf/internal/store/meta"
)

type tagEvent struct {
	ImageTag        string  `json:"imageTag"`
	FromImageDigest string  `json:"fromImageDigest"`
	ToImageDigest   string  `json:"toImageDigest"`
	MovedAt         float64 `json:"movedAt"`
	Actor           string  `json:"actor"`
	Via             string  `json:"via"`
}

type historyOut struct {
	TagEvents []tagEvent `json:"tagEvents"`
	NextToken string     `json:"nextToken"`
}

func TestListTagHistoryAndRollback(t *testing.T) {
	e := newEnv(t)
	const repo = "team/app"
	a := e.mustPush(repo, "latest", "linux/amd64", "a")
	b := e.mustPush(repo, "latest", "linux/amd64", "b")
	e.mustPush(repo, "v1", "linux/amd64", "v1")

	all := call[historyOut](e, e.root, "ListTagHistory", map[string]any{"repositoryName": repo})
	if len(all.TagEvents) != 3 || all.NextToken != "" {
		t.Fatalf("history %+v", all)
	}
	if ev := all.TagEvents[1]; ev.ImageTag != "latest" || ev.FromImageDigest != a || ev.ToImageDigest != b || ev.Via != "oci" ||
		ev.Actor != "arn:aws:iam::"+account+":root" || ev.MovedAt == 0 {
		t.Fatalf("event %+v", ev)
	}
	// One tag, paged.
	p1 := call[historyOut](e, e.root, "ListTagHistory", map[string]any{"repositoryName": repo, "imageTag": "latest", "maxResults": 1})
	if len(p1.TagEvents) != 1 || p1.TagEvents[0].ToImageDigest != b || p1.NextToken == "" {
		t.Fatalf("page 1 %+v", p1)
	}
	p2 := call[historyOut](e, e.root, "ListTagHistory", map[string]any{"repositoryName": repo, "imageTag": "latest", "maxResults": 1, "nextToken": p1.NextToken})
	if len(p2.TagEvents) != 1 || p2.TagEvents[0].ToImageDigest != a || p2.TagEvents[0].FromImageDigest != "" || p2.NextToken != "" {
		t.Fatalf("page 2 %+v", p2)
	}
	// A token continues only its own listing.
	if ae := callErr(e, e.root, "ListTagHistory", map[string]any{"repositoryName": repo, "imageTag": "v1", "nextToken": p1.NextToken}); ae.Code != "InvalidParameterException" {
		t.Fatalf("foreign token: %v", ae)
	}

	// Roll back one step.
	type rbOut struct {
		RegistryID, RepositoryName, ImageTag, FromImageDigest, ToImageDigest string
		Moved                                                                bool
	}
	rb := call[rbOut](e, e.root, "RollbackTag", map[string]any{"repositoryName": repo, "imageTag": "latest", "steps": 1})
	if rb.FromImageDigest != b || rb.ToImageDigest != a || !rb.Moved || rb.RegistryID != account {
		t.Fatalf("rollback %+v", rb)
	}
	if got := e.digestOf(repo, "latest"); got != a {
		t.Fatalf("latest after rollback: %s", got)
	}
	h := call[historyOut](e, e.root, "ListTagHistory", map[string]any{"repositoryName": repo, "imageTag": "latest", "maxResults": 1})
	if h.TagEvents[0].Via != "rollback" || h.TagEvents[0].ToImageDigest != a {
		t.Fatalf("rollback not in history: %+v", h.TagEvents[0])
	}
	au, err := e.app.Stores.Meta.ListAudit(context.Background(), meta.AuditFilter{Action: "tag.rollback"})
	if err != nil || len(au) != 1 || au[0].Repository != repo || au[0].Digest != a || au[0].Actor != "arn:aws:iam::"+account+":root" {
		t.Fatalf("audit %+v %v", au, err)
	}
	rb = call[rbOut](e, e.root, "RollbackTag", map[string]any{"repositoryName": repo, "imageTag": "latest", "imageDigest": b})
	if e.digestOf(repo, "latest") != b {
		t.Fatalf("rollback to digest: %+v", rb)
	}

	for _, tc := range []struct {
		name string
		in   map[string]any
		code string
		msg  string
	}{
		{"no repository", map[string]any{"repositoryName": "team/none", "imageTag": "latest", "steps": 1}, "RepositoryNotFoundException", "team/none"},
		{"too far", map[string]any{"repositoryName": repo, "imageTag": "latest", "steps": 50}, "InvalidParameterException", "recorded moves"},
		{"both", map[string]any{"repositoryName": repo, "imageTag": "latest", "steps": 1, "imageDigest": a}, "InvalidParameterException", "either"},
		{"neither", map[string]any{"repositoryName": repo, "imageTag": "latest"}, "InvalidParameterException", "either"},
		{"absent image", map[string]any{"repositoryName": repo, "imageTag": "latest", "imageDigest": "sha256:" + strings.Repeat("1", 64)}, "ImageNotFoundException", "not in repository"},
		{"steps zero", map[string]any{"repositoryName": repo, "imageTag": "latest", "steps": 0}, "ValidationException", "steps"},
		{"no tag", map[string]any{"repositoryName": repo, "steps": 1}, "ValidationException", "imageTag"},
		{"bad digest", map[string]any{"repositoryName": repo, "imageTag": "latest", "imageDigest": "nope"}, "ValidationException", "imageDigest"},
		{"bad repository", map[string]any{"repositoryName": "Team", "imageTag": "latest", "steps": 1}, "ValidationException", "repositoryName"},
	} {
		ae := callErr(e, e.root, "RollbackTag", tc.in)
		if ae.Code != tc.code || !strings.Contains(ae.Message, tc.msg) {
			t.Errorf("%s: %v, want %s mentioning %q", tc.name, ae, tc.code, tc.msg)
		}
	}

	// An immutable repository refuses like a push over the tag.
	if _, err := e.app.Registry.CreateRepository(context.Background(), meta.Repository{AccountID: account, Name: "team/frozen", TagMutability: "IMMUTABLE"}); err != nil {
		t.Fatal(err)
	}
	e.mustPush("team/frozen", "v1", "linux/amd64", "f1")
	f2 := e.mustPush("team/frozen", "", "linux/amd64", "f2")
	ae := callErr(e, e.root, "RollbackTag", map[string]any{"repositoryName": "team/frozen", "imageTag": "v1", "imageDigest": f2})
	if ae.Code != "ImageTagAlreadyExistsException" {
		t.Fatalf("immutable: %v", ae)
	}
	if ae := callErr(e, e.root, "ListTagHistory", map[string]any{"repositoryName": "team/none"}); ae.Code != "RepositoryNotFoundException" {
		t.Fatalf("history of a missing repository: %v", ae)
	}
}

type binOut struct {
	RecycleBinEntries []struct {
		RegistryID             string   `json:"registryId"`
		RepositoryName         string   `json:"repositoryName"`
		ImageDigest            string   `json:"imageDigest"`
		ImageTags              []string `json:"imageTags"`
		ImageManifestMediaType string   `json:"imageManifestMediaType"`
		ImageSizeInBytes       int64    `json:"imageSizeInBytes"`
		DeletedAt              float64  `json:"deletedAt"`
		ExpiresAt              float64  `json:"expiresAt"`
		DeletedBy              string   `json:"deletedBy"`
		Via                    string   `json:"via"`
	} `json:"recycleBinEntries"`
	NextToken string `json:"nextToken"`
}

type restoreOut struct {
	ImageDigest  string   `json:"imageDigest"`
	RestoredTags []string `json:"restoredTags"`
	SkippedTags  []struct {
		ImageTag           string `json:"imageTag"`
		CurrentImageDigest string `json:"currentImageDigest"`
	} `json:"skippedTags"`
	RestoredImages []json.RawMessage `json:"restoredImages"`
}

func TestRecycleBinOps(t *testing.T) {
	e := newEnv(t)
	const repo = "team/app"
	a := e.mustPush(repo, "v1", "linux/amd64", "a")
	e.mustPush(repo, "latest", "linux/amd64", "a") // same image, second tag
	other := e.mustPush("team/other", "x", "linux/amd64", "o")

	// Deleted through /v2/: invisible, listed in the bin.
	if res, body := e.v2("DELETE", "/v2/"+repo+"/manifests/"+a, nil); res.StatusCode != 202 {
		t.Fatalf("delete: %d %s", res.StatusCode, body)
	}
	if res, body := e.v2("GET", "/v2/"+repo+"/manifests/"+a, nil); res.StatusCode != 404 || !strings.Contains(string(body), "MANIFEST_UNKNOWN") {
		t.Fatalf("binned image served: %d %s", res.StatusCode, body)
	}
	if res, body := e.v2("DELETE", "/v2/team/other/manifests/"+other, nil); res.StatusCode != 202 {
		t.Fatalf("delete other: %d %s", res.StatusCode, body)
	}
	bin := call[binOut](e, e.root, "ListRecycleBin", map[string]any{"repositoryName": repo})
	if len(bin.RecycleBinEntries) != 1 {
		t.Fatalf("bin %+v", bin)
	}
	en := bin.RecycleBinEntries[0]
	if en.ImageDigest != a || strings.Join(en.ImageTags, ",") != "latest,v1" || en.RegistryID != account || en.Via != "oci" ||
		en.ExpiresAt-en.DeletedAt < 7*24*3600-60 || en.ImageSizeInBytes == 0 || en.DeletedBy != "arn:aws:iam::"+account+":root" {
		t.Fatalf("entry %+v", en)
	}
	// Registry-wide, paged.
	p1 := call[binOut](e, e.root, "ListRecycleBin", map[string]any{"maxResults": 1})
	if len(p1.RecycleBinEntries) != 1 || p1.NextToken == "" {
		t.Fatalf("page 1 %+v", p1)
	}
	p2 := call[binOut](e, e.root, "ListRecycleBin", map[string]any{"maxResults": 1, "nextToken": p1.NextToken})
	if len(p2.RecycleBinEntries) != 1 || p2.NextToken != "" || p2.RecycleBinEntries[0].ImageDigest == p1.RecycleBinEntries[0].ImageDigest {
		t.Fatalf("page 2 %+v", p2)
	}

	// latest moves on meanwhile: the restore brings back v1 only.
	moved := e.mustPush(repo, "latest", "linux/amd64", "new")
	out := call[restoreOut](e, e.root, "RestoreImage", map[string]any{"repositoryName": repo, "imageDigest": a})
	if strings.Join(out.RestoredTags, ",") != "v1" || len(out.SkippedTags) != 1 || out.SkippedTags[0].ImageTag != "latest" ||
		out.SkippedTags[0].CurrentImageDigest != moved || len(out.RestoredImages) != 1 {
		t.Fatalf("restore %+v", out)
	}
	if e.digestOf(repo, "v1") != a || e.digestOf(repo, "latest") != moved {
		t.Fatal("tags after restore")
	}
	au, _ := e.app.Stores.Meta.ListAudit(context.Background(), meta.AuditFilter{Action: "image.restore"})
	if len(au) != 1 || au[0].Digest != a || !strings.Contains(string(au[0].Detail), `"skippedTags"`) {
		t.Fatalf("audit %+v", au)
	}
	if got := call[binOut](e, e.root, "ListRecycleBin", map[string]any{"repositoryName": repo}); len(got.RecycleBinEntries) != 0 {
		t.Fatalf("restored image still listed: %+v", got)
	}

	for _, tc := range []struct {
		name string
		in   map[string]any
		code string
	}{
		{"live image", map[string]any{"repositoryName": repo, "imageDigest": a}, "InvalidParameterException"},
		{"unknown", map[string]any{"repositoryName": repo, "imageDigest": "sha256:" + strings.Repeat("2", 64)}, "ImageNotFoundException"},
		{"no repository", map[string]any{"repositoryName": "team/gone", "imageDigest": a}, "RepositoryNotFoundException"},
		{"no digest", map[string]any{"repositoryName": repo}, "ValidationException"},
	} {
		if ae := callErr(e, e.root, "RestoreImage", tc.in); ae.Code != tc.code {
			t.Errorf("%s: %v, want %s", tc.name, ae, tc.code)
		}
	}
	// Pushing a binned image again simply recreates it.
	if _, body := e.v2("GET", "/v2/team/other/manifests/"+other, nil); !strings.Contains(string(body), "MANIFEST_UNKNOWN") {
		t.Fatal("other not binned")
	}
	e.mustPush("team/other", "y", "linux/amd64", "o")
	if got := call[binOut](e, e.root, "ListRecycleBin", map[string]any{}); len(got.RecycleBinEntries) != 0 {
		t.Fatalf("re-pushed image still in the bin: %+v", got)
	}
}

func TestRecycleBinOffDeletesAtOnce(t *testing.T) {
	e := newEnv(t, func(c *config.Config) { c.RecycleBinRetention = 0 })
	d := e.mustPush("team/app", "v1", "linux/amd64", "a")
	if res, _ := e.v2("DELETE", "/v2/team/app/manifests/"+d, nil); res.StatusCode != 202 {
		t.Fatal(res.Status)
	}
	if got := call[binOut](e, e.root, "ListRecycleBin", map[string]any{}); len(got.RecycleBinEntries) != 0 {
		t.Fatalf("bin off but listed: %+v", got)
	}
	if ae := callErr(e, e.root, "RestoreImage", map[string]any{"repositoryName": "team/app", "imageDigest": d}); ae.Code != "ImageNotFoundException" {
		t.Fatal(ae)
	}
}

func TestPlatformGuardOps(t *testing.T) {
	e := newEnv(t)
	const repo = "team/app"
	amd := e.mustPush(repo, "latest", "linux/amd64", "amd")

	type guardOut struct {
		RegistryID, RepositoryName, UpdatedBy string
		Enabled                               bool
		UpdatedAt                             float64
	}
	g := call[guardOut](e, e.root, "GetPlatformGuard", map[string]any{"repositoryName": repo})
	if g.Enabled || g.UpdatedAt != 0 {
		t.Fatalf("default %+v", g)
	}
	g = call[guardOut](e, e.root, "PutPlatformGuard", map[string]any{"repositoryName": repo, "enabled": true})
	if !g.Enabled || g.UpdatedBy != "arn:aws:iam::"+account+":root" || g.UpdatedAt == 0 || g.RepositoryName != repo {
		t.Fatalf("put %+v", g)
	}
	if ae := callErr(e, e.root, "PutPlatformGuard", map[string]any{"repositoryName": repo}); ae.Code != "ValidationException" {
		t.Fatalf("enabled missing: %v", ae)
	}

	// arm64 over the amd64 latest: refused on /v2/ with both sets named.
	arm, res, body := e.pushImage(repo, "latest", "linux/arm64", "arm")
	if res.StatusCode != 403 || !strings.Contains(string(body), "DENIED") ||
		!strings.Contains(string(body), "tag latest points at linux/amd64; refusing linux/arm64 (platform guard on team/app)") ||
		!strings.Contains(string(body), "X-Wharf-Platform-Override: true") {
		t.Fatalf("guarded push: %d %s", res.StatusCode, body)
	}
	if e.digestOf(repo, "latest") != amd {
		t.Fatal("refused push moved the tag")
	}
	// The override header lets it through.
	if _, res, body := e.pushImage(repo, "latest", "linux/arm64", "arm", "X-Wharf-Platform-Override", "true"); res.StatusCode != 201 {
		t.Fatalf("override: %d %s", res.StatusCode, body)
	}
	if e.digestOf(repo, "latest") != arm {
		t.Fatal("override did not move the tag")
	}
	// Back to amd64 with a rollback: within the tag's history, allowed.
	call[struct{}](e, e.root, "RollbackTag", map[string]any{"repositoryName": repo, "imageTag": "latest", "steps": 1})
	if e.digestOf(repo, "latest") != amd {
		t.Fatal("rollback")
	}
	// A digest the tag never had, of another platform: guarded.
	other := e.mustPush(repo, "", "linux/arm64", "other")
	ae := callErr(e, e.root, "RollbackTag", map[string]any{"repositoryName": repo, "imageTag": "latest", "imageDigest": other})
	if ae.Code != "InvalidParameterException" || !strings.Contains(ae.Message, "platformOverride") {
		t.Fatalf("guarded rollback: %v", ae)
	}
	call[struct{}](e, e.root, "RollbackTag", map[string]any{"repositoryName": repo, "imageTag": "latest", "imageDigest": other, "platformOverride": true})

	// Off again: the guard no longer applies.
	call[guardOut](e, e.root, "PutPlatformGuard", map[string]any{"repositoryName": repo, "enabled": false})
	e.mustPush(repo, "latest", "linux/amd64", "amd-again")
	au, _ := e.app.Stores.Meta.ListAudit(context.Background(), meta.AuditFilter{Action: "repository.platform-guard"})
	if len(au) != 2 {
		t.Fatalf("guard audit %+v", au)
	}
}
