package manifest

import (
	"errors"
	"strings"
	"testing"
)

const (
	d1 = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	d2 = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
	d3 = "sha256:3333333333333333333333333333333333333333333333333333333333333333"
)

func TestParseImageManifest(t *testing.T) {
	body := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
	 "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + d1 + `","size":10},
	 "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"` + d2 + `","size":5},
	           {"mediaType":"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip","digest":"` + d3 + `","size":5,"urls":["https://x"]}],
	 "annotations":{"a":"b"}}`
	p, err := Parse("application/vnd.oci.image.manifest.v1+json", []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if p.IsIndex() || p.ArtifactType != "application/vnd.oci.image.config.v1+json" || p.Annotations["a"] != "b" {
		t.Fatalf("unexpected %+v", p)
	}
	if got := strings.Join(p.RequiredBlobs(), ","); got != d1+","+d2 {
		t.Fatalf("required = %s", got)
	}
	if got := strings.Join(p.OptionalBlobs(), ","); got != d3 {
		t.Fatalf("optional = %s", got)
	}
}

func TestParseArtifactAndSubject(t *testing.T) {
	body := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
	 "config":{"mediaType":"application/vnd.example.sbom","digest":"` + d1 + `","size":2},
	 "layers":[],"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + d2 + `","size":100}}`
	p, err := Parse("", []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if p.ArtifactType != "application/vnd.example.sbom" {
		t.Fatalf("artifactType from config = %q", p.ArtifactType)
	}
	if p.Subject == nil || string(p.Subject.Digest) != d2 {
		t.Fatalf("subject = %+v", p.Subject)
	}
	body2 := strings.Replace(body, `"layers":[]`, `"artifactType":"application/x-explicit","layers":[]`, 1)
	p, err = Parse("application/vnd.oci.image.manifest.v1+json", []byte(body2))
	if err != nil || p.ArtifactType != "application/x-explicit" {
		t.Fatalf("explicit artifactType: %v %q", err, p.ArtifactType)
	}
}

func TestParseIndex(t *testing.T) {
	body := `{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json",
	 "manifests":[{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":"` + d1 + `","size":7,"platform":{"os":"linux","architecture":"amd64"}},
	              {"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":"` + d2 + `","size":7,"platform":{"os":"linux","architecture":"arm64"}}]}`
	p, err := Parse("application/vnd.docker.distribution.manifest.list.v2+json", []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if !p.IsIndex() || len(p.ChildManifests()) != 2 || len(p.RequiredBlobs()) != 0 {
		t.Fatalf("unexpected %+v", p)
	}
}

func TestParseRejects(t *testing.T) {
	okCfg := `"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + d1 + `","size":1}`
	cases := map[string]struct{ ct, body string }{
		"not json":          {"", `{"schemaVersion":`},
		"array":             {"", `[1,2]`},
		"schema 1":          {"", `{"schemaVersion":1,` + okCfg + `,"layers":[]}`},
		"no schemaVersion":  {"", `{` + okCfg + `,"layers":[]}`},
		"type mismatch":     {"application/vnd.oci.image.index.v1+json", `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",` + okCfg + `,"layers":[]}`},
		"no config":         {"application/vnd.oci.image.manifest.v1+json", `{"schemaVersion":2,"layers":[]}`},
		"bad digest":        {"application/vnd.oci.image.manifest.v1+json", `{"schemaVersion":2,"config":{"mediaType":"x","digest":"sha256:zz","size":1},"layers":[]}`},
		"md5 digest":        {"application/vnd.oci.image.manifest.v1+json", `{"schemaVersion":2,"config":{"mediaType":"x","digest":"md5:d41d8cd98f00b204e9800998ecf8427e","size":1},"layers":[]}`},
		"negative size":     {"application/vnd.oci.image.manifest.v1+json", `{"schemaVersion":2,"config":{"mediaType":"x","digest":"` + d1 + `","size":-1},"layers":[]}`},
		"index with layers": {"application/vnd.oci.image.index.v1+json", `{"schemaVersion":2,"manifests":[],"layers":[]}`},
		"index no list":     {"application/vnd.oci.image.index.v1+json", `{"schemaVersion":2}`},
		"docker no layers":  {"application/vnd.docker.distribution.manifest.v2+json", `{"schemaVersion":2,` + okCfg + `}`},
		"layer no type":     {"application/vnd.oci.image.manifest.v1+json", `{"schemaVersion":2,` + okCfg + `,"layers":[{"digest":"` + d2 + `","size":1}]}`},
	}
	for name, c := range cases {
		if _, err := Parse(c.ct, []byte(c.body)); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
	if _, err := Parse("application/vnd.docker.distribution.manifest.v1+prettyjws", []byte(`{"schemaVersion":1}`)); !errors.Is(err, ErrUnsupported) {
		t.Errorf("schema1: err = %v, want ErrUnsupported", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add("application/vnd.oci.image.manifest.v1+json", `{"schemaVersion":2,"config":{"mediaType":"a","digest":"`+d1+`","size":1},"layers":[]}`)
	f.Add("application/vnd.oci.image.index.v1+json", `{"schemaVersion":2,"manifests":[{"mediaType":"a","digest":"`+d1+`","size":1}]}`)
	f.Add("", `{"schemaVersion":2,"subject":{"mediaType":"a","digest":"`+d2+`","size":3}}`)
	f.Add("text/plain", `null`)
	f.Fuzz(func(t *testing.T, ct, body string) {
		p, err := Parse(ct, []byte(body))
		if err != nil {
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if !Known(p.MediaType) {
			t.Fatalf("accepted unknown media type %q", p.MediaType)
		}
		for _, d := range append(append(p.RequiredBlobs(), p.OptionalBlobs()...), p.ChildManifests()...) {
			if !strings.HasPrefix(d, "sha256:") && !strings.HasPrefix(d, "sha512:") {
				t.Fatalf("accepted digest %q", d)
			}
		}
		if p.IsIndex() && p.Config != nil {
			t.Fatal("index with config")
		}
	})
}
