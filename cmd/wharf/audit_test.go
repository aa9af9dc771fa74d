package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/wharfhq/wharf/internal/app"
	"github.com/wharfhq/wharf/internal/config"
	"github.com/wharfhq/wharf/internal/store/meta"
)

func TestAuditCommand(t *testing.T) {
	dir := t.TempDir()
	cfg := config.Defaults()
	cfg.DataDir = dir
	st, err := app.OpenStores(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = st.Meta.AppendAudit(context.Background(),
		meta.AuditEvent{AccountID: "123456789012", Repository: "team/app", Action: "lifecycle.expire", Actor: "system:lifecycle", Digest: "sha256:aa", Detail: []byte(`{"rulePriority":1}`)},
		meta.AuditEvent{AccountID: "123456789012", Repository: "team/web", Action: "tag.rollback", Actor: "alice", Tag: "latest"})
	st.Meta.Close()
	if err != nil {
		t.Fatal(err)
	}
	out, err := run(t, "audit", "--data="+dir, "--repository", "team/app", "--json")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 1 {
		t.Fatalf("want one event, got:\n%s", out)
	}
	var e map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &e); err != nil {
		t.Fatal(err)
	}
	if e["action"] != "lifecycle.expire" || e["digest"] != "sha256:aa" || e["detail"].(map[string]any)["rulePriority"] != 1.0 {
		t.Fatalf("event: %v", e)
	}
	out, err = run(t, "audit", "--data="+dir, "--action", "tag.")
	if err != nil || !strings.Contains(out, "tag.rollback") || strings.Contains(out, "lifecycle.expire") {
		t.Fatalf("table: %v\n%s", err, out)
	}
	if _, err := run(t, "audit", "--data="+dir, "--since", "yesterday"); err == nil {
		t.Fatal("a bad --since was accepted")
	}
}
