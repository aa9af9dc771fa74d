package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"
)

// EnvConfig names the environment variable holding the config file path when
// the --config flag is not given.
const EnvConfig = "WHARF_CONFIG"

// FlagConfig is the name of the flag holding the config file path.
const FlagConfig = "config"

const envPrefix = "WHARF_"

type kind int

const (
	kindString kind = iota
	kindBool
	kindDuration
	kindBytes
)

// field describes one setting and how every source spells it.
type field struct {
	key   string // YAML key, snake_case; env is WHARF_ + upper(key), flag is kebab(key)
	kind  kind
	usage string
	ptr   func(*Config) any // *string, *bool, *time.Duration or *int64

	flag        string   // flag name; defaults to kebab(key)
	flagAliases []string // extra accepted flag names (hidden)
	envAliases  []string // extra accepted env names, lower priority than the canonical one
}

func (f *field) flagName() string {
	if f.flag != "" {
		return f.flag
	}
	return strings.ReplaceAll(f.key, "_", "-")
}

func (f *field) envName() string { return envPrefix + strings.ToUpper(f.key) }

// fields lists every setting. Keep in sync with Config (a test checks).
var fields = []field{
	{key: "listen", kind: kindString, usage: "TCP address to listen on (host:port)",
		ptr: func(c *Config) any { return &c.Listen }},
	{key: "metrics_listen", kind: kindString, usage: "optional second address serving /metrics, /healthz and /readyz WITHOUT authentication, for a scraper on a private network (on the main address /metrics needs wharf:GetMetrics)",
		ptr: func(c *Config) any { return &c.MetricsListen }},
	{key: "data_dir", kind: kindString, usage: "directory holding blobs and metadata",
		ptr: func(c *Config) any { return &c.DataDir }, flag: "data", flagAliases: []string{"data-dir"}, envAliases: []string{"WHARF_DATA"}},
	{key: "metadata", kind: kindString, usage: "metadata store: empty for the embedded SQLite under the data directory, or postgres://user:pass@host:port/db",
		ptr: func(c *Config) any { return &c.Metadata }},
	{key: "blobs", kind: kindString, usage: "blob store: empty for the filesystem under the data directory, or s3://bucket/prefix?endpoint=...&region=...",
		ptr: func(c *Config) any { return &c.Blobs }},
	{key: "blob_redirect", kind: kindBool, usage: "redirect blob downloads to short-lived presigned URLs of the blob store (S3) instead of streaming them through the server",
		ptr: func(c *Config) any { return &c.BlobRedirect }},
	{key: "region", kind: kindString, usage: "AWS region the registry answers for",
		ptr: func(c *Config) any { return &c.Region }},
	{key: "public_url", kind: kindString, usage: "externally visible base URL, e.g. https://registry.example.com (empty: derive from requests)",
		ptr: func(c *Config) any { return &c.PublicURL }},
	{key: "account_id", kind: kindString, usage: "12-digit AWS account id the registry answers for",
		ptr: func(c *Config) any { return &c.AccountID }},
	{key: "admin_access_key_id", kind: kindString, usage: "bootstrap admin access key id",
		ptr: func(c *Config) any { return &c.AdminAccessKeyID }},
	{key: "admin_secret_access_key", kind: kindString, usage: "bootstrap admin secret access key (prefer the environment variable or config file: flags are visible in the process list)",
		ptr: func(c *Config) any { return &c.AdminSecretAccessKey }},
	{key: "anonymous", kind: kindBool, usage: "development only: turn authentication off (anyone may push and pull)",
		ptr: func(c *Config) any { return &c.Anonymous }},
	{key: "fsync", kind: kindBool, usage: "fsync blobs and metadata on every write (survive power loss, at the cost of write bandwidth); without it writes survive a crash of the process",
		ptr: func(c *Config) any { return &c.Fsync }},
	{key: "create_on_push", kind: kindBool, usage: "create repositories on first push",
		ptr: func(c *Config) any { return &c.CreateOnPush }},
	{key: "log_format", kind: kindString, usage: "log format: text or json",
		ptr: func(c *Config) any { return &c.LogFormat }},
	{key: "access_log", kind: kindBool, usage: "log every request at info level (off: only failed requests are logged)",
		ptr: func(c *Config) any { return &c.AccessLog }},
	{key: "log_level", kind: kindString, usage: "log level: debug, info, warn or error",
		ptr: func(c *Config) any { return &c.LogLevel }},
	{key: "gc_interval", kind: kindDuration, usage: "how often garbage collection runs",
		ptr: func(c *Config) any { return &c.GCInterval }},
	{key: "gc_grace", kind: kindDuration, usage: "minimum age of an unreferenced blob before garbage collection deletes it",
		ptr: func(c *Config) any { return &c.GCGrace }},
	{key: "upload_ttl", kind: kindDuration, usage: "how long an idle blob upload session is kept",
		ptr: func(c *Config) any { return &c.UploadTTL }},
	{key: "recycle_bin_retention", kind: kindDuration, usage: "how long deleted images stay restorable in the recycle bin (0: delete immediately)",
		ptr: func(c *Config) any { return &c.RecycleBinRetention }},
	{key: "lifecycle_interval", kind: kindDuration, usage: "how often lifecycle policies are applied to the repositories that have one",
		ptr: func(c *Config) any { return &c.LifecycleInterval }},
	{key: "archive_restore_delay", kind: kindDuration, usage: "how long restoring an archived image takes (status ACTIVATING meanwhile; 0: at once)",
		ptr: func(c *Config) any { return &c.ArchiveRestoreDelay }},
	{key: "max_manifest_bytes", kind: kindBytes, usage: "maximum manifest size in bytes (suffixes KiB, MiB, GiB accepted)",
		ptr: func(c *Config) any { return &c.MaxManifestBytes }},
	{key: "read_header_timeout", kind: kindDuration, usage: "time allowed to read request headers",
		ptr: func(c *Config) any { return &c.ReadHeaderTimeout }},
	{key: "idle_timeout", kind: kindDuration, usage: "how long idle keep-alive connections are kept",
		ptr: func(c *Config) any { return &c.IdleTimeout }},
	{key: "shutdown_timeout", kind: kindDuration, usage: "time allowed for graceful shutdown",
		ptr: func(c *Config) any { return &c.ShutdownTimeout }},
	{key: "tcp_notsent_lowat", kind: kindBytes, usage: "per-connection cap on queued unsent bytes (TCP_NOTSENT_LOWAT, Linux; 0: kernel default)",
		ptr: func(c *Config) any { return &c.TCPNotSentLowat }},
}

