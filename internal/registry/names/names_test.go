package names

import (
	"strings"
	"testing"
)

func TestValidRepository(t *testing.T) {
	good := []string{"ab", "team/app", "a.b/c_d/e__f", "x-y--z/0", strings.Repeat("a", 256)}
	bad := []string{"", "a", "A", "team/App", "-a", "a-", "a//b", "/a", "a/", "a/../b", "..", "a..b", "a___b", "a b", strings.Repeat("a", 257), "a/.b"}
	for _, n := range good {
		if !ValidRepository(n) {
			t.Errorf("ValidRepository(%q) = false, want true", n)
		}
	}
	for _, n := range bad {
		if ValidRepository(n) {
			t.Errorf("ValidRepository(%q) = true, want false", n)
		}
	}
}

func TestParseReference(t *testing.T) {
	d := "sha256:" + strings.Repeat("a", 64)
	r, err := ParseReference(d)
	if err != nil || !r.IsDigest() || string(r.Digest) != d {
		t.Fatalf("digest ref: %+v %v", r, err)
	}
	r, err = ParseReference("v1.0_rc-1")
	if err != nil || r.IsDigest() || r.Tag != "v1.0_rc-1" {
		t.Fatalf("tag ref: %+v %v", r, err)
	}
	for _, s := range []string{"", ".x", "-x", strings.Repeat("a", 129), "sha256:abc", "md5:" + strings.Repeat("a", 32), "a/b", "a b"} {
		if _, err := ParseReference(s); err == nil {
			t.Errorf("ParseReference(%q) accepted", s)
		}
	}
	if _, err := ParseReference("sha512:" + strings.Repeat("b", 128)); err != nil {
		t.Errorf("sha512 rejected: %v", err)
	}
}

func FuzzParseReference(f *testing.F) {
	for _, s := range []string{"latest", "sha256:" + strings.Repeat("a", 64), "sha512:x", "../x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseReference(s)
		if err != nil {
			return
		}
		if r.IsDigest() {
			if err := r.Digest.Validate(); err != nil {
				t.Fatalf("accepted invalid digest %q", s)
			}
		} else if strings.ContainsAny(r.Tag, "/:") || len(r.Tag) > 128 {
			t.Fatalf("accepted invalid tag %q", s)
		}
	})
}

func FuzzValidRepository(f *testing.F) {
	for _, s := range []string{"team/app", "a/../b", "A", "a__b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !ValidRepository(s) {
			return
		}
		if strings.Contains(s, "..") || strings.HasPrefix(s, "/") || strings.HasSuffix(s, "/") || strings.Contains(s, "//") || s != strings.ToLower(s) {
			t.Fatalf("accepted %q", s)
		}
	})
}

// The hand-written validators agree with the spec's regular expressions.
func FuzzValidatorsMatchRegexps(f *testing.F) {
	for _, s := range []string{"team/app", "a__b", "a___b", "a--b", "a-", "a/.b", "v1.0", "-x", "_x", "A/b", "ab/", "a//b", "a.b_c__d--e/f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := ValidRepository(s), len(s) >= 2 && len(s) <= 256 && repoRE.MatchString(s); got != want {
			t.Fatalf("ValidRepository(%q) = %v, regexp says %v", s, got, want)
		}
		if got, want := ValidTag(s), tagRE.MatchString(s); got != want {
			t.Fatalf("ValidTag(%q) = %v, regexp says %v", s, got, want)
		}
	})
}
