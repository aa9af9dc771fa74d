package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

func TestMigrateCommand(t *testing.T) {
	src, dst := t.TempDir(), filepath.Join(t.TempDir(), "copy")
	t.Setenv("WHARF_ACCOUNT_ID", "123456789012")
	if out, err := run(t, "admin", "account", "create", "--id", "123456789012", "--data", src); err != nil {
		t.Fatalf("account create: %v\n%s", err, out)
	}
	if out, err := run(t, "admin", "repo", "create", "team/app", "--data", src); err != nil {
		t.Fatalf("repo create: %v\n%s", err, out)
	}

	out, err := run(t, "migrate", "--from", src, "--to", dst, "--quiet")
	if err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	for _, want := range []string{"accounts", "repositories", "blob bytes copied:", "verified:"} {
		if !strings.Contains(out, want) {
			t.Fatalf("report lacks %q:\n%s", want, out)
		}
	}

	// Again, as JSON: everything is there already.
	out, err = run(t, "migrate", "--from-metadata", src, "--from-blobs", src, "--to-metadata", dst, "--to-blobs", dst, "--json", "--quiet")
	if err != nil {
		t.Fatalf("second migrate: %v\n%s", err, out)
	}
	var rep struct {
		Counts map[string]struct{ Copied, Skipped int }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if c := rep.Counts["repositories"]; c.Copied != 0 || c.Skipped != 1 {
		t.Fatalf("second run: repositories %+v\n%s", c, out)
	}
	if c := rep.Counts["accounts"]; c.Copied != 0 || c.Skipped != 1 {
		t.Fatalf("second run: accounts %+v", c)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"migrate", "--to", dst}, "--from: no stores given"},
		{[]string{"migrate", "--from", src}, "--to: no stores given"},
		{[]string{"migrate", "--from", src, "--to", "postgres://db/wharf"}, "--to: no blob store given"},
		{[]string{"migrate", "--from", src, "--to", src}, "share a store"},
		{[]string{"migrate", "--from", filepath.Join(src, "nope"), "--to", dst}, "no embedded registry there"},
		{[]string{"migrate", "--from", src, "--to", "postgres://a,postgres://b"}, "two metadata stores"},
	} {
		out, err := run(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err %v, want %q\n%s", tc.args, err, tc.want, out)
		}
	}
}
