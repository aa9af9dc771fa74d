package ecr_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"github.com/wharfhq/wharf/internal/jobs"
	"github.com/wharfhq/wharf/internal/scan"
	"github.com/wharfhq/wharf/internal/scan/vulndb"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// The findings tests scan for real (internal/scan with the real
// cataloguer and matcher) an image whose layer holds a small Debian 12
// system: openssl's source builds two installed packages, zlib's one.

const scOSRelease = `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION_CODENAME=bookworm
ID=debian
`

const scStatus = `Package: openssl
Status: install ok installed
Priority: optional
Section: utils
Architecture: amd64
Version: 3.0.11-1~deb12u2
Description: Secure Sockets Layer toolkit

Package: libssl3
Status: install ok installed
Priority: optional
Section: libs
Architecture: amd64
Source: openssl
Version: 3.0.11-1~deb12u2
Description: Secure Sockets Layer toolkit - shared libraries

Package: zlib1g
Status: install ok installed
Priority: optional
Section: libs
Architecture: amd64
Source: zlib
Version: 1:1.2.13.dfsg-1
Description: compression library - runtime
`

// scAdvisories: openssl affected (HIGH, fixed above), zlib fixed at its
// version (not reported).
var scAdvisories = map[string]string{
	"DEBIAN-CVE-2026-1000.json": `{"id":"DEBIAN-CVE-2026-1000","modified":"2026-03-01T00:00:00Z","published":"2026-02-01T00:00:00Z",
 "upstream":["CVE-2026-1000"],"aliases":["CVE-2026-1000"],"details":"A crafted certificate crashes OpenSSL.",
 "references":[{"type":"ADVISORY","url":"https://security-tracker.debian.org/tracker/CVE-2026-1000"}],
 "severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"}],
 "affected":[{"package":{"ecosystem":"Debian:12","name":"openssl"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"3.0.13-1~deb12u1"}]}]}]}`,
	"DEBIAN-CVE-2026-1001.json": `{"id":"DEBIAN-CVE-2026-1001","modified":"2026-03-01T00:00:00Z",
 "severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
 "affected":[{"package":{"ecosystem":"Debian:12","name":"zlib"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1:1.2.13.dfsg-1"}]}]}]}`,
}

func scLayer(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, d := range []string{"etc/", "var/", "var/lib/", "var/lib/dpkg/"} {
		imOK(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755}))
	}
	for name, body := range map[string]string{"etc/os-release": scOSRelease, "var/lib/dpkg/status": scStatus} {
		imOK(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(body))}))
		_, err := tw.Write([]byte(body))
		imOK(t, err)
	}
	imOK(t, tw.Close())
	imOK(t, zw.Close())
	return buf.Bytes()
}

// scImport imports the advisories into the server's store.
func (e *env) scImport(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	for name, body := range scAdvisories {
		imOK(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644))
	}
	_, err := vulndb.Import(context.Background(), e.app.Stores.Meta, dir, vulndb.ImportOptions{Source: "test"})
	imOK(t, err)
}

// scRun runs the due scan jobs with the server's scan service.
func (e *env) scRun(t *testing.T) {
	t.Helper()
	r := &jobs.Runner{Store: e.app.Stores.Meta, Worker: "test"}
	r.Handle(scan.KindScan, e.app.Scans.HandleScan)
	r.Handle(scan.KindRescan, e.app.Scans.HandleRescan)
	for i := 0; i < 20; i++ {
		ran, err := r.RunOnce(context.Background(), nil)
		imOK(t, err)
		if !ran {
			return
		}
	}
}

