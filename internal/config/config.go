// Package config loads the Wharf server configuration.
//
// Values are resolved in this order, later sources overriding earlier ones:
//
//  1. built-in defaults (see [Defaults]);
//  2. a YAML config file, whose path comes from the --config flag or, when
//     that flag is not set, the WHARF_CONFIG environment variable;
//  3. environment variables named WHARF_<KEY> where KEY is the upper-cased
//     YAML key (WHARF_LISTEN, WHARF_DATA_DIR, WHARF_GC_INTERVAL, ...);
//  4. command-line flags, but only those the user actually set.
//
// Durations are Go duration strings ("90s", "24h") everywhere. Byte sizes are
// integers, optionally followed by B, KiB, MiB or GiB. Environment variables
// set to the empty string are treated as unset.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Config is the server configuration. The zero value is not useful; start
// from [Defaults] or use [Load].
//
// AdminSecretAccessKey is never printed: String, GoString, LogValue and
// MarshalJSON redact it.
type Config struct {
	// Listen is the TCP address the HTTP server listens on.
	Listen string `yaml:"listen"`
	// MetricsListen, when set, is a second address that serves /metrics,
	// /healthz and /readyz without authentication (for a scraper on a
	// private network). On Listen, /metrics requires credentials allowed
	// wharf:GetMetrics on the operator account.
	MetricsListen string `yaml:"metrics_listen"`
	// DataDir holds blobs and metadata.
	DataDir string `yaml:"data_dir"`
	// Metadata selects the metadata store: "" (embedded SQLite under
	// DataDir) or a postgres:// URL. It may hold a password: never logged.
	Metadata string `yaml:"metadata"`
	// Blobs selects the blob store: "" (filesystem under DataDir) or an
	// s3:// URL.
	Blobs string `yaml:"blobs"`
	// BlobRedirect answers blob GETs with a 307 redirect to a short-lived
	// presigned URL when the blob store supports it (S3), instead of
	// streaming the bytes through the node.
	BlobRedirect bool `yaml:"blob_redirect"`
	// Region is the AWS region the server claims to be (SigV4 scope, ARNs).
	Region string `yaml:"region"`
	// PublicURL is the externally visible base URL (scheme://host[:port]),
	// used to build absolute URLs. Empty means "derive from the request".
	PublicURL string `yaml:"public_url"`
	// AccountID is the 12-digit AWS account id the registry answers for.
	AccountID string `yaml:"account_id"`
	// AdminAccessKeyID and AdminSecretAccessKey are the bootstrap admin
	// credentials. Both or neither must be set.
	AdminAccessKeyID     string `yaml:"admin_access_key_id"`
	AdminSecretAccessKey string `yaml:"admin_secret_access_key"`
	// Anonymous allows unauthenticated pulls.
	Anonymous bool `yaml:"anonymous"`
	// Fsync makes every blob and metadata write durable against power loss
	// (fsync). Off, an acknowledged write survives a crash of the process
	// (kill -9) but may be lost with the machine.
	Fsync bool `yaml:"fsync"`
	// CreateOnPush creates a repository on first push instead of refusing.
	CreateOnPush bool `yaml:"create_on_push"`
	// LogFormat is "text" or "json".
	LogFormat string `yaml:"log_format"`
	// AccessLog logs every request at info level; off, only failed and
	// aborted requests are logged.
	AccessLog bool `yaml:"access_log"`
	// LogLevel is a slog level name: debug, info, warn, error (or e.g. "info+2").
	LogLevel string `yaml:"log_level"`
	// GCInterval is how often garbage collection runs.
	GCInterval time.Duration `yaml:"gc_interval"`
	// GCGrace is how long an unreferenced blob survives before GC deletes it.
	GCGrace time.Duration `yaml:"gc_grace"`
	// UploadTTL is how long an idle upload session is kept.
	UploadTTL time.Duration `yaml:"upload_ttl"`
	// RecycleBinRetention is how long a deleted image stays restorable
	// (with its tags, its blobs kept from GC); 0 deletes immediately.
	RecycleBinRetention time.Duration `yaml:"recycle_bin_retention"`
	// LifecycleInterval is how often lifecycle policies are applied.
	LifecycleInterval time.Duration `yaml:"lifecycle_interval"`
	// ArchiveRestoreDelay is how long restoring an archived image takes
	// (its status is ACTIVATING meanwhile); 0 restores at once.
	ArchiveRestoreDelay time.Duration `yaml:"archive_restore_delay"`
	// MaxManifestBytes caps the size of a pushed manifest.
	MaxManifestBytes int64 `yaml:"max_manifest_bytes"`
	// ReadHeaderTimeout bounds reading request headers (http.Server).
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	// IdleTimeout bounds idle keep-alive connections (http.Server).
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// ShutdownTimeout bounds graceful shutdown.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// TCPNotSentLowat caps each connection's queued but unsent bytes
	// (TCP_NOTSENT_LOWAT, Linux; 0 = the kernel's default).
	TCPNotSentLowat int64 `yaml:"tcp_notsent_lowat"`
}

