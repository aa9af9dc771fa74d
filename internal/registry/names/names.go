// Package names validates repository names, tags and digests, the untrusted
// identifiers of every registry request.
package names

import (
	// go-digest accepts an algorithm only when its hash is linked in.
	_ "crypto/sha256"
	_ "crypto/sha512"
	"errors"
	"regexp"
	"strings"

	"github.com/opencontainers/go-digest"
)

var (
	// ECR's repository name rule (the ECR API model's RepositoryName pattern),
	// 2 to 256 characters. It is stricter than OCI's, so every name ECR
	// accepts is a valid OCI name too.
	repoRE = regexp.MustCompile(`^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$`)
	// OCI distribution-spec tag rule.
	tagRE = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)
)

// Errors returned by the validators.
var (
	ErrName   = errors.New("invalid repository name")
	ErrTag    = errors.New("invalid tag")
	ErrDigest = errors.New("invalid digest")
)

// ValidRepository reports whether name is an acceptable repository name:
// ECR's pattern (repoRE), checked by hand because it runs on every request.
func ValidRepository(name string) bool {
	if len(name) < 2 || len(name) > 256 {
		return false
	}
	// Components separated by '/', each alphanumeric runs joined by '.',
	// '_', '__' or one or more '-'.
	prevAlnum := false // the previous byte was [a-z0-9]
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
			prevAlnum = true
			continue
		case !prevAlnum || i == len(name)-1:
			return false
		}
		// A separator run starts after an alphanumeric byte.
		switch c {
		case '/', '.':
		case '_':
			if name[i+1] == '_' {
				i++
			}
		case '-':
			for i+1 < len(name) && name[i+1] == '-' {
				i++
			}
		default:
			return false
		}
		if i == len(name)-1 {
			return false
		}
		prevAlnum = false
	}
	return prevAlnum
}

// ValidTag reports whether tag is an acceptable OCI tag (tagRE), checked
// by hand because it runs on every request.
func ValidTag(tag string) bool {
	if len(tag) == 0 || len(tag) > 128 {
		return false
	}
	for i := 0; i < len(tag); i++ {
		c := tag[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || (i > 0 && (c == '.' || c == '-'))
		if !ok {
			return false
		}
	}
	return true
}

// ParseDigest parses and validates a digest with a supported algorithm
// (sha256 or sha512).
func ParseDigest(s string) (digest.Digest, error) {
	d, err := digest.Parse(s)
	if err != nil {
		return "", ErrDigest
	}
	switch d.Algorithm() {
	case digest.SHA256, digest.SHA512:
		return d, nil
	}
	return "", ErrDigest
}

// Reference is a manifest reference: a tag or a digest.
type Reference struct {
	Tag    string
	Digest digest.Digest
}

// IsDigest reports whether the reference names a digest.
func (r Reference) IsDigest() bool { return r.Digest != "" }

func (r Reference) String() string {
	if r.Digest != "" {
		return string(r.Digest)
	}
	return r.Tag
}

// ParseReference parses a manifest reference: a digest if it contains ':',
// a tag otherwise.
func ParseReference(s string) (Reference, error) {
	if strings.Contains(s, ":") {
		d, err := ParseDigest(s)
		if err != nil {
			return Reference{}, err
		}
		return Reference{Digest: d}, nil
	}
	if !ValidTag(s) {
		return Reference{}, ErrTag
	}
	return Reference{Tag: s}, nil
}
