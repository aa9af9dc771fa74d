package e2e

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite" // ages an image in the server's store
)

// The scan test drives image scanning end to end with real clients: an
// image built by docker FROM scratch with this machine's /etc/os-release,
// dpkg status and a Go binary compiled here, pushed with docker, scanned on
// push by the server's workers, waited for with `aws ecr wait
// image-scan-complete`, its findings read with the AWS CLI; then continuous
// scanning re-matches it when `wharf vulndb import` brings a new advisory.

// scanPackage is an installed package of a dpkg status file.
type scanPackage struct{ name, version, source string }

// scanLonePackages are installed packages that are their own source (no
// Source: field) and its only binary, by name: an advisory on one of them
// affects exactly that package.
func scanLonePackages(t *testing.T, status []byte) []scanPackage {
	t.Helper()
	var all []scanPackage
	var cur scanPackage
	installed := false
	flush := func() {
		if cur.name != "" && installed {
			all = append(all, cur)
		}
		cur, installed = scanPackage{}, false
	}
	sc := bufio.NewScanner(strings.NewReader(string(status)))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ": ")
		switch {
		case sc.Text() == "":
			flush()
		case !ok:
		case k == "Package":
			cur.name = v
		case k == "Version":
			cur.version = v
		case k == "Source":
			cur.source, _, _ = strings.Cut(v, " ")
		case k == "Status":
			installed = strings.HasSuffix(v, " installed")
		}
	}
	flush()
	binaries := map[string]int{}
	for _, p := range all {
		src := p.name
		if p.source != "" {
			src = p.source
		}
		binaries[src]++
	}
	var out []scanPackage
	for _, p := range all {
		if p.source == "" && binaries[p.name] == 1 && !strings.Contains(p.name, "+") {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b scanPackage) int { return strings.Compare(a.name, b.name) })
	return out
}

// scanOSV is an OSV advisory fixture: ecosystem, package, fixed version
// and CVSS v3 vector.
func scanOSV(id, eco, pkg, fixed, vector string, modified time.Time) string {
	rangeType := "ECOSYSTEM"
	if eco == "Go" {
		rangeType = "SEMVER"
	}
	b, _ := json.Marshal(map[string]any{
		"schema_version": "1.6.0", "id": id, "modified": modified.UTC().Format(time.RFC3339), "published": "2026-01-01T00:00:00Z",
		"summary": id + " in " + pkg, "details": "End-to-end advisory " + id + ".",
		"references": []map[string]string{{"type": "ADVISORY", "url": "https://example.com/" + id}},
		"severity":   []map[string]string{{"type": "CVSS_V3", "score": vector}},
		"affected": []map[string]any{{"package": map[string]string{"ecosystem": eco, "name": pkg},
			"ranges": []map[string]any{{"type": rangeType, "events": []map[string]string{{"introduced": "0"}, {"fixed": fixed}}}}}},
	})
	return string(b)
}

// scanImport writes advisories (file name -> JSON) to a directory and
// imports it with `wharf vulndb import`, which queues the rescan.
func scanImport(t *testing.T, s *wharfServer, advs map[string]string) {
	t.Helper()
	dir := t.TempDir()
	for name, body := range advs {
		writeFile(t, filepath.Join(dir, name+".json"), body)
	}
	out := mustRun(t, cmdSpec{env: cleanEnv()}, os.Getenv("WHARF_BIN"), "vulndb", "import", dir, "--data", s.DataDir)
	if !strings.Contains(out, fmt.Sprintf("%d added", len(advs))) {
		t.Fatalf("vulndb import: %s", out)
	}
}

// scanFindings is the part of describe-image-scan-findings the test reads.
type scanFindings struct {
	ImageScanStatus   struct{ Status, Description string }
	ImageScanFindings struct {
		FindingSeverityCounts map[string]int
		ImageScanCompletedAt  any
		Findings              []struct {
			Name, Severity string
			Attributes     []struct{ Key, Value string }
		}
		EnhancedFindings []struct {
			Severity, Status, Type      string
			FirstObservedAt             any // a number or a string, as the CLI prints timestamps
			LastObservedAt              any
			PackageVulnerabilityDetails struct {
				VulnerabilityId    string
				VulnerablePackages []struct{ Name, Version, FixedInVersion, PackageManager string }
			}
		}
	}
}

