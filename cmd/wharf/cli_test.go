package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := rootCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func TestAdminIAMCommands(t *testing.T) {
	dir := t.TempDir()
	data := "--data=" + dir
	t.Setenv("WHARF_ACCOUNT_ID", "")
	out, err := run(t, "admin", "account", "create", "--id", "123456789012", data)
	if err != nil || !strings.Contains(out, "account id:        123456789012") || !strings.Contains(out, "secret access key: ") {
		t.Fatalf("account create: %v\n%s", err, out)
	}
	if _, err := run(t, "admin", "user", "create", "alice", "--account", "123456789012", data); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, "admin", "user", "create", "bad name!", "--account", "123456789012", data); err == nil {
		t.Fatal("invalid user name accepted")
	}
	out, err = run(t, "admin", "key", "create", "--user", "alice", "--account", "123456789012", data)
	if err != nil || !strings.Contains(out, "access key id:     AKIA") {
		t.Fatalf("key create: %v %s", err, out)
	}
	kid := strings.TrimSpace(strings.TrimPrefix(strings.Split(out, "\n")[0], "access key id:"))
	if _, err := run(t, "admin", "key", "create", "--user", "nobody", "--account", "123456789012", data); err == nil {
		t.Fatal("key for a missing user accepted")
	}
	good := filepath.Join(dir, "good.json")
	os.WriteFile(good, []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:*","Resource":"*"}]}`), 0o600)
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Alow","Action":"ecr:*","Resource":"*"}]}`), 0o600)
	if _, err := run(t, "admin", "policy", "put", "--user", "alice", "--file", good, "--account", "123456789012", data); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, "admin", "policy", "put", "--user", "alice", "--file", bad, "--account", "123456789012", data); err == nil || !strings.Contains(err.Error(), "Alow") {
		t.Fatalf("invalid policy: %v", err)
	}
	out, err = run(t, "admin", "policy", "list", "--user", "alice", "--account", "123456789012", data)
	if err != nil || !strings.Contains(out, `"ecr:*"`) {
		t.Fatalf("policy list: %v %s", err, out)
	}
	if _, err := run(t, "admin", "key", "deactivate", kid, data); err != nil {
		t.Fatal(err)
	}
	out, err = run(t, "admin", "key", "list", "--user", "alice", "--account", "123456789012", data)
	if err != nil || !strings.Contains(out, kid+"  Inactive") {
		t.Fatalf("key list: %v %s", err, out)
	}
	if strings.Contains(out, "secret") {
		t.Fatal("key list shows secrets")
	}
	if _, err := run(t, "admin", "user", "delete", "alice", "--account", "123456789012", data); err != nil {
		t.Fatal(err)
	}
	out, _ = run(t, "admin", "key", "list", "--user", "alice", "--account", "123456789012", data)
	if strings.Contains(out, kid) {
		t.Fatal("deleting the user kept its key")
	}
}
