package migrate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/wharfhq/wharf/internal/store/blob"
	"github.com/wharfhq/wharf/internal/store/blob/fs"
	"github.com/wharfhq/wharf/internal/store/blob/s3"
	"github.com/wharfhq/wharf/internal/store/meta"
	"github.com/wharfhq/wharf/internal/store/meta/sqlstore"
)

// Location names the two stores of a registry, as `wharf serve` configures
// them: Metadata is a postgres:// (or postgresql://) URL or a data
// directory (the embedded SQLite database <dir>/meta.db); Blobs is an s3://
// URL or a data directory (the filesystem store under <dir>).
type Location struct {
	Metadata string
	Blobs    string
}

// ParseLocation parses what --from and --to accept: a data directory (both
// stores embedded there), or a comma-separated list of store URLs, one
// postgres:// and one s3://, e.g.
//
//	postgres://wharf@db:5432/wharf,s3://bucket/prefix?endpoint=http://minio:9000&path_style=true
//
// The list is split before each scheme, not at every comma, so commas
// inside a URL (a multi-host PostgreSQL URL) are kept.
func ParseLocation(spec string) (Location, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return Location{}, errors.New("empty store location")
	}
	if !hasScheme(spec) {
		return Location{Metadata: spec, Blobs: spec}, nil
	}
	var l Location
	for _, part := range splitURLs(spec) {
		switch {
		case isPostgres(part):
			if l.Metadata != "" {
				return Location{}, errors.New("two metadata stores given")
			}
			l.Metadata = part
		case strings.HasPrefix(part, "s3://"):
			if l.Blobs != "" {
				return Location{}, errors.New("two blob stores given")
			}
			l.Blobs = part
		default:
			return Location{}, fmt.Errorf("unsupported store %q (want postgres://... or s3://...)", redactURL(part))
		}
	}
	return l, nil
}

// Complete checks that both stores are named.
func (l Location) Complete() error {
	switch {
	case l.Metadata == "" && l.Blobs == "":
		return errors.New("no stores given")
	case l.Metadata == "":
		return errors.New("no metadata store given (a postgres:// URL or a data directory)")
	case l.Blobs == "":
		return errors.New("no blob store given (an s3:// URL or a data directory)")
	}
	return nil
}

// String describes the location without secrets.
func (l Location) String() string {
	return "metadata " + describe(l.Metadata, "meta.db") + ", blobs " + describe(l.Blobs, "")
}

func describe(s, file string) string {
	if hasScheme(s) {
		return redactURL(s)
	}
	if file != "" {
		return filepath.Join(s, file)
	}
	return s
}

var schemes = []string{"postgres://", "postgresql://", "s3://"}

func hasScheme(s string) bool {
	for _, p := range schemes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

func isPostgres(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// splitURLs splits at each comma followed by a known scheme (and maybe
// spaces).
func splitURLs(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == ',' && hasScheme(strings.TrimLeft(s[i+1:], " ")) {
			out = append(out, strings.TrimSpace(s[start:i]))
			start = i + 1
		}
	}
	return append(out, strings.TrimSpace(s[start:]))
}

// redactURL hides a password in a URL's user information.
func redactURL(s string) string {
	at := strings.LastIndex(s, "@")
	i := strings.Index(s, "://")
	if at < 0 || i < 0 || at < i {
		return s
	}
	userinfo := s[i+3 : at]
	if user, _, ok := strings.Cut(userinfo, ":"); ok {
		return s[:i+3] + user + ":xxxxx" + s[at:]
	}
	return s
}

// Stores are opened stores; Close releases them.
type Stores struct {
	Meta  meta.Store
	Blobs blob.Store
	close []func() error
}

// Close closes the stores.
func (s *Stores) Close() error {
	var errs []error
	for i := len(s.close) - 1; i >= 0; i-- {
		errs = append(errs, s.close[i]())
	}
	s.close = nil
	return errors.Join(errs...)
}

// Open opens the stores of l. With mustExist (a source), a data directory
// must hold a registry already: a mistyped path is not taken for an empty
// registry. A destination directory is created. S3 credentials come from
// the AWS default chain (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, shared
// files, instance roles), as for `wharf serve`.
func Open(ctx context.Context, l Location, mustExist bool) (*Stores, error) {
	if err := l.Complete(); err != nil {
		return nil, err
	}
	st := &Stores{}
	var err error
	switch {
	case isPostgres(l.Metadata):
		var m *sqlstore.Store
		if m, err = sqlstore.OpenPostgres(ctx, l.Metadata); err == nil {
			st.Meta = m
		}
	default:
		db := filepath.Join(l.Metadata, "meta.db")
		if mustExist {
			if _, serr := os.Stat(db); serr != nil {
				return nil, fmt.Errorf("%s: no embedded registry there (%w)", l.Metadata, serr)
			}
		}
		var m *sqlstore.Store
		if m, err = sqlstore.OpenSQLiteWith(ctx, db, sqlstore.SQLiteOptions{FullSync: !mustExist}); err == nil {
			st.Meta = m
		}
	}
	if err != nil {
		return nil, fmt.Errorf("opening metadata store: %w", err)
	}
	st.close = append(st.close, st.Meta.Close)

	switch {
	case strings.HasPrefix(l.Blobs, "s3://"):
		var cfg s3.Config
		if cfg, err = s3.ParseURL(l.Blobs); err == nil {
			st.Blobs, err = s3.New(ctx, cfg)
		}
	default:
		if mustExist {
			if _, serr := os.Stat(filepath.Join(l.Blobs, "blobs")); serr != nil {
				err = fmt.Errorf("%s: no embedded blob store there (%w)", l.Blobs, serr)
				break
			}
		}
		var b *fs.Store
		// A destination on disk is written with fsync: a restore must be
		// durable when it reports success.
		if b, err = fs.NewWithOptions(l.Blobs, fs.Options{NoSync: mustExist}); err == nil {
			st.Blobs = b
			st.close = append(st.close, b.Close)
		}
	}
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("opening blob store: %w", err)
	}
	return st, nil
}
