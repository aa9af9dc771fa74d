package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/wharfhq/wharf/internal/app"
	"github.com/wharfhq/wharf/internal/config"
	"github.com/wharfhq/wharf/internal/registry"
	"github.com/wharfhq/wharf/internal/registry/names"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// seedImages creates team/app in a data directory with images pushed as
// latest one after the other (amd64, then arm64), returning their digests.
func seedImages(t *testing.T, dir string) (amd, arm string) {
	t.Helper()
	ctx := context.Background()
	cfg := config.Defaults()
	cfg.DataDir = dir
	st, err := app.OpenStores(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Meta.Close()
	if err := st.Meta.CreateAccount(ctx, meta.Account{ID: "123456789012", Name: "test"}); err != nil {
		t.Fatal(err)
	}
	reg := registry.New(st.Meta, st.Blobs, registry.Options{BinRetention: cfg.RecycleBinRetention})
	r, err := reg.CreateRepository(ctx, meta.Repository{AccountID: "123456789012", Name: "team/app"})
	if err != nil {
		t.Fatal(err)
	}
	push := func(arch string) string {
		cfgBlob := []byte(`{"os":"linux","architecture":"` + arch + `"}`)
		layer := []byte("layer " + arch)
		for _, b := range [][]byte{cfgBlob, layer} {
			if _, err := reg.PutBlob(ctx, r, digest.FromBytes(b), int64(len(b)), bytes.NewReader(b)); err != nil {
				t.Fatal(err)
			}
		}
		m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%d}]}`,
			digest.FromBytes(cfgBlob), len(cfgBlob), digest.FromBytes(layer), len(layer))
		res, err := reg.PutManifest(ctx, r, names.Reference{Tag: "latest"}, "", []byte(m), registry.Actor{Principal: "tester", Via: "oci"})
		if err != nil {
			t.Fatal(err)
		}
		return string(res.Digest)
	}
	return push("amd64"), push("arm64")
}

func TestTagHistoryRollbackAndGuardCommands(t *testing.T) {
	dir := t.TempDir()
	data := "--data=" + dir
	t.Setenv("WHARF_ACCOUNT_ID", "")
	amd, arm := seedImages(t, dir)

	out, err := run(t, "tag", "history", "team/app", "latest", data, "--json")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var newest map[string]any
	if len(lines) != 2 || json.Unmarshal([]byte(lines[0]), &newest) != nil || newest["from"] != amd || newest["to"] != arm || newest["via"] != "oci" {
		t.Fatalf("history:\n%s", out)
	}
	out, err = run(t, "tag", "history", "team/app", data)
	if err != nil || !strings.Contains(out, "TIME") || !strings.Contains(out, short(arm)) || strings.Contains(out, arm) {
		t.Fatalf("history table: %v\n%s", err, out)
	}

	// Guard on: rolling back within the tag's history is allowed.
	if out, err = run(t, "tag", "guard", "team/app", "on", data); err != nil || !strings.Contains(out, "platform guard on team/app: on") {
		t.Fatalf("guard on: %v %s", err, out)
	}
	out, err = run(t, "tag", "rollback", "team/app", "latest", data)
	if err != nil || !strings.Contains(out, "rolled back: "+arm+" -> "+amd) {
		t.Fatalf("rollback: %v %s", err, out)
	}
	out, err = run(t, "tag", "history", "team/app", "latest", data, "--json", "--limit", "1")
	if err != nil || !strings.Contains(out, `"via":"rollback"`) || !strings.Contains(out, `"actor":"system:cli/`) {
		t.Fatalf("history after rollback: %v %s", err, out)
	}
	if out, err = run(t, "tag", "rollback", "team/app", "latest", "--to", amd, data); err != nil || !strings.Contains(out, "already points at") {
		t.Fatalf("no-op rollback: %v %s", err, out)
	}
	if _, err = run(t, "tag", "rollback", "team/app", "latest", "--steps", "40", data); err == nil || !strings.Contains(err.Error(), "recorded moves") {
		t.Fatalf("too far: %v", err)
	}
	if _, err = run(t, "tag", "rollback", "team/app", "latest", "--steps", "1", "--to", amd, data); err == nil {
		t.Fatal("--steps and --to together accepted")
	}
	if _, err = run(t, "tag", "rollback", "team/none", "latest", data); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("missing repository: %v", err)
	}
	if out, err = run(t, "tag", "guard", "team/app", data); err != nil || !strings.Contains(out, ": on (set ") {
		t.Fatalf("guard show: %v %s", err, out)
	}
	if _, err = run(t, "tag", "guard", "team/app", "maybe", data); err == nil {
		t.Fatal("guard maybe accepted")
	}
	out, err = run(t, "audit", data, "--action", "tag.rollback", "--json")
	if err != nil || strings.Count(out, "\n") != 1 || !strings.Contains(out, `"tag":"latest"`) {
		t.Fatalf("audit: %v\n%s", err, out)
	}
}

func TestBinCommands(t *testing.T) {
	dir := t.TempDir()
	data := "--data=" + dir
	t.Setenv("WHARF_ACCOUNT_ID", "")
	amd, arm := seedImages(t, dir)

	// Delete the arm64 image (as a server would) and find it in the bin.
	ctx := context.Background()
	cfg := config.Defaults()
	cfg.DataDir = dir
	st, err := app.OpenStores(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	reg := registry.New(st.Meta, st.Blobs, registry.Options{BinRetention: cfg.RecycleBinRetention})
	r, err := reg.Repository(ctx, "123456789012", "team/app", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.DeleteImage(ctx, r, arm, registry.Actor{Principal: "alice", Via: "ecr"}); err != nil {
		t.Fatal(err)
	}
	st.Meta.Close()

	out, err := run(t, "bin", "list", data)
	if err != nil || !strings.Contains(out, "team/app") || !strings.Contains(out, arm) || !strings.Contains(out, "latest") || !strings.Contains(out, "alice") {
		t.Fatalf("bin list: %v\n%s", err, out)
	}
	out, err = run(t, "bin", "list", "team/app", "--json", data)
	if err != nil || !strings.Contains(out, `"digest":"`+arm+`"`) || !strings.Contains(out, `"tags":["latest"]`) {
		t.Fatalf("bin list json: %v\n%s", err, out)
	}
	out, err = run(t, "bin", "restore", "team/app", arm, data)
	if err != nil || !strings.Contains(out, "restored team/app@"+arm+" with tags latest") {
		t.Fatalf("restore: %v\n%s", err, out)
	}
	if out, _ = run(t, "bin", "list", data); strings.Contains(out, arm) {
		t.Fatalf("restored image still listed:\n%s", out)
	}
	if _, err = run(t, "bin", "restore", "team/app", amd, data); err == nil || !strings.Contains(err.Error(), "not deleted") {
		t.Fatalf("restore of a live image: %v", err)
	}
	if _, err = run(t, "bin", "restore", "team/app", "nope", data); err == nil {
		t.Fatal("invalid digest accepted")
	}
	out, err = run(t, "audit", data, "--action", "image.restore")
	if err != nil || !strings.Contains(out, arm) {
		t.Fatalf("audit: %v\n%s", err, out)
	}
}
