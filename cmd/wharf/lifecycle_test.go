package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/wharfhq/wharf/internal/app"
	"github.com/wharfhq/wharf/internal/config"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// TestLifecycleRunCommand: a dry run reports and changes nothing; the run
// expires the old image and audits it; a second run has nothing to do.
func TestLifecycleRunCommand(t *testing.T) {
	dir := t.TempDir()
	cfg := config.Defaults()
	cfg.DataDir = dir
	ctx := context.Background()
	st, err := app.OpenStores(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	const acct = "123456789012"
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.Meta.CreateAccount(ctx, meta.Account{ID: acct}))
	r, err := st.Meta.CreateRepository(ctx, meta.Repository{AccountID: acct, Name: "team/app", TagMutability: "MUTABLE"})
	must(err)
	put := func(content, tag string, pushed time.Time) string {
		d := digest.FromString(content).String()
		must(st.Meta.PutManifest(ctx, meta.PutManifest{Tag: tag, Manifest: meta.Manifest{RepoID: r.ID, Digest: d,
			MediaType: "application/vnd.oci.image.manifest.v1+json", Size: int64(len(content)), Content: []byte(content), PushedAt: pushed}}))
		return d
	}
	old := put(`{"old":1}`, "v1", time.Now().Add(-30*24*time.Hour))
	put(`{"new":1}`, "v2", time.Now())
	must(st.Meta.PutLifecyclePolicy(ctx, meta.LifecyclePolicy{RepoID: r.ID, Text: `{"rules":[{"rulePriority":1,
 "selection":{"tagStatus":"any","countType":"sinceImagePushed","countUnit":"days","countNumber":14},"action":{"type":"expire"}}]}`}))
	st.Meta.Close()

	out, err := run(t, "lifecycle", "run", "--data="+dir, "--dry-run", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Repository string
		DryRun     bool
		Outcomes   []struct{ Digest, Action, State string }
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &rep); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if rep.Repository != "team/app" || !rep.DryRun || len(rep.Outcomes) != 1 || rep.Outcomes[0].Digest != old || rep.Outcomes[0].Action != "EXPIRE" {
		t.Fatalf("dry run: %s", out)
	}

	out, err = run(t, "lifecycle", "run", "--data="+dir, "--repository", "team/app", "--account", acct)
	if err != nil || !strings.Contains(out, old) || !strings.Contains(out, "done") || !strings.Contains(out, "acted on 1 images in 1 repositories") {
		t.Fatalf("run: %v\n%s", err, out)
	}
	out, err = run(t, "lifecycle", "run", "--data="+dir)
	if err != nil || !strings.Contains(out, "acted on 0 images") {
		t.Fatalf("second run: %v\n%s", err, out)
	}
	out, err = run(t, "audit", "--data="+dir, "--action", "lifecycle.", "--json")
	if err != nil || strings.Count(out, "\n") != 1 || !strings.Contains(out, old) || !strings.Contains(out, `"actor":"system:lifecycle"`) {
		t.Fatalf("audit: %v\n%s", err, out)
	}
	if _, err := run(t, "lifecycle", "run", "--data="+dir, "--repository", "team/none", "--account", acct); err == nil {
		t.Fatal("unknown repository accepted")
	}
}