func fieldByKey(key string) *field {
	for i := range fields {
		if fields[i].key == key {
			return &fields[i]
		}
	}
	return nil
}

// RegisterFlags defines the --config flag and one flag per setting on fs.
// Flag defaults shown in help are the built-in defaults; Load only applies
// flags the user actually set, so they never mask the file or environment.
func RegisterFlags(fs *pflag.FlagSet) {
	d := Defaults()
	fs.String(FlagConfig, "", "path to a YAML config file (env "+EnvConfig+")")
	for i := range fields {
		f := &fields[i]
		usage := f.usage + " (env " + f.envName() + ")"
		names := append([]string{f.flagName()}, f.flagAliases...)
		for j, name := range names {
			u := usage
			if j > 0 {
				u = "alias of --" + f.flagName()
			}
			switch p := f.ptr(&d).(type) {
			case *string:
				fs.String(name, *p, u)
			case *bool:
				fs.Bool(name, *p, u)
			case *time.Duration:
				fs.Duration(name, *p, u)
			case *int64:
				v := byteSize(*p)
				fs.Var(&v, name, u)
			}
			if j > 0 {
				_ = fs.MarkHidden(name)
			}
		}
	}
}

// byteSize is a pflag.Value accepting the same syntax as the file and env.
type byteSize int64

func (b *byteSize) String() string { return strconv.FormatInt(int64(*b), 10) }
func (b *byteSize) Type() string   { return "bytes" }
func (b *byteSize) Set(s string) error {
	n, err := parseBytes(s)
	if err != nil {
		return err
	}
	*b = byteSize(n)
	return nil
}

// Load resolves the configuration from defaults, the config file, environ
// (in os.Environ form, "KEY=value") and the flags set on fs, then validates
// it. fs may be nil, and must have been parsed. Flags defined on fs but not
// by RegisterFlags are ignored.
func Load(fs *pflag.FlagSet, environ []string) (Config, error) {
	cfg := Defaults()
	env := envMap(environ)

	path := env[EnvConfig]
	if fs != nil {
		if fl := fs.Lookup(FlagConfig); fl != nil && fl.Changed {
			path = fl.Value.String()
			if path == "" {
				return Config{}, errors.New("flag --config: empty path")
			}
		}
	}
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("config file: %w", err)
		}
		if err := applyYAML(&cfg, data); err != nil {
			return Config{}, fmt.Errorf("config file %s: %w", path, err)
		}
	}

	if err := applyEnv(&cfg, env); err != nil {
		return Config{}, err
	}
	if fs != nil {
		if err := applyFlags(&cfg, fs); err != nil {
			return Config{}, err
		}
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, fmt.Errorf("invalid configuration: %w", err)
	}
	return cfg, nil
}

