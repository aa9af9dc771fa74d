// Package vex reads OpenVEX documents (https://openvex.dev, spec v0.2.0 and
// the earlier v0.0.1 form) and turns their statements about an image into
// finding suppressions: a vulnerability the document declares not_affected
// or fixed for the image (or for packages inside it) is suppressed with the
// statement's justification. It is pure and hand-written (a few structs; a
// VEX library would pull in far more than it parses); documents come from
// users, so the parser is bounded and fuzzed.
package vex

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/wharfhq/wharf/internal/store/meta"
)

// ArtifactType is the artifactType of an OpenVEX document attached to an
// image as an OCI referrer (`oras attach --artifact-type
// application/vnd.openvex+json IMAGE vex.json`).
const ArtifactType = "application/vnd.openvex+json"

// Limits on a document.
const (
	MaxDocumentBytes = 1 << 20
	MaxStatements    = 10000
)

// Statuses of a statement.
const (
	StatusNotAffected        = "not_affected"
	StatusAffected           = "affected"
	StatusFixed              = "fixed"
	StatusUnderInvestigation = "under_investigation"
)

// Document is an OpenVEX document (the members Wharf uses).
type Document struct {
	Context    string      `json:"@context"`
	ID         string      `json:"@id"`
	Author     string      `json:"author"`
	Timestamp  time.Time   `json:"timestamp"`
	Statements []Statement `json:"statements"`
}

// Statement is one statement of a document.
type Statement struct {
	Vulnerability   Vulnerability `json:"vulnerability"`
	Products        []Product     `json:"products"`
	Status          string        `json:"status"`
	Justification   string        `json:"justification,omitempty"`
	ImpactStatement string        `json:"impact_statement,omitempty"`
	ActionStatement string        `json:"action_statement,omitempty"`
	Timestamp       *time.Time    `json:"timestamp,omitempty"`
}

// Vulnerability names the vulnerability of a statement. v0.0.1 documents
// give it as a bare string.
type Vulnerability struct {
	ID      string   `json:"@id,omitempty"`
	Name    string   `json:"name"`
	Aliases []string `json:"aliases,omitempty"`
}

// UnmarshalJSON accepts the object form and the bare string form.
func (v *Vulnerability) UnmarshalJSON(b []byte) error {
	if bytes.HasPrefix(bytes.TrimSpace(b), []byte(`"`)) {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*v = Vulnerability{Name: s}
		return nil
	}
	type plain Vulnerability
	return json.Unmarshal(b, (*plain)(v))
}

// Names returns the vulnerability's name and aliases (the @id too when it
// is not a URL), de-duplicated.
func (v Vulnerability) Names() []string {
	var out []string
	add := func(s string) {
		s = strings.TrimSpace(s)
		if s != "" && !strings.Contains(s, "://") && !slices.ContainsFunc(out, func(o string) bool { return strings.EqualFold(o, s) }) {
			out = append(out, s)
		}
	}
	add(v.Name)
	for _, a := range v.Aliases {
		add(a)
	}
	add(v.ID)
	return out
}

// Product is a product of a statement: an image or package identified by
// @id (a purl, usually), identifiers and hashes, with subcomponents (the
// packages inside it the statement is about). v0.0.1 documents give
// products as bare strings.
type Product struct {
	ID            string            `json:"@id"`
	Identifiers   map[string]string `json:"identifiers,omitempty"`
	Hashes        map[string]string `json:"hashes,omitempty"`
	Subcomponents []Product         `json:"subcomponents,omitempty"`
}

// UnmarshalJSON accepts the object form and the bare string form.
func (p *Product) UnmarshalJSON(b []byte) error {
	if bytes.HasPrefix(bytes.TrimSpace(b), []byte(`"`)) {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*p = Product{ID: s}
		return nil
	}
	type plain Product
	return json.Unmarshal(b, (*plain)(p))
}

// ErrNotOpenVEX is returned for a JSON document that is not OpenVEX.
var ErrNotOpenVEX = errors.New("vex: not an OpenVEX document")

// Parse reads an OpenVEX document: JSON, at most MaxDocumentBytes, with an
// @context of https://openvex.dev/ns, at most MaxStatements statements, each
// with a vulnerability name, a known status and at least one product.
func Parse(b []byte) (*Document, error) {
	if len(b) > MaxDocumentBytes {
		return nil, fmt.Errorf("vex: document of %d bytes exceeds %d", len(b), MaxDocumentBytes)
	}
	var d Document
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("vex: %w", err)
	}
	if !strings.HasPrefix(d.Context, "https://openvex.dev/ns") {
		return nil, ErrNotOpenVEX
	}
	if len(d.Statements) > MaxStatements {
		return nil, fmt.Errorf("vex: %d statements exceed %d", len(d.Statements), MaxStatements)
	}
	for i, st := range d.Statements {
		switch {
		case len(st.Vulnerability.Names()) == 0:
			return nil, fmt.Errorf("vex: statements[%d]: no vulnerability name", i)
		case len(st.Products) == 0:
			return nil, fmt.Errorf("vex: statements[%d]: no products", i)
		}
		switch st.Status {
		case StatusNotAffected, StatusAffected, StatusFixed, StatusUnderInvestigation:
		default:
			return nil, fmt.Errorf("vex: statements[%d]: unknown status %q", i, st.Status)
		}
	}
	return &d, nil
}

