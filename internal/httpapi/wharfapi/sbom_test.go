package wharfapi_test

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
	spdxjson "github.com/spdx/tools-golang/json"
)

const testDpkgStatus = `Package: openssl
Status: install ok installed
Architecture: amd64
Version: 3.0.11-1~deb12u2
Description: Secure Sockets Layer toolkit

Package: zlib1g
Status: install ok installed
Architecture: amd64
Source: zlib
Version: 1:1.2.13.dfsg-1
Description: compression library - runtime

`

const testOSRelease = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n"

// pushDebian pushes a one-layer image with an os-release and a dpkg
// database, returning its digest.
func (e *env) pushDebian(repo, tag string) string {
	e.t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct{ name, body string }{{"etc/os-release", testOSRelease}, {"var/lib/dpkg/status", testDpkgStatus}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.body)), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)}); err != nil {
			e.t.Fatal(err)
		}
		tw.Write([]byte(f.body))
	}
	tw.Close()
	layer := buf.Bytes()
	cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["` + sha(layer) + `"]}}`)
	for _, b := range [][]byte{cfg, layer} {
		if res, body := e.v2("POST", "/v2/"+repo+"/blobs/uploads/?digest="+sha(b), b); res.StatusCode != 201 {
			e.t.Fatalf("blob push: %d %s", res.StatusCode, body)
		}
	}
	m := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%d}]}`,
		sha(cfg), len(cfg), sha(layer), len(layer)))
	if res, body := e.v2("PUT", "/v2/"+repo+"/manifests/"+tag, m, "Content-Type", "application/vnd.oci.image.manifest.v1+json"); res.StatusCode != 201 {
		e.t.Fatalf("manifest push: %d %s", res.StatusCode, body)
	}
	return sha(m)
}

type sbomOut struct {
	RegistryID, RepositoryName, ImageDigest, Platform, Format, MediaType, Sbom, ReferrerDigest string
	AlreadyAttached                                                                            bool
}

func TestGetImageSbom(t *testing.T) {
	e := newEnv(t)
	d := e.pushDebian("team/app", "v1")

	out := call[sbomOut](e, e.root, "GetImageSbom", map[string]any{"repositoryName": "team/app", "imageId": map[string]any{"imageTag": "v1"}, "format": "CYCLONEDX_1_6"})
	if out.ImageDigest != d || out.Platform != "linux/amd64" || out.MediaType != "application/vnd.cyclonedx+json" || out.ReferrerDigest != "" {
		t.Fatalf("out %+v", out)
	}
	bom := new(cdx.BOM)
	if err := cdx.NewBOMDecoder(strings.NewReader(out.Sbom), cdx.BOMFileFormatJSON).Decode(bom); err != nil {
		t.Fatal(err)
	}
	var purls []string
	for _, c := range *bom.Components {
		purls = append(purls, c.PackageURL)
	}
	if bom.SpecVersion != cdx.SpecVersion1_6 || len(purls) != 3 || !strings.HasPrefix(purls[1], "pkg:deb/debian/openssl@") {
		t.Fatalf("spec %v purls %q", bom.SpecVersion, purls)
	}
	host := strings.TrimPrefix(e.srv.URL, "http://")
	if !strings.Contains(bom.Metadata.Component.PackageURL, "repository_url="+strings.ReplaceAll(host, ":", "%3A")+"/team/app") {
		t.Errorf("image purl %q", bom.Metadata.Component.PackageURL)
	}

	// SPDX, attached; the referrers API lists it; attaching again pushes nothing.
	in := map[string]any{"repositoryName": "team/app", "imageId": map[string]any{"imageDigest": d}, "format": "SPDX_2_3", "attach": true}
	out = call[sbomOut](e, e.root, "GetImageSbom", in)
	if out.ReferrerDigest == "" || out.AlreadyAttached {
		t.Fatalf("attach %+v", out)
	}
	if _, err := spdxjson.Read(strings.NewReader(out.Sbom)); err != nil {
		t.Fatalf("spdx: %v", err)
	}
	res, body := e.v2("GET", "/v2/team/app/referrers/"+d, nil)
	var idx struct {
		Manifests []struct{ Digest, ArtifactType string }
	}
	if res.StatusCode != 200 || json.Unmarshal(body, &idx) != nil || len(idx.Manifests) != 1 ||
		idx.Manifests[0].Digest != out.ReferrerDigest || idx.Manifests[0].ArtifactType != "application/spdx+json" {
		t.Fatalf("referrers %d %s", res.StatusCode, body)
	}
	again := call[sbomOut](e, e.root, "GetImageSbom", in)
	if !again.AlreadyAttached || again.ReferrerDigest != out.ReferrerDigest {
		t.Fatalf("again %+v", again)
	}

	// Errors.
	for _, c := range []struct {
		in   map[string]any
		code string
	}{
		{map[string]any{"repositoryName": "team/app", "imageId": map[string]any{"imageTag": "v1"}, "format": "XML"}, "ValidationException"},
		{map[string]any{"repositoryName": "team/app", "imageId": map[string]any{"imageTag": "v1"}}, "ValidationException"},
		{map[string]any{"repositoryName": "team/app", "format": "SPDX_2_3"}, "ValidationException"},
		{map[string]any{"repositoryName": "team/app", "imageId": map[string]any{"imageTag": "nope"}, "format": "SPDX_2_3"}, "ImageNotFoundException"},
		{map[string]any{"repositoryName": "team/none", "imageId": map[string]any{"imageTag": "v1"}, "format": "SPDX_2_3"}, "RepositoryNotFoundException"},
		// The SBOM artifact itself is not an image.
		{map[string]any{"repositoryName": "team/app", "imageId": map[string]any{"imageDigest": out.ReferrerDigest}, "format": "SPDX_2_3"}, "UnsupportedImageTypeException"},
	} {
		if ae := callErr(e, e.root, "GetImageSbom", c.in); ae.Code != c.code {
			t.Errorf("%v: %v, want %s", c.in, ae, c.code)
		}
	}
	// A layer that is no tar.
	e.mustPush("team/app", "junk", "linux/amd64", "x")
	if ae := callErr(e, e.root, "GetImageSbom", map[string]any{"repositoryName": "team/app", "imageId": map[string]any{"imageTag": "junk"}, "format": "SPDX_2_3"}); ae.Code != "UnsupportedImageTypeException" {
		t.Errorf("junk layer: %v", ae)
	}

	// Authorization: wharf:GetImageSbom to read; attaching also needs ecr:PutImage.
	reader := e.addUser("reader", "AKIAWHARFSBOMREADER1", "r", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"wharf:GetImageSbom","Resource":"*"}]}`)
	call[sbomOut](e, reader, "GetImageSbom", map[string]any{"repositoryName": "team/app", "imageId": map[string]any{"imageTag": "v1"}, "format": "SPDX_2_3"})
	if ae := callErr(e, reader, "GetImageSbom", in); ae.Code != "AccessDeniedException" || !strings.Contains(ae.Message, "ecr:PutImage") {
		t.Errorf("reader attach: %v", ae)
	}
	ecrOnly := e.addUser("ecr", "AKIAWHARFSBOMECRONLY", "r", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:*","Resource":"*"}]}`)
	if ae := callErr(e, ecrOnly, "GetImageSbom", in); ae.Code != "AccessDeniedException" {
		t.Errorf("ecr:* user: %v", ae)
	}
}