func describeFindings(t *testing.T, spec cmdSpec, aws, ep, repo, tag string) scanFindings {
	t.Helper()
	out := mustRun(t, spec, aws, "ecr", "describe-image-scan-findings", ep, "--repository-name", repo, "--image-id", "imageTag="+tag)
	var f scanFindings
	if err := json.Unmarshal([]byte(out), &f); err != nil {
		t.Fatalf("describe-image-scan-findings: %v\n%s", err, out)
	}
	return f
}

// basicLines renders basic findings as "NAME SEVERITY package version".
func (f scanFindings) basicLines() []string {
	var out []string
	for _, x := range f.ImageScanFindings.Findings {
		attrs := map[string]string{}
		for _, a := range x.Attributes {
			attrs[a.Key] = a.Value
		}
		out = append(out, x.Name+" "+x.Severity+" "+attrs["package_name"]+" "+attrs["package_version"])
	}
	return out
}

// enhancedLines renders enhanced findings as "ID SEVERITY STATUS package".
func (f scanFindings) enhancedLines() []string {
	var out []string
	for _, x := range f.ImageScanFindings.EnhancedFindings {
		p := x.PackageVulnerabilityDetails
		out = append(out, p.VulnerabilityId+" "+x.Severity+" "+x.Status+" "+p.VulnerablePackages[0].Name)
	}
	return out
}

