package suppress

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/wharfhq/wharf/internal/store/meta"
	"github.com/wharfhq/wharf/internal/store/meta/sqlstore"
)

func TestServiceAudits(t *testing.T) {
	ctx := context.Background()
	st, err := sqlstore.OpenSQLiteWith(ctx, filepath.Join(t.TempDir(), "m.db"), sqlstore.SQLiteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var changed []string
	s := &Service{Store: st, Now: func() time.Time { return now }, Changed: func(a, r string) { changed = append(changed, a+"/"+r) }}
	in := meta.Suppression{AccountID: "111122223333", Repository: "team/app", FindingID: " CVE-2024-1 ", Justification: "not reachable", ExpiresAt: now.Add(24 * time.Hour)}
	out, replaced, err := s.Put(ctx, in, "arn:aws:iam::111122223333:user/sec")
	if err != nil || replaced || out.FindingID != "CVE-2024-1" || out.CreatedBy != "arn:aws:iam::111122223333:user/sec" || !out.CreatedAt.Equal(now) {
		t.Fatalf("put: %+v %v %v", out, replaced, err)
	}
	in.Justification = "re-reviewed"
	if _, replaced, err := s.Put(ctx, in, "x"); err != nil || !replaced {
		t.Fatalf("replace: %v %v", replaced, err)
	}
	bad := in
	bad.ExpiresAt = now.Add(2 * MaxLifetime)
	if _, _, err := s.Put(ctx, bad, "x"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("too long: %v", err)
	}
	bad = in
	bad.Repository = ""
	if _, _, err := s.Put(ctx, bad, "x"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("no repository: %v", err)
	}
	if _, err := s.Delete(ctx, meta.Suppression{AccountID: in.AccountID, Repository: in.Repository, FindingID: "CVE-2024-1"}, "y"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Delete(ctx, meta.Suppression{AccountID: in.AccountID, Repository: in.Repository, FindingID: "CVE-2024-1"}, "y"); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	evs, err := st.ListAudit(ctx, meta.AuditFilter{Action: "scan."})
	if err != nil || len(evs) != 3 {
		t.Fatalf("audit %+v %v", evs, err)
	}
	if evs[0].Action != ActionSuppress || evs[1].Action != ActionSuppress || evs[2].Action != ActionUnsuppress || evs[2].Actor != "y" || evs[0].Repository != "team/app" {
		t.Fatalf("audit %+v", evs)
	}
	var d map[string]any
	if err := json.Unmarshal(evs[1].Detail, &d); err != nil || d["justification"] != "re-reviewed" || d["replaced"].(map[string]any)["justification"] != "not reachable" {
		t.Fatalf("detail %s", evs[1].Detail)
	}
	if len(changed) != 3 {
		t.Errorf("changed %v", changed)
	}
}