func TestScanningFindings(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.scImport(t)
	scCreate(t, e.ecr, "team/app", true)
	cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	layer := scLayer(t)
	e.imBlob("team/app", cfg)
	e.imBlob("team/app", layer)
	m := imManifest(cfg, layer)
	e.imPut("team/app", "v1", imOCIManifest, m)

	// The SDK's waiter polls DescribeImageScanFindings until COMPLETE
	// while the job runs.
	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(50 * time.Millisecond)
		e.scRun(t)
	}()
	w := ecr.NewImageScanCompleteWaiter(e.ecr, func(o *ecr.ImageScanCompleteWaiterOptions) {
		o.MinDelay, o.MaxDelay = 20*time.Millisecond, 50*time.Millisecond
	})
	imOK(t, w.Wait(ctx, &ecr.DescribeImageScanFindingsInput{RepositoryName: aws.String("team/app"), ImageId: &types.ImageIdentifier{ImageTag: aws.String("v1")}}, 30*time.Second))
	<-done

	f, err := scFindings(e.ecr, "team/app", "v1")
	imOK(t, err)
	if f.ImageScanStatus.Status != types.ScanStatusComplete || aws.ToString(f.ImageScanStatus.Description) != "The scan was completed successfully." {
		t.Fatalf("status %+v", f.ImageScanStatus)
	}
	sf := f.ImageScanFindings
	if sf.ImageScanCompletedAt == nil || sf.VulnerabilitySourceUpdatedAt == nil || len(sf.EnhancedFindings) != 0 ||
		len(sf.FindingSeverityCounts) != 1 || sf.FindingSeverityCounts["HIGH"] != 2 {
		t.Fatalf("findings summary %+v", sf)
	}
	// One finding per installed package of the affected source; zlib,
	// fixed at its installed version, is not reported.
	var got []string
	for _, fd := range sf.Findings {
		attrs := map[string]string{}
		for _, a := range fd.Attributes {
			attrs[aws.ToString(a.Key)] = aws.ToString(a.Value)
		}
		got = append(got, aws.ToString(fd.Name)+" "+string(fd.Severity)+" "+attrs["package_name"]+" "+attrs["package_version"]+" "+attrs["CVSS3_SCORE"]+" "+attrs["CVSS3_VECTOR"])
		if aws.ToString(fd.Uri) != "https://security-tracker.debian.org/tracker/CVE-2026-1000" || aws.ToString(fd.Description) != "A crafted certificate crashes OpenSSL." {
			t.Fatalf("finding %+v", fd)
		}
	}
	want := []string{
		"DEBIAN-CVE-2026-1000 HIGH libssl3 3.0.11-1~deb12u2 7.5 CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H",
		"DEBIAN-CVE-2026-1000 HIGH openssl 3.0.11-1~deb12u2 7.5 CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("findings\n got  %q\n want %q", got, want)
	}

	// Pages of one.
	var names []string
	var token *string
	for page := 0; ; page++ {
		out, err := e.ecr.DescribeImageScanFindings(ctx, &ecr.DescribeImageScanFindingsInput{RepositoryName: aws.String("team/app"),
			ImageId: &types.ImageIdentifier{ImageTag: aws.String("v1")}, MaxResults: aws.Int32(1), NextToken: token})
		imOK(t, err)
		if len(out.ImageScanFindings.Findings) != 1 || out.ImageScanFindings.FindingSeverityCounts["HIGH"] != 2 {
			t.Fatalf("page %d: %+v", page, out.ImageScanFindings)
		}
		for _, a := range out.ImageScanFindings.Findings[0].Attributes {
			if aws.ToString(a.Key) == "package_name" {
				names = append(names, aws.ToString(a.Value))
			}
		}
		if token = out.NextToken; token == nil {
			break
		}
	}
	if !slices.Equal(names, []string{"libssl3", "openssl"}) {
		t.Fatalf("paged %v", names)
	}
	_, err = e.ecr.DescribeImageScanFindings(ctx, &ecr.DescribeImageScanFindingsInput{RepositoryName: aws.String("team/app"),
		ImageId: &types.ImageIdentifier{ImageTag: aws.String("v1")}, NextToken: aws.String("forged")})
	imAs[*types.InvalidParameterException](t, err)

	// DescribeImages summarizes.
	d, err := e.ecr.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("team/app")})
	imOK(t, err)
	det := d.ImageDetails[0]
	if det.ImageScanStatus.Status != types.ScanStatusComplete || det.ImageScanFindingsSummary == nil ||
		det.ImageScanFindingsSummary.FindingSeverityCounts["HIGH"] != 2 || det.ImageScanFindingsSummary.ImageScanCompletedAt == nil {
		t.Fatalf("image detail %+v", det)
	}

	// Suppressions leave the summary, as they leave gates: a stored one
	// (one package), and an OpenVEX document attached to another image.
	if _, _, err := e.app.Stores.Meta.PutSuppression(ctx, meta.Suppression{AccountID: account, Repository: "team/app",
		FindingID: "CVE-2026-1000", Package: "libssl3", Justification: "test", ExpiresAt: time.Now().Add(time.Hour), CreatedBy: "test"}); err != nil {
		t.Fatal(err)
	}
	e.app.Gate.Forget(account, "team/app")
	cfg2 := []byte(`{"architecture":"arm64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	e.imBlob("team/app", cfg2)
	m2 := imManifest(cfg2, layer)
	e.imPut("team/app", "v2", imOCIManifest, m2)
	e.scRun(t)
	vexDoc := []byte(`{"@context":"https://openvex.dev/ns/v0.2.0","@id":"https://example.com/vex/1","author":"test","timestamp":"2026-01-01T00:00:00Z",
"version":1,"statements":[{"vulnerability":{"name":"CVE-2026-1000"},"products":[{"@id":"pkg:oci/app@` + strings.Replace(sha(m2), ":", "%3A", 1) + `"}],
"status":"not_affected","justification":"vulnerable_code_not_present"}]}`)
	empty := []byte("{}")
	e.imBlob("team/app", empty)
	e.imBlob("team/app", vexDoc)
	vexManifest := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"%s","artifactType":"application/vnd.openvex+json",
"config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"%s","size":2},
"layers":[{"mediaType":"application/vnd.openvex+json","digest":"%s","size":%d}],
"subject":{"mediaType":"%s","digest":"%s","size":%d}}`, imOCIManifest, sha(empty), sha(vexDoc), len(vexDoc), imOCIManifest, sha(m2), len(m2)))
	e.imPut("team/app", sha(vexManifest), imOCIManifest, vexManifest)
	d, err = e.ecr.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("team/app")})
	imOK(t, err)
	summaries := map[string]map[string]int32{}
	for _, det := range d.ImageDetails {
		if det.ImageScanFindingsSummary != nil {
			summaries[aws.ToString(det.ImageDigest)] = det.ImageScanFindingsSummary.FindingSeverityCounts
		}
	}
	if len(summaries) != 2 || summaries[sha(m)]["HIGH"] != 1 || len(summaries[sha(m2)]) != 0 {
		t.Fatalf("summaries with suppressions %v", summaries)
	}

	// Enhanced scanning, continuous: Inspector's shape, status ACTIVE.
	_, err = e.ecr.PutRegistryScanningConfiguration(ctx, &ecr.PutRegistryScanningConfigurationInput{ScanType: types.ScanTypeEnhanced,
		Rules: []types.RegistryScanningRule{scRule(types.ScanFrequencyContinuousScan, "*")}})
	imOK(t, err)
	e.scRun(t) // the rescan the configuration queued
	f, err = scFindings(e.ecr, "team/app", "v1")
	imOK(t, err)
	if f.ImageScanStatus.Status != types.ScanStatusActive || aws.ToString(f.ImageScanStatus.Description) != "Continuous scan is selected for image." {
		t.Fatalf("enhanced status %+v", f.ImageScanStatus)
	}
	ef := f.ImageScanFindings.EnhancedFindings
	if len(ef) != 2 || len(f.ImageScanFindings.Findings) != 0 || aws.ToString(ef[0].Status) != "SUPPRESSED" || aws.ToString(ef[1].Status) != "ACTIVE" {
		t.Fatalf("enhanced findings %+v", f.ImageScanFindings)
	}
	x := ef[1]
	pv := x.PackageVulnerabilityDetails
	vp := pv.VulnerablePackages[0]
	if aws.ToString(x.AwsAccountId) != account || !strings.HasPrefix(aws.ToString(x.FindingArn), "arn:aws:inspector2:"+region+":"+account+":finding/") ||
		aws.ToString(x.Status) != "ACTIVE" || aws.ToString(x.Type) != "PACKAGE_VULNERABILITY" || aws.ToString(x.Severity) != "HIGH" ||
		aws.ToString(x.FixAvailable) != "YES" || x.Score != 7.5 || x.FirstObservedAt == nil || x.LastObservedAt == nil || x.UpdatedAt == nil ||
		aws.ToString(x.Title) != "DEBIAN-CVE-2026-1000 - openssl" {
		t.Fatalf("enhanced finding %+v", x)
	}
	if aws.ToString(pv.VulnerabilityId) != "DEBIAN-CVE-2026-1000" || !slices.Contains(pv.RelatedVulnerabilities, "CVE-2026-1000") ||
		len(pv.Cvss) != 1 || aws.ToString(pv.Cvss[0].Version) != "3.1" || pv.Cvss[0].BaseScore != 7.5 {
		t.Fatalf("vulnerability details %+v", pv)
	}
	if aws.ToString(vp.Name) != "openssl" || aws.ToString(vp.Version) != "3.0.11" || aws.ToString(vp.Release) != "1~deb12u2" ||
		aws.ToString(vp.FixedInVersion) != "3.0.13-1~deb12u1" || aws.ToString(vp.PackageManager) != "OS" || aws.ToString(vp.Arch) != "amd64" {
		t.Fatalf("vulnerable package %+v", vp)
	}
	res := x.Resources[0]
	img := res.Details.AwsEcrContainerImage
	if aws.ToString(res.Type) != "AWS_ECR_CONTAINER_IMAGE" || aws.ToString(img.ImageHash) != sha(m) || aws.ToString(img.RepositoryName) != "team/app" ||
		!slices.Equal(img.ImageTags, []string{"v1"}) || aws.ToString(img.Architecture) != "amd64" || aws.ToString(img.Platform) != "linux/amd64" {
		t.Fatalf("resource %+v / %+v", res, img)
	}
	d, err = e.ecr.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("team/app")})
	imOK(t, err)
	if d.ImageDetails[0].ImageScanStatus.Status != types.ScanStatusActive {
		t.Fatalf("image detail under continuous scanning %+v", d.ImageDetails[0].ImageScanStatus)
	}

	// Another account sees nothing of it.
	other := e.addAccount("444455556666", "AKIAOTHERSCAN0000002", "other-secret")
	_, err = other.DescribeImageScanFindings(ctx, &ecr.DescribeImageScanFindingsInput{RegistryId: aws.String(account),
		RepositoryName: aws.String("team/app"), ImageId: &types.ImageIdentifier{ImageTag: aws.String("v1")}})
	imCode(t, err, "AccessDeniedException")
}