// Image is the image suppressions are derived for.
type Image struct {
	AccountID  string
	Repository string
	Digest     string // sha256:...
}

// Suppressions returns the suppressions the document's statements make for
// img: for every vulnerability whose latest statement about the image is
// not_affected or fixed, one suppression per vulnerability name or alias,
// scoped to the image's digest and, when the statement names
// subcomponents, to those packages. A later statement (by timestamp, then
// document order) replaces an earlier one about the same vulnerability and
// product, so "affected" after "not_affected" lifts the suppression. source
// names where the document came from (recorded as CreatedBy).
func (d *Document) Suppressions(img Image, source string) []meta.Suppression {
	type key struct{ vuln, pkg string }
	type pick struct {
		st *Statement
		at time.Time
	}
	latest := map[key]pick{}
	var order []key
	for i := range d.Statements {
		st := &d.Statements[i]
		at := d.Timestamp
		if st.Timestamp != nil {
			at = *st.Timestamp
		}
		for _, p := range st.Products {
			if !productIsImage(p, img) {
				continue
			}
			pkgs := []string{""}
			if len(p.Subcomponents) > 0 {
				pkgs = pkgs[:0]
				for _, sc := range p.Subcomponents {
					if n := packageName(sc); n != "" {
						pkgs = append(pkgs, n)
					}
				}
			}
			for _, v := range st.Vulnerability.Names() {
				for _, pkg := range pkgs {
					k := key{strings.ToUpper(v), pkg}
					old, seen := latest[k]
					if !seen {
						order = append(order, k)
					}
					if !seen || !at.Before(old.at) {
						latest[k] = pick{st, at}
					}
				}
			}
		}
	}
	var out []meta.Suppression
	for _, k := range order {
		p := latest[k]
		if p.st.Status != StatusNotAffected && p.st.Status != StatusFixed {
			continue
		}
		name := k.vuln
		for _, n := range p.st.Vulnerability.Names() {
			if strings.EqualFold(n, k.vuln) {
				name = n
			}
		}
		by := source
		if d.Author != "" {
			by += " (" + d.Author + ")"
		}
		out = append(out, meta.Suppression{
			AccountID:     img.AccountID,
			Repository:    img.Repository,
			FindingID:     name,
			Package:       k.pkg,
			Digest:        img.Digest,
			Justification: justification(p.st),
			CreatedBy:     by,
			CreatedAt:     p.at,
		})
	}
	return out
}

func justification(st *Statement) string {
	j := "OpenVEX " + st.Status
	if st.Justification != "" {
		j += " (" + st.Justification + ")"
	}
	switch {
	case st.ImpactStatement != "":
		j += ": " + st.ImpactStatement
	case st.ActionStatement != "":
		j += ": " + st.ActionStatement
	}
	return j
}

// productIsImage reports whether a product identifies the image: its
// digest itself, a pkg:oci purl whose version is the digest (or that has no
// version and names the repository's last element: the document is
// attached to the image, so it speaks of this one), or a sha-256 hash equal
// to the digest's.
func productIsImage(p Product, img Image) bool {
	alg, hexd, _ := strings.Cut(img.Digest, ":")
	if hexd == "" {
		return false
	}
	ids := []string{p.ID}
	for _, v := range p.Identifiers {
		ids = append(ids, v)
	}
	for _, id := range ids {
		if id == img.Digest {
			return true
		}
		if purlIsImage(id, img) {
			return true
		}
	}
	for k, v := range p.Hashes {
		if strings.EqualFold(strings.ReplaceAll(k, "-", ""), alg) && strings.EqualFold(v, hexd) {
			return true
		}
	}
	return false
}

func purlIsImage(s string, img Image) bool {
	rest, ok := strings.CutPrefix(s, "pkg:oci/")
	if !ok {
		return false
	}
	if i := strings.IndexAny(rest, "?#"); i >= 0 {
		rest = rest[:i]
	}
	name, version, hasVersion := strings.Cut(rest, "@")
	if hasVersion {
		v, err := url.PathUnescape(version)
		return err == nil && v == img.Digest
	}
	last := img.Repository
	if i := strings.LastIndexByte(last, '/'); i >= 0 {
		last = last[i+1:]
	}
	n, err := url.PathUnescape(name)
	return err == nil && strings.EqualFold(n, last)
}

// packageName is the package a subcomponent names, as a suppression's
// Package: its purl (matched against the finding's package purl, version
// aside), else its @id as a package name.
func packageName(p Product) string {
	if purl := p.Identifiers["purl"]; strings.HasPrefix(purl, "pkg:") {
		return purl
	}
	return strings.TrimSpace(p.ID)
}
