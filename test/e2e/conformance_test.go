package e2e

import (
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const conformanceTimeout = 10 * time.Minute

// TestConformanceV111 runs the OCI distribution-spec conformance suite at the
// code of the v1.1.1 release (ginkgo, built with `go test -c`) with all four
// workflows enabled.
func TestConformanceV111(t *testing.T) {
	conformanceV111(t, startWharf(t))
}

// conformanceV111 runs the v1.1.1 suite against a running server.
func conformanceV111(t *testing.T, s *wharfServer) {
	bin := tool(t, "conformance-v1.1.1.test")
	reportDir := t.TempDir()
	env := append(cleanEnv(),
		"OCI_ROOT_URL="+s.URL,
		"OCI_NAMESPACE=conformance/a",
		"OCI_CROSSMOUNT_NAMESPACE=conformance/b",
		"OCI_USERNAME="+s.User,
		"OCI_PASSWORD="+s.Pass,
		"OCI_TEST_PULL=1",
		"OCI_TEST_PUSH=1",
		"OCI_TEST_CONTENT_DISCOVERY=1",
		"OCI_TEST_CONTENT_MANAGEMENT=1",
		"OCI_REPORT_DIR="+reportDir,
	)
	if os.Getenv("WHARF_E2E_OCI_DEBUG") != "" {
		env = append(env, "OCI_DEBUG=1")
	}
	defer saveArtifact(t, reportDir, "conformance-report")
	stdout, stderr, runErr := run(t, cmdSpec{env: env, dir: t.TempDir(), timeout: conformanceTimeout},
		bin, "-ginkgo.no-color")
	checkJUnit(t, filepath.Join(reportDir, "junit.xml"), runErr, stdout, stderr)
}

// TestConformanceNext runs the redesigned conformance suite from the
// distribution-spec main branch (sha512, subject/referrers, nested indexes,
// non-distributable layers...). OCI_VERSION defaults to the stable "1.1"
// profile; WHARF_E2E_OCI_VERSION=dev turns on the stricter optional checks.
func TestConformanceNext(t *testing.T) {
	conformanceNext(t, startWharf(t))
}

// conformanceNext runs the redesigned suite against a running server.
func conformanceNext(t *testing.T, s *wharfServer) {
	bin := tool(t, "conformance-next")
	resultsDir := t.TempDir()
	version := os.Getenv("WHARF_E2E_OCI_VERSION")
	if version == "" {
		version = "1.1"
	}
	env := append(cleanEnv(),
		"OCI_REGISTRY="+s.Addr,
		"OCI_TLS=disabled",
		"OCI_REPO1=conformance/repo1",
		"OCI_REPO2=conformance/repo2",
		"OCI_USERNAME="+s.User,
		"OCI_PASSWORD="+s.Pass,
		"OCI_RESULTS_DIR="+resultsDir,
		"OCI_VERSION="+version,
		"OCI_LOG=warn",
	)
	defer saveArtifact(t, resultsDir, "conformance-results")
	// The working directory is empty so no stray oci-conformance.yaml is read.
	stdout, stderr, runErr := run(t, cmdSpec{env: env, dir: t.TempDir(), timeout: conformanceTimeout}, bin)
	if i := strings.Index(stdout, "OCI Conformance Result:"); i >= 0 {
		t.Logf("conformance summary:\n%s", stdout[i:])
	}
	if _, err := os.Stat(filepath.Join(resultsDir, "results.yaml")); err != nil {
		t.Errorf("no results.yaml: %v", err)
	}
	checkJUnit(t, filepath.Join(resultsDir, "junit.xml"), runErr, stdout, stderr)
}

// junitReport covers the JUnit dialects of both suites: ginkgo's (a status
// attribute and <failure>/<skipped> elements) and the new suite's (a status
// attribute, errors in <system-out>).
type junitReport struct {
	Suites []struct {
		Name  string      `xml:"name,attr"`
		Cases []junitCase `xml:"testcase"`
	} `xml:"testsuite"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Status    string        `xml:"status,attr"`
	Failure   *junitMessage `xml:"failure"`
	Error     *junitMessage `xml:"error"`
	Skipped   *junitMessage `xml:"skipped"`
	SystemOut string        `xml:"system-out"`
	SystemErr string        `xml:"system-err"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Data    string `xml:",chardata"`
}

func (c junitCase) outcome() string {
	switch {
	case c.Failure != nil || c.Error != nil:
		return "failed"
	case c.Skipped != nil:
		return "skipped"
	}
	switch strings.ToLower(c.Status) {
	case "failed", "failure", "error", "panicked", "interrupted", "aborted", "timedout":
		return "failed"
	case "skipped", "pending", "disabled":
		return "skipped"
	}
	return "passed"
}

func (c junitCase) message() string {
	var parts []string
	for _, m := range []*junitMessage{c.Failure, c.Error} {
		if m == nil {
			continue
		}
		if m.Message != "" {
			parts = append(parts, m.Message)
		}
		if d := strings.TrimSpace(m.Data); d != "" && d != m.Message {
			parts = append(parts, d)
		}
	}
	if len(parts) == 0 && strings.TrimSpace(c.SystemOut) != "" {
		parts = append(parts, strings.TrimSpace(c.SystemOut))
	}
	msg := strings.Join(parts, "\n")
	const max = 3 << 10
	if len(msg) > max {
		msg = msg[:max] + "\n...(truncated)"
	}
	return msg
}

func (c junitCase) fullName() string {
	if c.Classname != "" && !strings.HasPrefix(c.Name, c.Classname) {
		return c.Classname + " " + c.Name
	}
	return c.Name
}

// checkJUnit parses a suite's junit.xml, logs the counts and the skipped
// specs, and fails the test listing every failing spec with its message.
func checkJUnit(t *testing.T, path string, runErr error, stdout, stderr string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("no JUnit report (%v); suite error: %v\nstdout:\n%s\nstderr:\n%s", err, runErr,
			tail(redact(stdout), 8<<10), tail(redact(stderr), 8<<10))
	}
	var rep junitReport
	if err := xml.Unmarshal(raw, &rep); err != nil {
		t.Fatalf("parsing %s: %v", path, err)
	}
	var passed, skipped int
	var failed, skippedNames []string
	for _, suite := range rep.Suites {
		for _, c := range suite.Cases {
			switch c.outcome() {
			case "passed":
				passed++
			case "skipped":
				skipped++
				skippedNames = append(skippedNames, c.fullName())
			default:
				failed = append(failed, fmt.Sprintf("FAIL %s\n    %s", c.fullName(),
					strings.ReplaceAll(redact(c.message()), "\n", "\n    ")))
			}
		}
	}
	t.Logf("conformance: %d passed, %d failed, %d skipped (%d total)", passed, len(failed), skipped,
		passed+len(failed)+skipped)
	if len(skippedNames) > 0 {
		t.Logf("skipped specs:\n  %s", strings.Join(skippedNames, "\n  "))
	}
	if passed+len(failed)+skipped == 0 {
		t.Fatalf("JUnit report %s lists no tests; suite error: %v\nstderr:\n%s", path, runErr, tail(redact(stderr), 8<<10))
	}
	if len(failed) > 0 {
		t.Errorf("%d conformance spec(s) failed:\n%s", len(failed), strings.Join(failed, "\n"))
	} else if runErr != nil {
		t.Errorf("suite exited with %v although its report lists no failure\nstderr:\n%s", runErr, tail(redact(stderr), 8<<10))
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "...(truncated)...\n" + s[len(s)-n:]
}