// envMap indexes environ; the last occurrence of a name wins, as with
// os/exec. Empty values count as unset.
func envMap(environ []string) map[string]string {
	m := make(map[string]string)
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(k, envPrefix) {
			continue
		}
		if v == "" {
			delete(m, k)
			continue
		}
		m[k] = v
	}
	return m
}

func applyEnv(cfg *Config, env map[string]string) error {
	for i := range fields {
		f := &fields[i]
		names := append([]string{f.envName()}, f.envAliases...)
		for _, name := range names {
			v, ok := env[name]
			if !ok {
				continue
			}
			if err := f.set(cfg, v); err != nil {
				return fmt.Errorf("environment variable %s: %w", name, err)
			}
			break // the canonical name wins over aliases
		}
	}
	return nil
}

func applyFlags(cfg *Config, fs *pflag.FlagSet) error {
	for i := range fields {
		f := &fields[i]
		var setBy string
		var setVal string
		for _, name := range append([]string{f.flagName()}, f.flagAliases...) {
			fl := fs.Lookup(name)
			if fl == nil || !fl.Changed {
				continue
			}
			v := fl.Value.String()
			if setBy != "" && v != setVal {
				return fmt.Errorf("flags --%s and --%s conflict", setBy, name)
			}
			setBy, setVal = name, v
		}
		if setBy == "" {
			continue
		}
		if err := f.set(cfg, setVal); err != nil {
			return fmt.Errorf("flag --%s: %w", setBy, err)
		}
	}
	return nil
}

// applyYAML applies a YAML mapping of setting keys to scalars. Unknown and
// duplicate keys are errors; a null value leaves the setting unchanged.
func applyYAML(cfg *Config, data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // empty file
		}
		return err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return err
		}
		return fmt.Errorf("line %d: only one YAML document is allowed", extra.Line)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return nil
		}
		root = root.Content[0]
	}
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil // a document holding only comments or "~"
	}
	if root.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: top level must be a mapping of settings", root.Line)
	}
	seen := make(map[string]int)
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return fmt.Errorf("line %d: keys must be plain strings", k.Line)
		}
		f := fieldByKey(k.Value)
		if f == nil {
			return fmt.Errorf("line %d: unknown key %q", k.Line, k.Value)
		}
		if prev, dup := seen[k.Value]; dup {
			return fmt.Errorf("line %d: key %q already set on line %d", k.Line, k.Value, prev)
		}
		seen[k.Value] = k.Line
		if v.Kind == yaml.AliasNode && v.Alias != nil {
			v = v.Alias
		}
		if v.Kind != yaml.ScalarNode {
			return fmt.Errorf("line %d: %s: value must be a scalar", v.Line, k.Value)
		}
		if v.Tag == "!!null" {
			continue
		}
		if err := f.set(cfg, v.Value); err != nil {
			return fmt.Errorf("line %d: %s: %w", v.Line, k.Value, err)
		}
	}
	return nil
}

// set parses raw according to f's kind and stores it in cfg. Error messages
// never include the value of the secret.
func (f *field) set(cfg *Config, raw string) error {
	switch p := f.ptr(cfg).(type) {
	case *string:
		*p = raw
	case *bool:
		b, err := parseBool(raw)
		if err != nil {
			return err
		}
		*p = b
	case *time.Duration:
		d, err := time.ParseDuration(strings.TrimSpace(raw))
		if err != nil {
			return fmt.Errorf("invalid duration %q (use a Go duration such as \"90s\" or \"24h\")", raw)
		}
		*p = d
	case *int64:
		n, err := parseBytes(raw)
		if err != nil {
			return err
		}
		*p = n
	default:
		panic("config: unsupported field type for " + f.key)
	}
	return nil
}

func parseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "t", "true", "y", "yes", "on":
		return true, nil
	case "0", "f", "false", "n", "no", "off":
		return false, nil
	}
	return false, fmt.Errorf("invalid boolean %q (use true or false)", s)
}

// parseBytes parses a non-negative integer with an optional B, KiB, MiB or
// GiB suffix (case-insensitive, optional space before it).
func parseBytes(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	var mult int64
	switch unit {
	case "", "b":
		mult = 1
	case "kib":
		mult = 1 << 10
	case "mib":
		mult = 1 << 20
	case "gib":
		mult = 1 << 30
	default:
		return 0, fmt.Errorf("invalid size %q (use bytes, optionally with KiB, MiB or GiB)", s)
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n > (1<<63-1)/mult {
		return 0, fmt.Errorf("invalid size %q (use bytes, optionally with KiB, MiB or GiB)", s)
	}
	return n * mult, nil
}
