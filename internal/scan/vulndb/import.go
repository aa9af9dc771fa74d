package vulndb

import (
	"archive/zip"
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/wharfhq/wharf/internal/store/meta"
)

// ImportOptions tune Import.
type ImportOptions struct {
	// Source names the feed (default: the absolute path imported).
	Source string
	// BatchSize is the number of advisories written per transaction
	// (default 500).
	BatchSize int
	// MaxEntryBytes bounds the uncompressed size of one zip entry
	// (default 64 MiB): a larger one is reported invalid, not read.
	MaxEntryBytes int64
	// MaxInvalidReasons bounds ImportReport.InvalidRecords (default 1000;
	// Invalid counts them all).
	MaxInvalidReasons int
	// Now is the clock (default time.Now).
	Now func() time.Time
}

func (o *ImportOptions) defaults() {
	if o.BatchSize <= 0 {
		o.BatchSize = 500
	}
	if o.MaxEntryBytes <= 0 {
		o.MaxEntryBytes = 64 << 20
	}
	if o.MaxInvalidReasons <= 0 {
		o.MaxInvalidReasons = 1000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// InvalidRecord is a record Import could not take.
type InvalidRecord struct {
	// File is the file (or "archive.zip!entry.json"), with "[n]" for the
	// n-th record of a JSON array or stream.
	File   string `json:"file"`
	ID     string `json:"id,omitempty"`
	Reason string `json:"reason"`
}

// ImportReport says what an import did.
type ImportReport struct {
	Source     string    `json:"source"`
	Path       string    `json:"path"`
	ImportedAt time.Time `json:"importedAt"`
	// Files is the number of JSON files (or zip entries) read.
	Files int `json:"files"`
	// Records read and what became of them: Added (new id), Updated (a
	// newer "modified" replaced the stored one), Unchanged (same
	// "modified" as stored), Older (the stored one is newer), Invalid.
	Records   int `json:"records"`
	Added     int `json:"added"`
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
	Older     int `json:"older"`
	Invalid   int `json:"invalid"`
	// InvalidRecords says why (the first MaxInvalidReasons).
	InvalidRecords []InvalidRecord `json:"invalidRecords,omitempty"`
	// Touched are the package keys of the advisories added or updated
	// (before and after the update), sorted: the inventories to match again
	// are those whose PackageKeys meet them.
	Touched []PackageKey `json:"touched,omitempty"`
	// UpdatedAt is the newest "modified" among the valid records read:
	// the source's vulnerabilitySourceUpdatedAt.
	UpdatedAt time.Time `json:"updatedAt"`
}

// Import loads OSV advisories from path into the store: a directory
// (every *.json below it, recursively, and every *.zip), one .json file
// (one advisory, a JSON array of them, or a stream of objects) or a .zip
// such as osv.dev's per-ecosystem all.zip (one advisory per entry). It is
// idempotent: an advisory stored with the same id and "modified" time is
// left alone, a newer one replaces it, an older one is ignored (OSV: the
// later modification is authoritative). Records that are not valid JSON,
// lack an id or a "modified" time are counted invalid, with the file and
// the reason, and the import goes on; a path that cannot be read is an
// error. Zip entries are read one at a time and advisories written in
// batches, so memory stays bounded whatever the archive's size. The
// source is recorded with the counts and its newest "modified" time.
func Import(ctx context.Context, st meta.VulnStore, path string, opts ImportOptions) (ImportReport, error) {
	opts.defaults()
	abs, err := filepath.Abs(path)
	if err != nil {
		return ImportReport{}, fmt.Errorf("vulndb: import: %w", err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return ImportReport{}, fmt.Errorf("vulndb: import: %w", err)
	}
	im := &importer{
		ctx: ctx, st: st, opts: opts,
		rep:     ImportReport{Source: opts.Source, Path: abs, ImportedAt: opts.Now().UTC()},
		touched: map[PackageKey]bool{},
	}
	if im.rep.Source == "" {
		im.rep.Source = abs
	}
	switch {
	case fi.IsDir():
		err = filepath.WalkDir(abs, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if p == abs {
					return err
				}
				im.invalid(p, "", err.Error())
				if d != nil && d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			if d.IsDir() {
				return nil
			}
			switch strings.ToLower(filepath.Ext(p)) {
			case ".json":
				return im.file(p)
			case ".zip":
				return im.zip(p, false)
			}
			return nil
		})
	case strings.EqualFold(filepath.Ext(abs), ".zip"):
		err = im.zip(abs, true)
	default:
		err = im.file(abs)
	}
	if err == nil {
		err = im.flush()
	}
	if err != nil {
		return im.rep, fmt.Errorf("vulndb: import %s: %w", path, err)
	}
	for k := range im.touched {
		im.rep.Touched = append(im.rep.Touched, k)
	}
	sortKeys(im.rep.Touched)
	err = st.PutVulnSource(ctx, meta.VulnSource{
		Name: im.rep.Source, Path: abs, ImportedAt: im.rep.ImportedAt, UpdatedAt: im.rep.UpdatedAt,
		Added: int64(im.rep.Added), Updated: int64(im.rep.Updated), Unchanged: int64(im.rep.Unchanged),
		Older: int64(im.rep.Older), Invalid: int64(im.rep.Invalid),
	})
	if err != nil {
		return im.rep, fmt.Errorf("vulndb: import %s: %w", path, err)
	}
	return im.rep, nil
}

type importer struct {
	ctx     context.Context
	st      meta.VulnStore
	opts    ImportOptions
	rep     ImportReport
	batch   []meta.VulnAdvisory
	touched map[PackageKey]bool
}

func (im *importer) invalid(file, id, reason string) {
	im.rep.Invalid++
	if len(im.rep.InvalidRecords) < im.opts.MaxInvalidReasons {
		im.rep.InvalidRecords = append(im.rep.InvalidRecords, InvalidRecord{File: file, ID: id, Reason: reason})
	}
}

// file imports one JSON file. Failing to open it is an error when it is
// the path imported, an invalid record inside a directory.
func (im *importer) file(p string) error {
	f, err := os.Open(p)
	if err != nil {
		if p == im.rep.Path {
			return err
		}
		im.invalid(p, "", err.Error())
		return nil
	}
	defer f.Close()
	return im.stream(p, f)
}

// zip imports every .json entry of an archive.
func (im *importer) zip(p string, top bool) error {
	zr, err := zip.OpenReader(p)
	if err != nil {
		if top {
			return err
		}
		im.invalid(p, "", err.Error())
		return nil
	}
	defer zr.Close()
	for _, zf := range zr.File {
		if zf.FileInfo().IsDir() || !strings.EqualFold(filepath.Ext(zf.Name), ".json") {
			continue
		}
		name := p + "!" + zf.Name
		if zf.UncompressedSize64 > uint64(im.opts.MaxEntryBytes) {
			im.invalid(name, "", fmt.Sprintf("entry of %d bytes exceeds the %d-byte limit", zf.UncompressedSize64, im.opts.MaxEntryBytes))
			continue
		}
		rc, err := zf.Open()
		if err != nil {
			im.invalid(name, "", err.Error())
			continue
		}
		// The header's size is not trusted: the reader is bounded too.
		err = im.stream(name, &limitReader{r: rc, n: im.opts.MaxEntryBytes})
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// errTooLarge is reported by limitReader past its limit.
var errTooLarge = errors.New("entry exceeds the size limit")

type limitReader struct {
	r io.Reader
	n int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, errTooLarge
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}

// stream imports the JSON values of r: objects, or arrays of objects,
// one after another. Only a store failure (or cancellation) is an error;
// bad content is counted invalid.
func (im *importer) stream(name string, r io.Reader) error {
	im.rep.Files++
	br := bufio.NewReaderSize(r, 64<<10)
	dec := json.NewDecoder(br)
	n := 0
	label := func() string {
		if n == 0 {
			return name
		}
		return fmt.Sprintf("%s[%d]", name, n)
	}
	values := 0
	for {
		if err := im.ctx.Err(); err != nil {
			return err
		}
		c, err := peek(br, dec)
		if err == io.EOF {
			if values == 0 {
				im.invalid(name, "", "empty file")
			}
			return nil
		}
		if err != nil {
			im.invalid(label(), "", readReason(err))
			return nil
		}
		values++
		if c != '[' {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				im.invalid(label(), "", readReason(err))
				return nil // the decoder cannot resynchronise
			}
			if err := im.record(label(), raw); err != nil {
				return err
			}
			n++
			continue
		}
		if _, err := dec.Token(); err != nil {
			im.invalid(label(), "", readReason(err))
			return nil
		}
		for dec.More() {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				im.invalid(fmt.Sprintf("%s[%d]", name, n), "", readReason(err))
				return nil
			}
			if err := im.record(fmt.Sprintf("%s[%d]", name, n), raw); err != nil {
				return err
			}
			n++
		}
		if _, err := dec.Token(); err != nil {
			im.invalid(name, "", readReason(err))
			return nil
		}
	}
}

func readReason(err error) string {
	if errors.Is(err, errTooLarge) {
		return errTooLarge.Error()
	}
	return "bad JSON: " + err.Error()
}

// peek returns the next non-space byte the decoder will read, without
// consuming it: what is buffered in the decoder first, then the reader.
func peek(br *bufio.Reader, dec *json.Decoder) (byte, error) {
	buffered := dec.Buffered()
	var one [1]byte
	for {
		if n, _ := buffered.Read(one[:]); n == 0 {
			break
		}
		if !isSpace(one[0]) {
			return one[0], nil
		}
	}
	for {
		b, err := br.ReadByte()
		if err != nil {
			return 0, err
		}
		if !isSpace(b) {
			return b, br.UnreadByte()
		}
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// record validates one advisory and queues it for writing.
func (im *importer) record(label string, raw json.RawMessage) error {
	im.rep.Records++
	if len(raw) == 0 || raw[0] != '{' {
		im.invalid(label, "", "not a JSON object")
		return nil
	}
	a, err := parseAdvisory(raw)
	if err != nil {
		var id struct {
			ID any `json:"id"`
		}
		_ = json.Unmarshal(raw, &id)
		s, _ := id.ID.(string)
		im.invalid(label, clip(s), err.Error())
		return nil
	}
	if a.modified.After(im.rep.UpdatedAt) {
		im.rep.UpdatedAt = a.modified
	}
	im.batch = append(im.batch, meta.VulnAdvisory{
		ID: a.rec.ID, Modified: a.modified, Withdrawn: a.withdrawn, Source: im.rep.Source,
		ImportedAt: im.rep.ImportedAt, Packages: a.packageKeys(), Data: compress(raw),
	})
	if len(im.batch) >= im.opts.BatchSize {
		return im.flush()
	}
	return nil
}

// flush writes the queued advisories in one transaction.
func (im *importer) flush() error {
	if len(im.batch) == 0 {
		return nil
	}
	res, err := im.st.PutVulnAdvisories(im.ctx, im.batch)
	if err != nil {
		return err
	}
	for i, r := range res {
		switch r.Outcome {
		case meta.VulnAdded, meta.VulnUpdated:
			if r.Outcome == meta.VulnAdded {
				im.rep.Added++
			} else {
				im.rep.Updated++
			}
			for _, k := range im.batch[i].Packages {
				im.touched[k] = true
			}
			for _, k := range r.Previous {
				im.touched[k] = true
			}
		case meta.VulnUnchanged:
			im.rep.Unchanged++
		case meta.VulnOlder:
			im.rep.Older++
		}
	}
	im.batch = im.batch[:0]
	return nil
}
