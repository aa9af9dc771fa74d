package manifest

import (
	"slices"
	"strings"
	"testing"
)

func TestFormatPlatform(t *testing.T) {
	for _, tc := range []struct{ os, arch, variant, want string }{
		{"linux", "amd64", "", "linux/amd64"},
		{"Linux", "AMD64", "", "linux/amd64"},
		{"linux", "x86_64", "", "linux/amd64"},
		{"linux", "amd64", "v1", "linux/amd64"},
		{"linux", "amd64", "v3", "linux/amd64/v3"},
		{"linux", "arm64", "", "linux/arm64"},
		{"linux", "aarch64", "v8", "linux/arm64"},
		{"linux", "arm64", "v8", "linux/arm64"},
		{"linux", "arm", "", "linux/arm/v7"},
		{"linux", "arm", "6", "linux/arm/v6"},
		{"linux", "armhf", "", "linux/arm/v7"},
		{"windows", "amd64", "", "windows/amd64"},
		{"linux", "i386", "", "linux/386"},
		{"", "amd64", "", ""},
		{"linux", "", "", ""},
		{"unknown", "unknown", "", ""},
		{"linux/evil", "amd64", "", ""},
		{"linux", "amd 64", "", ""},
	} {
		if got := FormatPlatform(tc.os, tc.arch, tc.variant); got != tc.want {
			t.Errorf("%s/%s/%s: %q, want %q", tc.os, tc.arch, tc.variant, got, tc.want)
		}
	}
}

func TestConfigAndIndexPlatforms(t *testing.T) {
	if got := ConfigPlatform([]byte(`{"os":"linux","architecture":"arm64","variant":"v8","rootfs":{}}`)); got != "linux/arm64" {
		t.Errorf("config: %q", got)
	}
	for _, bad := range []string{``, `[]`, `{"os":1}`, `{"architecture":"amd64"}`, `nul`} {
		if got := ConfigPlatform([]byte(bad)); got != "" {
			t.Errorf("config %q: %q", bad, got)
		}
	}
	const d = "sha256:" + "0000000000000000000000000000000000000000000000000000000000000000"
	idx := `{"schemaVersion":2,"mediaType":"` + OCIIndex + `","manifests":[
 {"mediaType":"` + OCIManifest + `","digest":"` + d + `","size":1,"platform":{"os":"linux","architecture":"arm64","variant":"v8"}},
 {"mediaType":"` + OCIManifest + `","digest":"` + d + `","size":1,"platform":{"os":"linux","architecture":"amd64"}},
 {"mediaType":"` + OCIManifest + `","digest":"` + d + `","size":1,"platform":{"os":"linux","architecture":"amd64"}},
 {"mediaType":"` + OCIManifest + `","digest":"` + d + `","size":1,"platform":{"os":"unknown","architecture":"unknown"},
  "annotations":{"vnd.docker.reference.type":"attestation-manifest"}},
 {"mediaType":"` + OCIManifest + `","digest":"` + d + `","size":1}]}`
	p, err := Parse("", []byte(idx))
	if err != nil {
		t.Fatal(err)
	}
	known, undeclared := IndexPlatforms(p)
	if known.String() != "linux/amd64, linux/arm64" || len(undeclared) != 1 {
		t.Fatalf("index: %v, %d undeclared", known, len(undeclared))
	}
	if NewPlatforms().String() != "no platform" || !NewPlatforms("b", "a", "b").Equal(Platforms{"a", "b"}) {
		t.Fatal("sets")
	}
}

// FuzzConfigPlatform: any config blob (untrusted) yields "" or a
// normalized platform of two or three non-empty parts.
func FuzzConfigPlatform(f *testing.F) {
	f.Add(`{"os":"linux","architecture":"arm64","variant":"v8"}`)
	f.Add(`{"os":"Linux","architecture":"ARM","variant":"7"}`)
	f.Add(`{"os":"unknown","architecture":"unknown"}`)
	f.Add(`{"os":"linux/evil","architecture":"amd64"}`)
	f.Fuzz(func(t *testing.T, cfg string) {
		p := ConfigPlatform([]byte(cfg))
		if p == "" {
			return
		}
		parts := strings.Split(p, "/")
		if len(parts) < 2 || len(parts) > 3 || slices.Contains(parts, "") || strings.ContainsFunc(p, func(r rune) bool { return r <= ' ' }) {
			t.Fatalf("%q -> malformed %q", cfg, p)
		}
		variant := ""
		if len(parts) == 3 {
			variant = parts[2]
		}
		if again := FormatPlatform(parts[0], parts[1], variant); again != p {
			t.Fatalf("not normalized: %q -> %q -> %q", cfg, p, again)
		}
	})
}