// Defaults returns the built-in default configuration.
func Defaults() Config {
	return Config{
		Listen:              "127.0.0.1:5000",
		DataDir:             "./wharf-data",
		Region:              "us-east-1",
		CreateOnPush:        true,
		LogFormat:           "text",
		LogLevel:            "info",
		AccessLog:           true,
		GCInterval:          time.Hour,
		GCGrace:             24 * time.Hour,
		UploadTTL:           24 * time.Hour,
		RecycleBinRetention: 7 * 24 * time.Hour,
		LifecycleInterval:   24 * time.Hour,
		ArchiveRestoreDelay: time.Minute,
		MaxManifestBytes:    4 << 20,
		ReadHeaderTimeout:   10 * time.Second,
		IdleTimeout:         2 * time.Minute,
		ShutdownTimeout:     30 * time.Second,
		TCPNotSentLowat:     16 << 10,
	}
}

// SlogLevel returns the parsed LogLevel, or slog.LevelInfo when it does not
// parse (Validate reports that case).
func (c Config) SlogLevel() slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return slog.LevelInfo
	}
	return l
}

var (
	accountIDRe = regexp.MustCompile(`^[0-9]{12}$`)
	regionRe    = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
)

// Validate checks the configuration and reports every problem found, each
// prefixed with the YAML key it concerns.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}

	if err := validateListen(c.Listen); err != nil {
		bad("listen", "%v", err)
	}
	if c.MetricsListen != "" {
		if err := validateListen(c.MetricsListen); err != nil {
			bad("metrics_listen", "%v", err)
		} else if c.MetricsListen == c.Listen {
			bad("metrics_listen", "must differ from listen (%s): it serves metrics without authentication", c.Listen)
		}
	}
	if strings.TrimSpace(c.DataDir) == "" {
		bad("data_dir", "must not be empty")
	}
	if !regionRe.MatchString(c.Region) {
		bad("region", "%q is not a valid region name (lowercase letters, digits and dashes, e.g. us-east-1)", c.Region)
	}
	if c.PublicURL != "" {
		if err := validatePublicURL(c.PublicURL); err != nil {
			bad("public_url", "%v", err)
		}
	}
	if c.AccountID != "" && !accountIDRe.MatchString(c.AccountID) {
		bad("account_id", "%q must be exactly 12 digits", c.AccountID)
	}
	switch {
	case c.AdminAccessKeyID != "" && c.AdminSecretAccessKey == "":
		bad("admin_secret_access_key", "must be set when admin_access_key_id is set")
	case c.AdminAccessKeyID == "" && c.AdminSecretAccessKey != "":
		bad("admin_access_key_id", "must be set when admin_secret_access_key is set")
	}
	if c.AdminAccessKeyID != "" && strings.ContainsFunc(c.AdminAccessKeyID, isSpaceOrControl) {
		bad("admin_access_key_id", "must not contain whitespace or control characters")
	}
	if c.AdminSecretAccessKey != "" && strings.ContainsFunc(c.AdminSecretAccessKey, isSpaceOrControl) {
		// Do not echo the value.
		bad("admin_secret_access_key", "must not contain whitespace or control characters")
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		bad("log_format", "%q must be \"text\" or \"json\"", c.LogFormat)
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.LogLevel)); err != nil {
		bad("log_level", "%q is not a level (debug, info, warn, error)", c.LogLevel)
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{
		{"gc_interval", c.GCInterval},
		{"gc_grace", c.GCGrace},
		{"upload_ttl", c.UploadTTL},
		{"lifecycle_interval", c.LifecycleInterval},
		{"read_header_timeout", c.ReadHeaderTimeout},
		{"idle_timeout", c.IdleTimeout},
		{"shutdown_timeout", c.ShutdownTimeout},
	} {
		if d.v <= 0 {
			bad(d.key, "must be positive, got %v", d.v)
		}
	}
	if c.RecycleBinRetention < 0 {
		bad("recycle_bin_retention", "must not be negative (0 turns the recycle bin off), got %v", c.RecycleBinRetention)
	}
	if c.ArchiveRestoreDelay < 0 {
		bad("archive_restore_delay", "must not be negative, got %v", c.ArchiveRestoreDelay)
	}
	if c.MaxManifestBytes <= 0 {
		bad("max_manifest_bytes", "must be positive, got %d", c.MaxManifestBytes)
	}
	if c.TCPNotSentLowat < 0 || c.TCPNotSentLowat > 1<<30 {
		bad("tcp_notsent_lowat", "must be between 0 (kernel default) and 1GiB, got %d", c.TCPNotSentLowat)
	}
	return errors.Join(errs...)
}

func isSpaceOrControl(r rune) bool {
	return r <= ' ' || r == 0x7f
}

func validateListen(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port: %v", addr, err)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("%q: port %q is not a number in 0-65535", addr, port)
	}
	if host != "" && strings.ContainsFunc(host, isSpaceOrControl) {
		return fmt.Errorf("%q: invalid host", addr)
	}
	return nil
}

func validatePublicURL(s string) error {
	// Error messages avoid echoing the raw value: a URL may carry a password.
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("not a valid URL")
	}
	if u.User != nil {
		return errors.New("must not contain user info")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%q: scheme must be http or https", u.Redacted())
	}
	if u.Host == "" {
		return fmt.Errorf("%q: missing host", u.Redacted())
	}
	if u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return fmt.Errorf("%q: must not contain a query or fragment", u.Redacted())
	}
	return nil
}