func TestScanAWSCLI(t *testing.T) {
	s := startWharf(t)
	aws := requireAWSCLI(t)
	ce := newClientEnv(t)
	env := awsEnv(ce, s.User, s.Pass)
	spec := cmdSpec{env: env}
	docker := requireDocker(t, env)
	ep := "--endpoint-url=" + s.URL

	osRelease, err := os.ReadFile("/etc/os-release")
	if err != nil || !strings.Contains(string(osRelease), "ID=debian") {
		t.Skipf("this machine is not Debian: %v", err)
	}
	release := ""
	for _, l := range strings.Split(string(osRelease), "\n") {
		if v, ok := strings.CutPrefix(l, "VERSION_ID="); ok {
			release = strings.Trim(v, `"`)
		}
	}
	status, err := os.ReadFile("/var/lib/dpkg/status")
	if err != nil {
		t.Skipf("no dpkg status: %v", err)
	}
	lone := scanLonePackages(t, status)
	if len(lone) < 3 || release == "" {
		t.Skipf("%d lone packages, release %q", len(lone), release)
	}
	affected, fixedEq, later := lone[0], lone[1], lone[2]
	eco := "Debian:" + release

	// The image: this machine's OS files and a Go binary built now.
	ctxDir := t.TempDir()
	writeFile(t, filepath.Join(ctxDir, "os-release"), string(osRelease))
	writeFile(t, filepath.Join(ctxDir, "status"), string(status))
	writeFile(t, filepath.Join(ctxDir, "go.mod"), "module example.com/hello\n\ngo 1.22\n")
	writeFile(t, filepath.Join(ctxDir, "main.go"), "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello\") }\n")
	gobuild := exec.Command("go", "build", "-trimpath", "-o", "hello", ".")
	gobuild.Dir = ctxDir
	gobuild.Env = append(os.Environ(), "CGO_ENABLED=0", "GOTOOLCHAIN=local", "GOFLAGS=-mod=mod")
	if out, err := gobuild.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	goVersion := strings.TrimPrefix(strings.TrimSpace(mustRun(t, cmdSpec{env: cleanEnv()}, "go", "env", "GOVERSION")), "go")
	writeFile(t, filepath.Join(ctxDir, "Dockerfile"), "FROM scratch\nCOPY os-release /etc/os-release\nCOPY status /var/lib/dpkg/status\nCOPY hello /usr/local/bin/hello\n")
	local := fmt.Sprintf("wharf-e2e-scan-%d:v1", time.Now().UnixNano())
	mustRun(t, spec, docker, "build", "-q", "-t", local, ctxDir)
	t.Cleanup(func() { _, _, _ = run(t, cmdSpec{env: env, timeout: time.Minute}, docker, "rmi", "-f", local) })

	// Vulnerability data: one advisory fixed above an installed version
	// (reported), one fixed at an installed version (not reported), one
	// on the Go standard library the binary was built with.
	t0 := time.Now().Add(-time.Hour)
	scanImport(t, s, map[string]string{
		"DEBIAN-CVE-2026-0001": scanOSV("DEBIAN-CVE-2026-0001", eco, affected.name, affected.version+"+wharf1", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", t0),
		"DEBIAN-CVE-2026-0002": scanOSV("DEBIAN-CVE-2026-0002", eco, fixedEq.name, fixedEq.version, "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", t0),
		"GO-2026-0003":         scanOSV("GO-2026-0003", "Go", "stdlib", "99.0.0", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", t0),
	})

	// Scan on push.
	mustRun(t, spec, aws, "ecr", "create-repository", ep, "--repository-name", "e2e/scan", "--image-scanning-configuration", "scanOnPush=true")
	mustRun(t, spec, aws, "ecr", "create-repository", ep, "--repository-name", "e2e/manual")
	password := mustRun(t, spec, aws, "ecr", "get-login-password", ep)
	mustRun(t, cmdSpec{env: env, stdin: password}, docker, "login", "--username", "AWS", "--password-stdin", s.Addr)
	for _, repo := range []string{"e2e/scan", "e2e/manual"} {
		remote := s.Ref(repo, "v1")
		mustRun(t, spec, docker, "tag", local, remote)
		t.Cleanup(func() { _, _, _ = run(t, cmdSpec{env: env, timeout: time.Minute}, docker, "rmi", "-f", remote) })
		mustRun(t, spec, docker, "push", remote)
	}
	mustRun(t, cmdSpec{env: env, timeout: 5 * time.Minute}, aws, "ecr", "wait", "image-scan-complete", ep,
		"--repository-name", "e2e/scan", "--image-id", "imageTag=v1")

	f := describeFindings(t, spec, aws, ep, "e2e/scan", "v1")
	want := []string{
		"GO-2026-0003 CRITICAL stdlib " + goVersion,
		"DEBIAN-CVE-2026-0001 HIGH " + affected.name + " " + affected.version,
	}
	if f.ImageScanStatus.Status != "COMPLETE" || !slices.Equal(f.basicLines(), want) {
		t.Fatalf("findings: status %s\n got  %q\n want %q", f.ImageScanStatus.Status, f.basicLines(), want)
	}
	if c := f.ImageScanFindings.FindingSeverityCounts; len(c) != 2 || c["CRITICAL"] != 1 || c["HIGH"] != 1 {
		t.Fatalf("severity counts %v", c)
	}
	out := mustRun(t, spec, aws, "ecr", "describe-images", ep, "--repository-name", "e2e/scan")
	var described struct {
		ImageDetails []struct {
			ImageScanStatus          struct{ Status string }
			ImageScanFindingsSummary struct{ FindingSeverityCounts map[string]int }
		}
	}
	if err := json.Unmarshal([]byte(out), &described); err != nil || len(described.ImageDetails) != 1 ||
		described.ImageDetails[0].ImageScanStatus.Status != "COMPLETE" || described.ImageDetails[0].ImageScanFindingsSummary.FindingSeverityCounts["CRITICAL"] != 1 {
		t.Fatalf("describe-images: %v %s", err, out)
	}

	// e2e/manual was not scanned on push; basic scanning allows one
	// manual scan per image per 24 hours.
	if _, stderr, err := run(t, spec, aws, "ecr", "describe-image-scan-findings", ep, "--repository-name", "e2e/manual", "--image-id", "imageTag=v1"); err == nil ||
		!strings.Contains(stderr, "ScanNotFoundException") {
		t.Fatalf("unscanned image: err=%v %s", err, stderr)
	}
	out = mustRun(t, spec, aws, "ecr", "start-image-scan", ep, "--repository-name", "e2e/manual", "--image-id", "imageTag=v1")
	if !strings.Contains(out, `"IN_PROGRESS"`) {
		t.Fatalf("start-image-scan: %s", out)
	}
	if _, stderr, err := run(t, spec, aws, "ecr", "start-image-scan", ep, "--repository-name", "e2e/manual", "--image-id", "imageTag=v1"); err == nil ||
		!strings.Contains(stderr, "LimitExceededException") {
		t.Fatalf("second start-image-scan: err=%v %s", err, stderr)
	}
	mustRun(t, cmdSpec{env: env, timeout: 5 * time.Minute}, aws, "ecr", "wait", "image-scan-complete", ep,
		"--repository-name", "e2e/manual", "--image-id", "imageTag=v1")

	// Enhanced scanning, continuous for e2e/scan only.
	_, stderr, err := run(t, spec, aws, "ecr", "put-registry-scanning-configuration", ep, "--scan-type", "BASIC",
		"--rules", `[{"scanFrequency":"CONTINUOUS_SCAN","repositoryFilters":[{"filter":"*","filterType":"WILDCARD"}]}]`)
	if err == nil || !strings.Contains(stderr, "InvalidParameterException") {
		t.Fatalf("continuous under basic: err=%v %s", err, stderr)
	}
	mustRun(t, spec, aws, "ecr", "put-registry-scanning-configuration", ep, "--scan-type", "ENHANCED",
		"--rules", `[{"scanFrequency":"CONTINUOUS_SCAN","repositoryFilters":[{"filter":"e2e/scan","filterType":"WILDCARD"}]}]`)
	out = mustRun(t, spec, aws, "ecr", "batch-get-repository-scanning-configuration", ep, "--repository-names", "e2e/scan", "e2e/manual")
	if !strings.Contains(out, `"scanFrequency": "CONTINUOUS_SCAN"`) || !strings.Contains(out, `"scanFrequency": "MANUAL"`) {
		t.Fatalf("batch-get-repository-scanning-configuration: %s", out)
	}
	before := describeFindings(t, spec, aws, ep, "e2e/scan", "v1")
	if before.ImageScanStatus.Status != "ACTIVE" || len(before.ImageScanFindings.EnhancedFindings) != 2 {
		t.Fatalf("enhanced findings before the import: %+v", before)
	}
	first := map[string]string{}
	for _, x := range before.ImageScanFindings.EnhancedFindings {
		first[x.PackageVulnerabilityDetails.VulnerabilityId] = fmt.Sprint(x.FirstObservedAt)
	}

	// A new advisory, CRITICAL, for another installed package: the
	// findings update without a push.
	scanImport(t, s, map[string]string{
		"DEBIAN-CVE-2026-0004": scanOSV("DEBIAN-CVE-2026-0004", eco, later.name, later.version+"+wharf1", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", time.Now().Add(-time.Minute)),
	})
	var after scanFindings
	deadline := time.Now().Add(90 * time.Second)
	for {
		after = describeFindings(t, spec, aws, ep, "e2e/scan", "v1")
		if len(after.ImageScanFindings.EnhancedFindings) == 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	wantEnhanced := []string{
		"DEBIAN-CVE-2026-0004 CRITICAL ACTIVE " + later.name,
		"GO-2026-0003 CRITICAL ACTIVE stdlib",
		"DEBIAN-CVE-2026-0001 HIGH ACTIVE " + affected.name,
	}
	if got := after.enhancedLines(); !slices.Equal(got, wantEnhanced) {
		t.Fatalf("continuous findings:\n got  %q\n want %q", got, wantEnhanced)
	}
	for _, x := range after.ImageScanFindings.EnhancedFindings {
		id := x.PackageVulnerabilityDetails.VulnerabilityId
		if fo, ok := first[id]; ok && fmt.Sprint(x.FirstObservedAt) != fo {
			t.Fatalf("%s: firstObservedAt moved from %v to %v", id, fo, x.FirstObservedAt)
		}
		if x.Type != "PACKAGE_VULNERABILITY" || x.LastObservedAt == nil || x.FirstObservedAt == nil {
			t.Fatalf("enhanced finding %+v", x)
		}
	}
	if c := after.ImageScanFindings.FindingSeverityCounts; c["CRITICAL"] != 2 || c["HIGH"] != 1 {
		t.Fatalf("counts after the import %v", c)
	}
	// e2e/manual is not under continuous scanning: unchanged.
	m := describeFindings(t, spec, aws, ep, "e2e/manual", "v1")
	for _, l := range m.enhancedLines() {
		if strings.HasPrefix(l, "DEBIAN-CVE-2026-0004") {
			t.Fatalf("a repository outside the continuous rule was re-matched: %q", m.enhancedLines())
		}
	}
	// The events later delivery will send.
	audit := mustRun(t, cmdSpec{env: cleanEnv()}, os.Getenv("WHARF_BIN"), "audit", "--action", "scan.", "--repository", "e2e/scan", "--data", s.DataDir)
	if !strings.Contains(audit, "scan.complete") || !strings.Contains(audit, "scan.new-critical-findings") || !strings.Contains(audit, "DEBIAN-CVE-2026-0004") {
		t.Fatalf("audit trail:\n%s", audit)
	}

	// Scan eligibility: 14 days after the push. The image is aged in the
	// store (push, tag and scan request 30 days back: a running server's
	// clock cannot move), then the setting's rescan marks it.
	ageRepository(t, filepath.Join(s.DataDir, "meta.db"), "e2e/scan", 30*24*time.Hour)
	out = mustRun(t, cmdSpec{env: cleanEnv()}, os.Getenv("WHARF_BIN"), "scan", "eligibility", "--push", "14d", "--data", s.DataDir)
	if !strings.Contains(out, "push DAYS_14, pull none") {
		t.Fatalf("scan eligibility: %s", out)
	}
	waitScanStatus(t, spec, aws, ep, "e2e/scan", "SCAN_ELIGIBILITY_EXPIRED")
	exp := describeFindings(t, spec, aws, ep, "e2e/scan", "v1")
	if exp.ImageScanStatus.Status != "SCAN_ELIGIBILITY_EXPIRED" || exp.ImageScanStatus.Description != "The configured scan duration has lapsed for this image." ||
		!slices.Equal(exp.enhancedLines(), wantEnhanced) {
		t.Fatalf("expired image findings: %+v %q", exp.ImageScanStatus, exp.enhancedLines())
	}
	// StartImageScan brings it back.
	out = mustRun(t, spec, aws, "ecr", "start-image-scan", ep, "--repository-name", "e2e/scan", "--image-id", "imageTag=v1")
	if !strings.Contains(out, "IN_PROGRESS") {
		t.Fatalf("start-image-scan of an expired image: %s", out)
	}
	waitScanStatus(t, spec, aws, ep, "e2e/scan", "ACTIVE")
}

// ageRepository moves the push, tag and scan request times of a
// repository's images back by d in the server's SQLite store.
func ageRepository(t *testing.T, path, repo string, d time.Duration) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	at := time.Now().Add(-d).UnixNano()
	for _, q := range []string{
		`UPDATE manifests SET pushed_at = ? WHERE repo_id IN (SELECT id FROM repositories WHERE name = ?)`,
		`UPDATE tags SET updated_at = ? WHERE repo_id IN (SELECT id FROM repositories WHERE name = ?)`,
		`UPDATE image_scans SET requested_at = ? WHERE repo_id IN (SELECT id FROM repositories WHERE name = ?)`,
	} {
		if _, err := db.ExecContext(ctx, q, at, repo); err != nil {
			t.Fatalf("aging %s: %v", repo, err)
		}
	}
}

// waitScanStatus polls describe-images until the repository's only image
// has the scan status.
func waitScanStatus(t *testing.T, spec cmdSpec, aws, ep, repo, want string) {
	t.Helper()
	got := ""
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(time.Second) {
		out := mustRun(t, spec, aws, "ecr", "describe-images", ep, "--repository-name", repo)
		var d struct {
			ImageDetails []struct {
				ImageScanStatus struct{ Status, Description string }
			}
		}
		if err := json.Unmarshal([]byte(out), &d); err != nil || len(d.ImageDetails) != 1 {
			t.Fatalf("describe-images: %v %s", err, out)
		}
		if got = d.ImageDetails[0].ImageScanStatus.Status; got == want {
			return
		}
	}
	t.Fatalf("%s: scan status %s, want %s", repo, got, want)
}
