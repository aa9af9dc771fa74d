package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"
)

const secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "wharf.yaml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func newFlags(t *testing.T, args ...string) *pflag.FlagSet {
	t.Helper()
	fs := pflag.NewFlagSet("wharf", pflag.ContinueOnError)
	fs.SetOutput(&bytes.Buffer{})
	RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("parse %v: %v", args, err)
	}
	return fs
}

func TestDefaultsValid(t *testing.T) {
	d := Defaults()
	if err := d.Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	cfg, err := Load(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg != d {
		t.Fatalf("Load with no sources = %+v, want defaults", cfg)
	}
	if d.Listen != "127.0.0.1:5000" || d.DataDir != "./wharf-data" || d.Region != "us-east-1" ||
		!d.CreateOnPush || d.Anonymous || d.LogFormat != "text" || d.LogLevel != "info" ||
		d.GCInterval != time.Hour || d.GCGrace != 24*time.Hour || d.UploadTTL != 24*time.Hour ||
		d.LifecycleInterval != 24*time.Hour || d.ArchiveRestoreDelay != time.Minute ||
		d.MaxManifestBytes != 4<<20 {
		t.Fatalf("unexpected defaults: %+v", d)
	}
}

// TestFieldTableInSync guards against adding a Config field without a
// file/env/flag entry (or the reverse).
func TestFieldTableInSync(t *testing.T) {
	typ := reflect.TypeFor[Config]()
	tags := map[string]bool{}
	for i := range typ.NumField() {
		tag := typ.Field(i).Tag.Get("yaml")
		if tag == "" {
			t.Errorf("field %s has no yaml tag", typ.Field(i).Name)
		}
		tags[tag] = true
		if fieldByKey(tag) == nil {
			t.Errorf("field %s (%s) missing from the fields table", typ.Field(i).Name, tag)
		}
	}
	for _, f := range fields {
		if !tags[f.key] {
			t.Errorf("fields table entry %q has no Config field", f.key)
		}
		// Every entry's pointer must point into the struct it is given.
		var c Config
		switch f.ptr(&c).(type) {
		case *string, *bool, *time.Duration, *int64:
		default:
			t.Errorf("%s: unsupported pointer type %T", f.key, f.ptr(&c))
		}
	}
}

func TestPrecedence(t *testing.T) {
	file := writeFile(t, `
listen: "0.0.0.0:6000"
data_dir: /file/data
region: eu-west-1
anonymous: true
gc_interval: 2h
max_manifest_bytes: 8MiB
log_format: json
`)
	otherFile := writeFile(t, "region: ap-south-1\n")

	tests := []struct {
		name  string
		env   []string
		args  []string
		check func(t *testing.T, c Config)
	}{
		{
			name: "defaults only",
			check: func(t *testing.T, c Config) {
				if c != Defaults() {
					t.Errorf("got %+v", c)
				}
			},
		},
		{
			name: "file via env path",
			env:  []string{"WHARF_CONFIG=" + file},
			check: func(t *testing.T, c Config) {
				want := Defaults()
				want.Listen, want.DataDir, want.Region = "0.0.0.0:6000", "/file/data", "eu-west-1"
				want.Anonymous, want.GCInterval, want.MaxManifestBytes, want.LogFormat = true, 2*time.Hour, 8<<20, "json"
				if c != want {
					t.Errorf("got  %+v\nwant %+v", c, want)
				}
			},
		},
		{
			name: "--config flag beats WHARF_CONFIG",
			env:  []string{"WHARF_CONFIG=" + file},
			args: []string{"--config", otherFile},
			check: func(t *testing.T, c Config) {
				if c.Region != "ap-south-1" || c.Listen != Defaults().Listen {
					t.Errorf("got region %q listen %q", c.Region, c.Listen)
				}
			},
		},
		{
			name: "env beats file",
			env: []string{"WHARF_CONFIG=" + file, "WHARF_LISTEN=:7000", "WHARF_ANONYMOUS=false",
				"WHARF_GC_INTERVAL=90s", "WHARF_MAX_MANIFEST_BYTES=1024"},
			check: func(t *testing.T, c Config) {
				if c.Listen != ":7000" || c.Anonymous || c.GCInterval != 90*time.Second || c.MaxManifestBytes != 1024 {
					t.Errorf("got %+v", c)
				}
				if c.Region != "eu-west-1" || c.DataDir != "/file/data" {
					t.Errorf("file values lost: %+v", c)
				}
			},
		},
		{
			name: "flag beats env and file",
			env:  []string{"WHARF_CONFIG=" + file, "WHARF_LISTEN=:7000", "WHARF_REGION=us-west-2"},
			args: []string{"--listen", ":8000", "--anonymous=false", "--gc-interval=3m", "--max-manifest-bytes=2MiB"},
			check: func(t *testing.T, c Config) {
				if c.Listen != ":8000" || c.Anonymous || c.GCInterval != 3*time.Minute || c.MaxManifestBytes != 2<<20 {
					t.Errorf("got %+v", c)
				}
				if c.Region != "us-west-2" {
					t.Errorf("env value lost: region %q", c.Region)
				}
			},
		},
		{
			name: "unset flags do not override",
			env:  []string{"WHARF_CONFIG=" + file, "WHARF_CREATE_ON_PUSH=false"},
			args: []string{"--region", "us-east-2"},
			check: func(t *testing.T, c Config) {
				// Flag defaults (listen 127.0.0.1:5000, create-on-push true) must not win.
				if c.Listen != "0.0.0.0:6000" || c.CreateOnPush || c.Region != "us-east-2" {
					t.Errorf("got %+v", c)
				}
			},
		},
		{
			name: "bool flag without value",
			args: []string{"--anonymous"},
			check: func(t *testing.T, c Config) {
				if !c.Anonymous {
					t.Error("anonymous not set")
				}
			},
		},
		{
			name: "WHARF_DATA alias",
			env:  []string{"WHARF_DATA=/alias"},
			check: func(t *testing.T, c Config) {
				if c.DataDir != "/alias" {
					t.Errorf("data dir %q", c.DataDir)
				}
			},
		},
		{
			name: "WHARF_DATA_DIR beats WHARF_DATA",
			env:  []string{"WHARF_DATA_DIR=/canonical", "WHARF_DATA=/alias"},
			check: func(t *testing.T, c Config) {
				if c.DataDir != "/canonical" {
					t.Errorf("data dir %q", c.DataDir)
				}
			},
		},
		{
			name: "--data flag",
			env:  []string{"WHARF_DATA_DIR=/env"},
			args: []string{"--data", "/flag"},
			check: func(t *testing.T, c Config) {
				if c.DataDir != "/flag" {
					t.Errorf("data dir %q", c.DataDir)
				}
			},
		},
		{
			name: "--data-dir alias flag",
			args: []string{"--data-dir=/flag2"},
			check: func(t *testing.T, c Config) {
				if c.DataDir != "/flag2" {
					t.Errorf("data dir %q", c.DataDir)
				}
			},
		},
		{
			name: "empty env var is unset",
			env:  []string{"WHARF_CONFIG=" + file, "WHARF_LISTEN="},
			check: func(t *testing.T, c Config) {
				if c.Listen != "0.0.0.0:6000" {
					t.Errorf("listen %q", c.Listen)
				}
			},
		},
		{
			name: "last env occurrence wins",
			env:  []string{"WHARF_REGION=us-west-1", "WHARF_REGION=us-west-2"},
			check: func(t *testing.T, c Config) {
				if c.Region != "us-west-2" {
					t.Errorf("region %q", c.Region)
				}
			},
		},
		{
			name: "all env names",
			env: []string{
				"WHARF_LISTEN=[::1]:5001", "WHARF_DATA_DIR=/d", "WHARF_REGION=eu-central-1",
				"WHARF_PUBLIC_URL=https://registry.example.com", "WHARF_ACCOUNT_ID=123456789012",
				"WHARF_ADMIN_ACCESS_KEY_ID=AKIDEXAMPLE", "WHARF_ADMIN_SECRET_ACCESS_KEY=" + secret,
				"WHARF_ANONYMOUS=yes", "WHARF_CREATE_ON_PUSH=0", "WHARF_LOG_FORMAT=json", "WHARF_LOG_LEVEL=debug", "WHARF_ACCESS_LOG=false", "WHARF_FSYNC=true", "WHARF_BLOB_REDIRECT=true",
				"WHARF_GC_INTERVAL=10m", "WHARF_GC_GRACE=1h", "WHARF_UPLOAD_TTL=2h", "WHARF_RECYCLE_BIN_RETENTION=0", "WHARF_MAX_MANIFEST_BYTES=100KiB",
				"WHARF_LIFECYCLE_INTERVAL=6h", "WHARF_ARCHIVE_RESTORE_DELAY=0s",
				"WHARF_READ_HEADER_TIMEOUT=5s", "WHARF_IDLE_TIMEOUT=1m", "WHARF_SHUTDOWN_TIMEOUT=9s", "WHARF_TCP_NOTSENT_LOWAT=64KiB",
			},
			check: func(t *testing.T, c Config) {
				want := Config{
					Listen: "[::1]:5001", DataDir: "/d", Region: "eu-central-1",
					PublicURL: "https://registry.example.com", AccountID: "123456789012",
					AdminAccessKeyID: "AKIDEXAMPLE", AdminSecretAccessKey: secret,
					Anonymous: true, CreateOnPush: false, LogFormat: "json", LogLevel: "debug", AccessLog: false, Fsync: true, BlobRedirect: true,
					GCInterval: 10 * time.Minute, GCGrace: time.Hour, UploadTTL: 2 * time.Hour,
					LifecycleInterval: 6 * time.Hour, ArchiveRestoreDelay: 0,
					MaxManifestBytes: 100 << 10, ReadHeaderTimeout: 5 * time.Second,
					IdleTimeout: time.Minute, ShutdownTimeout: 9 * time.Second, TCPNotSentLowat: 64 << 10,
				}
				if c != want {
					t.Errorf("got  %#v\nwant %#v", c, want)
				}
				if c.SlogLevel() != slog.LevelDebug {
					t.Errorf("level %v", c.SlogLevel())
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := newFlags(t, tt.args...)
			c, err := Load(fs, tt.env)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			tt.check(t, c)
		})
	}
}

func TestBlobRedirectSetting(t *testing.T) {
	c, err := Load(newFlags(t), nil)
	if err != nil || c.BlobRedirect {
		t.Fatalf("default: %v %v, want false", c.BlobRedirect, err)
	}
	c, err = Load(newFlags(t, "--blob-redirect"), []string{"WHARF_BLOB_REDIRECT=false"})
	if err != nil || !c.BlobRedirect {
		t.Fatalf("flag: %v %v, want true", c.BlobRedirect, err)
	}
	p := writeFile(t, "blob_redirect: true\n")
	c, err = Load(nil, []string{"WHARF_CONFIG=" + p})
	if err != nil || !c.BlobRedirect {
		t.Fatalf("file: %v %v, want true", c.BlobRedirect, err)
	}
}

func TestUnknownKey(t *testing.T) {
	p := writeFile(t, "listen: \":5000\"\nlisten_addr: \":6000\"\n")
	_, err := Load(nil, []string{"WHARF_CONFIG=" + p})
	if err == nil {
		t.Fatal("no error for unknown key")
	}
	if !strings.Contains(err.Error(), `"listen_addr"`) || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("error does not name the key and line: %v", err)
	}
}

func TestFileErrors(t *testing.T) {
	tests := []struct {
		name, content, want string
	}{
		{"duplicate key", "region: a\nregion: b\n", "already set"},
		{"bad duration", "gc_interval: 3600\n", "invalid duration"},
		{"bad bool", "anonymous: maybe\n", "invalid boolean"},
		{"bad size", "max_manifest_bytes: 4 megabytes\n", "invalid size"},
		{"nested value", "listen:\n  host: x\n", "must be a scalar"},
		{"top level list", "- listen\n", "must be a mapping"},
		{"two documents", "region: a\n---\nregion: b\n", "one YAML document"},
		{"syntax", "listen: [\n", "yaml"},
		{"case sensitive keys", "Listen: :5000\n", `unknown key "Listen"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeFile(t, tt.content)
			_, err := Load(newFlags(t, "--config", p), nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
			if !strings.Contains(err.Error(), p) {
				t.Errorf("error does not name the file: %v", err)
			}
		})
	}
}

func TestFileEdgeCases(t *testing.T) {
	for _, content := range []string{"", "# just a comment\n", "~\n", "---\n"} {
		p := writeFile(t, content)
		c, err := Load(nil, []string{"WHARF_CONFIG=" + p})
		if err != nil || c != Defaults() {
			t.Errorf("content %q: %v, %+v", content, err, c)
		}
	}
	// Null leaves the default; an explicit empty string sets empty; anchors work.
	p := writeFile(t, "region: ~\npublic_url: \"\"\nlisten: &l \"127.0.0.1:9\"\ndata_dir: /x\n")
	c, err := Load(nil, []string{"WHARF_CONFIG=" + p, "WHARF_PUBLIC_URL=https://x.example"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Region != "us-east-1" || c.PublicURL != "https://x.example" || c.Listen != "127.0.0.1:9" {
		t.Errorf("got %+v", c)
	}

	_, err = Load(nil, []string{"WHARF_CONFIG=" + filepath.Join(t.TempDir(), "missing.yaml")})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	_, err = Load(newFlags(t, "--config="), nil)
	if err == nil {
		t.Error("empty --config accepted")
	}
}

func TestSourceErrorsNameTheSource(t *testing.T) {
	_, err := Load(nil, []string{"WHARF_GC_GRACE=forever"})
	if err == nil || !strings.Contains(err.Error(), "WHARF_GC_GRACE") {
		t.Errorf("env error: %v", err)
	}
	_, err = Load(nil, []string{"WHARF_CREATE_ON_PUSH=sometimes"})
	if err == nil || !strings.Contains(err.Error(), "WHARF_CREATE_ON_PUSH") {
		t.Errorf("env error: %v", err)
	}
	_, err = Load(newFlags(t, "--data=/a", "--data-dir=/b"), nil)
	if err == nil || !strings.Contains(err.Error(), "conflict") {
		t.Errorf("conflicting aliases: %v", err)
	}
	if _, err := Load(newFlags(t, "--data=/a", "--data-dir=/a"), nil); err != nil {
		t.Errorf("agreeing aliases: %v", err)
	}

	// Flag syntax errors surface at parse time.
	fs := pflag.NewFlagSet("wharf", pflag.ContinueOnError)
	fs.SetOutput(&bytes.Buffer{})
	RegisterFlags(fs)
	for _, args := range [][]string{{"--gc-interval=soon"}, {"--max-manifest-bytes=lots"}, {"--anonymous=perhaps"}} {
		if err := fs.Parse(args); err == nil {
			t.Errorf("%v parsed", args)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string // substring of the error; "" means valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"listen any port", func(c *Config) { c.Listen = ":0" }, ""},
		{"listen ipv6", func(c *Config) { c.Listen = "[::]:5000" }, ""},
		{"listen hostname", func(c *Config) { c.Listen = "localhost:5000" }, ""},
		{"listen no port", func(c *Config) { c.Listen = "127.0.0.1" }, "listen:"},
		{"listen bad port", func(c *Config) { c.Listen = "127.0.0.1:http" }, "listen:"},
		{"listen port too big", func(c *Config) { c.Listen = ":70000" }, "listen:"},
		{"metrics listen ok", func(c *Config) { c.MetricsListen = "127.0.0.1:9090" }, ""},
		{"metrics listen no port", func(c *Config) { c.MetricsListen = "127.0.0.1" }, "metrics_listen:"},
		{"metrics listen same as listen", func(c *Config) { c.MetricsListen = c.Listen }, "metrics_listen: must differ"},
		{"empty data dir", func(c *Config) { c.DataDir = " " }, "data_dir:"},
		{"bad region", func(c *Config) { c.Region = "US East" }, "region:"},
		{"public url ok", func(c *Config) { c.PublicURL = "https://r.example.com:8443/prefix" }, ""},
		{"public url scheme", func(c *Config) { c.PublicURL = "ftp://r.example.com" }, "public_url:"},
		{"public url no host", func(c *Config) { c.PublicURL = "https://" }, "public_url:"},
		{"public url query", func(c *Config) { c.PublicURL = "https://r.example.com/?a=b" }, "public_url:"},
		{"account id ok", func(c *Config) { c.AccountID = "000000000000" }, ""},
		{"account id short", func(c *Config) { c.AccountID = "12345" }, "account_id:"},
		{"account id letters", func(c *Config) { c.AccountID = "12345678901a" }, "account_id:"},
		{"admin key without secret", func(c *Config) { c.AdminAccessKeyID = "AKID" }, "admin_secret_access_key:"},
		{"secret without key", func(c *Config) { c.AdminSecretAccessKey = secret }, "admin_access_key_id:"},
		{"secret with space", func(c *Config) { c.AdminAccessKeyID, c.AdminSecretAccessKey = "AKID", "a b" }, "admin_secret_access_key:"},
		{"log format", func(c *Config) { c.LogFormat = "xml" }, "log_format:"},
		{"log level", func(c *Config) { c.LogLevel = "loud" }, "log_level:"},
		{"log level case", func(c *Config) { c.LogLevel = "WARN" }, ""},
		{"lifecycle interval zero", func(c *Config) { c.LifecycleInterval = 0 }, "lifecycle_interval:"},
		{"negative restore delay", func(c *Config) { c.ArchiveRestoreDelay = -time.Second }, "archive_restore_delay:"},
		{"gc interval zero", func(c *Config) { c.GCInterval = 0 }, "gc_interval:"},
		{"gc grace negative", func(c *Config) { c.GCGrace = -time.Second }, "gc_grace:"},
		{"upload ttl zero", func(c *Config) { c.UploadTTL = 0 }, "upload_ttl:"},
		{"recycle bin off", func(c *Config) { c.RecycleBinRetention = 0 }, ""},
		{"recycle bin negative", func(c *Config) { c.RecycleBinRetention = -time.Hour }, "recycle_bin_retention:"},
		{"read header timeout", func(c *Config) { c.ReadHeaderTimeout = 0 }, "read_header_timeout:"},
		{"manifest size", func(c *Config) { c.MaxManifestBytes = 0 }, "max_manifest_bytes:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Defaults()
			tt.mutate(&c)
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), secret) {
				t.Fatalf("error leaks the secret: %v", err)
			}
		})
	}

	// All problems are reported at once.
	c := Defaults()
	c.Listen, c.LogFormat, c.GCInterval = "nope", "xml", 0
	err := c.Validate()
	for _, k := range []string{"listen:", "log_format:", "gc_interval:"} {
		if err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("missing %s in %v", k, err)
		}
	}

	// Load validates.
	if _, err := Load(nil, []string{"WHARF_ACCOUNT_ID=42"}); err == nil || !strings.Contains(err.Error(), "account_id") {
		t.Errorf("Load did not validate: %v", err)
	}
	// A password in public_url is not echoed.
	c = Defaults()
	c.PublicURL = "https://user:hunter2@r.example.com"
	if err := c.Validate(); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("public_url with password: %v", err)
	}
}

func TestRedaction(t *testing.T) {
	c := Defaults()
	c.AdminAccessKeyID = "AKIDEXAMPLE"
	c.AdminSecretAccessKey = secret

	outputs := map[string]string{
		"%v":  fmt.Sprintf("%v", c),
		"%+v": fmt.Sprintf("%+v", c),
		"%s":  fmt.Sprintf("%s", c),
		"%#v": fmt.Sprintf("%#v", c),
		"ptr": fmt.Sprintf("%v", &c),
		"nested": fmt.Sprintf("%+v", struct {
			Cfg Config
		}{c}),
		"String": c.String(),
	}

	var text, js bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("starting", "config", c)
	slog.New(slog.NewJSONHandler(&js, nil)).Info("starting", slog.Any("config", c))
	outputs["slog text"] = text.String()
	outputs["slog json"] = js.String()

	j, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	outputs["json"] = string(j)
	y, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	outputs["yaml"] = string(y)

	for name, out := range outputs {
		if strings.Contains(out, secret) || strings.Contains(out, "EXAMPLEKEY") {
			t.Errorf("%s leaks the secret: %s", name, out)
		}
		if !strings.Contains(out, Redacted) {
			t.Errorf("%s lacks the redaction marker: %s", name, out)
		}
		if !strings.Contains(out, "AKIDEXAMPLE") {
			t.Errorf("%s lost the (public) access key id: %s", name, out)
		}
	}
	if !strings.HasPrefix(outputs["%#v"], "config.Config{") {
		t.Errorf("%%#v = %s", outputs["%#v"])
	}
	// slog output carries the settings under their YAML keys.
	for _, want := range []string{"config.listen=127.0.0.1:5000", "config.gc_interval=1h0m0s", "config.admin_secret_access_key=" + Redacted} {
		if !strings.Contains(outputs["slog text"], want) {
			t.Errorf("slog text lacks %q: %s", want, outputs["slog text"])
		}
	}
	if c.AdminSecretAccessKey != secret {
		t.Fatal("redaction modified the config")
	}

	// An unset secret prints as empty, not as the marker.
	if s := Defaults().String(); strings.Contains(s, Redacted) {
		t.Errorf("unset secret shown as redacted: %s", s)
	}

	// The redacted YAML dump loads back (with the secret set from env).
	p := writeFile(t, outputs["yaml"])
	back, err := Load(nil, []string{"WHARF_CONFIG=" + p, "WHARF_ADMIN_SECRET_ACCESS_KEY=" + secret})
	if err != nil {
		t.Fatalf("reload dump: %v", err)
	}
	if back != c {
		t.Errorf("round trip: got %+v want %+v", back, c)
	}
}

func TestRegisterFlagsHelp(t *testing.T) {
	fs := pflag.NewFlagSet("wharf", pflag.ContinueOnError)
	RegisterFlags(fs)
	help := fs.FlagUsages()
	for _, f := range fields {
		if !strings.Contains(help, "--"+f.flagName()) {
			t.Errorf("help lacks --%s", f.flagName())
		}
		if !strings.Contains(help, f.envName()) {
			t.Errorf("help lacks %s", f.envName())
		}
		if fs.Lookup(f.flagName()).Usage == "" {
			t.Errorf("--%s has no usage", f.flagName())
		}
	}
	if !strings.Contains(help, "--config") || strings.Contains(help, "--data-dir") {
		t.Errorf("unexpected help:\n%s", help)
	}
}

func TestParseBytes(t *testing.T) {
	good := map[string]int64{"0": 0, "17": 17, "1B": 1, "4MiB": 4 << 20, "4 mib": 4 << 20, "2KiB": 2048, "1GiB": 1 << 30}
	for in, want := range good {
		if got, err := parseBytes(in); err != nil || got != want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "MiB", "4MB", "1.5MiB", "99999999999GiB", "4 MiB extra"} {
		if _, err := parseBytes(in); err == nil {
			t.Errorf("parseBytes(%q) accepted", in)
		}
	}
}

func TestStoreURLsRedacted(t *testing.T) {
	c := Defaults()
	c.Metadata = "postgres://wharf:hunter2@db:5432/wharf?sslmode=disable"
	c.Blobs = "s3://bucket/p?endpoint=http://s3:9000&secret_key=topsecret"
	for _, out := range []string{c.String(), fmt.Sprintf("%#v", c)} {
		if strings.Contains(out, "hunter2") || strings.Contains(out, "topsecret") {
			t.Fatalf("secret leaked: %s", out)
		}
		if !strings.Contains(out, "postgres://wharf:") || !strings.Contains(out, "s3://bucket/p") {
			t.Fatalf("store URLs lost: %s", out)
		}
	}
}