// TestScanningFindingsSuppressed: a suppression takes its finding out of
// the basic findings, the severity counts and DescribeImages' summary, and
// marks it SUPPRESSED in enhanced findings, as gates stop counting it.
func TestScanningFindingsSuppressed(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.scImport(t)
	scCreate(t, e.ecr, "team/app", true)
	cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	layer := scLayer(t)
	e.imBlob("team/app", cfg)
	e.imBlob("team/app", layer)
	e.imPut("team/app", "v1", imOCIManifest, imManifest(cfg, layer))
	e.scRun(t)

	_, _, err := e.app.Stores.Meta.PutSuppression(ctx, meta.Suppression{AccountID: account, Repository: "team/app",
		FindingID: "CVE-2026-1000", Package: "libssl3", Justification: "not reachable in this image",
		ExpiresAt: time.Now().Add(24 * time.Hour), CreatedBy: "test"})
	imOK(t, err)
	e.app.Gate.Forget(account, "team/app")

	f, err := scFindings(e.ecr, "team/app", "v1")
	imOK(t, err)
	sf := f.ImageScanFindings
	if len(sf.Findings) != 1 || sf.FindingSeverityCounts["HIGH"] != 1 {
		t.Fatalf("suppressed findings: counts %v, %d findings", sf.FindingSeverityCounts, len(sf.Findings))
	}
	for _, a := range sf.Findings[0].Attributes {
		if aws.ToString(a.Key) == "package_name" && aws.ToString(a.Value) != "openssl" {
			t.Fatalf("the suppressed package is still listed: %s", aws.ToString(a.Value))
		}
	}
	di, err := e.ecr.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("team/app")})
	imOK(t, err)
	if len(di.ImageDetails) != 1 || di.ImageDetails[0].ImageScanFindingsSummary == nil ||
		di.ImageDetails[0].ImageScanFindingsSummary.FindingSeverityCounts["HIGH"] != 1 {
		t.Fatalf("summary %+v", di.ImageDetails)
	}

	// Enhanced scanning shows the suppressed finding with its status.
	_, err = e.ecr.PutRegistryScanningConfiguration(ctx, &ecr.PutRegistryScanningConfigurationInput{ScanType: types.ScanTypeEnhanced})
	imOK(t, err)
	f, err = scFindings(e.ecr, "team/app", "v1")
	imOK(t, err)
	statuses := map[string]string{}
	for _, fd := range f.ImageScanFindings.EnhancedFindings {
		for _, p := range fd.PackageVulnerabilityDetails.VulnerablePackages {
			statuses[aws.ToString(p.Name)] = aws.ToString(fd.Status)
		}
	}
	if statuses["libssl3"] != "SUPPRESSED" || statuses["openssl"] != "ACTIVE" {
		t.Fatalf("enhanced statuses %v", statuses)
	}
}
