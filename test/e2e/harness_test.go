package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Fixed credentials of the server under test. They are test-only values.
const (
	testAccountID   = "123456789012"
	testAccessKeyID = "AKIAE2EWHARFTEST0001"
	testSecret      = "wharfE2ESecretAccessKeyX0123456789abcdef"
)

// Bounds for the harness itself; every external command also gets its own
// context timeout.
const (
	readyTimeout   = 60 * time.Second
	stopTimeout    = 15 * time.Second
	defaultCmdTime = 2 * time.Minute
	maxLogDump     = 64 << 10
)

// wharfServer is one running `wharf serve` process.
type wharfServer struct {
	Addr      string // 127.0.0.1:PORT
	URL       string // http://127.0.0.1:PORT
	User      string // access key id
	Pass      string // secret access key
	DataDir   string
	LogPath   string
	cmd       *exec.Cmd
	exited    chan struct{}
	exitError error
}

// startWharf starts the server named by WHARF_BIN on a free loopback port with
// a fresh data directory and fixed admin credentials, waits for /readyz and
// stops it when the test ends. Its log is printed if the test fails. It builds
// nothing: without WHARF_BIN the test is skipped.
func startWharf(t *testing.T, extraArgs ...string) *wharfServer {
	t.Helper()
	bin := os.Getenv("WHARF_BIN")
	if bin == "" {
		t.Skip("WHARF_BIN is not set: end-to-end tests need a built server. Run `bash scripts/test.sh`, " +
			"or `go build -o bin/wharf ./cmd/wharf && WHARF_BIN=$PWD/bin/wharf go test -v ./test/e2e/...`")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("WHARF_BIN=%s: %v", bin, err)
	}
	dir := t.TempDir() // created before our cleanup, so removed after it
	var lastErr error
	for attempt := 1; attempt <= 3; attempt++ {
		s, err := launchWharf(t, bin, dir, attempt, extraArgs)
		if err == nil {
			return s
		}
		lastErr = err
		// Only a lost race for the port is worth another try.
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	t.Fatalf("starting wharf: %v", lastErr)
	return nil
}

func launchWharf(t *testing.T, bin, dir string, attempt int, extraArgs []string) (*wharfServer, error) {
	t.Helper()
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &wharfServer{
		Addr:    fmt.Sprintf("127.0.0.1:%d", port),
		User:    testAccessKeyID,
		Pass:    testSecret,
		DataDir: filepath.Join(dir, fmt.Sprintf("data-%d", attempt)),
		LogPath: filepath.Join(dir, fmt.Sprintf("wharf-%d.log", attempt)),
		exited:  make(chan struct{}),
	}
	s.URL = "http://" + s.Addr
	logFile, err := os.Create(s.LogPath)
	if err != nil {
		return nil, err
	}
	args := append([]string{"serve", "--listen", s.Addr, "--data", s.DataDir}, extraArgs...)
	cmd := exec.Command(bin, args...)
	// Only the test's settings reach the server: no WHARF_* from the caller's
	// shell (a stray WHARF_ANONYMOUS would change what the tests check).
	cmd.Env = append(envWithoutPrefix("WHARF_"),
		"WHARF_ACCOUNT_ID="+testAccountID,
		"WHARF_ADMIN_ACCESS_KEY_ID="+testAccessKeyID,
		"WHARF_ADMIN_SECRET_ACCESS_KEY="+testSecret,
	)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = serverProcAttr()
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	s.cmd = cmd
	go func() {
		s.exitError = cmd.Wait()
		_ = logFile.Close()
		close(s.exited)
	}()
	t.Logf("wharf: pid %d starting on %s (log %s)", cmd.Process.Pid, s.Addr, s.LogPath)

	if err := s.waitReady(); err != nil {
		s.stop(t)
		log := s.logTail()
		if strings.Contains(log, "address already in use") {
			return nil, fmt.Errorf("%w (address already in use)", err)
		}
		return nil, fmt.Errorf("%w\n--- wharf log ---\n%s", err, log)
	}
	t.Cleanup(func() {
		s.stop(t)
		if t.Failed() {
			t.Logf("--- wharf log (%s) ---\n%s", s.LogPath, s.logTail())
		}
		saveArtifact(t, s.LogPath, filepath.Base(s.LogPath))
	})
	return s, nil
}

// waitReady polls /readyz until it answers 200, the process exits or the
// deadline passes.
func (s *wharfServer) waitReady() error {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(readyTimeout)
	var last string
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			return fmt.Errorf("wharf exited before it was ready: %v", s.exitError)
		default:
		}
		resp, err := client.Get(s.URL + "/readyz")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("wharf not ready after %s (last: %s)", readyTimeout, last)
}

// stop sends SIGTERM to the server's PID, then SIGKILL if it has not exited
// within stopTimeout.
func (s *wharfServer) stop(t *testing.T) {
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(stopTimeout):
		t.Errorf("wharf (pid %d) did not stop within %s of SIGTERM; killing it", s.cmd.Process.Pid, stopTimeout)
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

func (s *wharfServer) logTail() string {
	b, err := os.ReadFile(s.LogPath)
	if err != nil {
		return err.Error()
	}
	if len(b) > maxLogDump {
		b = append([]byte("...(truncated)...\n"), b[len(b)-maxLogDump:]...)
	}
	return redact(string(b))
}

// Ref returns the reference of repo:tag (or repo@digest when tagOrDigest
// starts with "sha256:") on this server.
func (s *wharfServer) Ref(repo, tagOrDigest string) string {
	if strings.Contains(tagOrDigest, ":") {
		return s.Addr + "/" + repo + "@" + tagOrDigest
	}
	return s.Addr + "/" + repo + ":" + tagOrDigest
}

// do sends one authenticated request to the server and returns the response
// (body already read and closed) and its body.
func (s *wharfServer) do(t *testing.T, method, path string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, s.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.SetBasicAuth(s.User, s.Pass)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return resp, body
}

// manifestAccept lists every manifest media type the tests push.
var manifestAccept = http.Header{"Accept": {strings.Join([]string{
	"application/vnd.oci.image.manifest.v1+json",
	"application/vnd.oci.image.index.v1+json",
	"application/vnd.docker.distribution.manifest.v2+json",
	"application/vnd.docker.distribution.manifest.list.v2+json",
}, ", ")}}

// getManifest fetches repo's manifest by tag or digest, checks that the body
// hashes to the Docker-Content-Digest header (if present) and returns the
// body and its digest.
func (s *wharfServer) getManifest(t *testing.T, repo, ref string) ([]byte, string) {
	t.Helper()
	resp, body := s.do(t, http.MethodGet, "/v2/"+repo+"/manifests/"+ref, manifestAccept)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET manifest %s:%s: %s: %s", repo, ref, resp.Status, body)
	}
	dgst := sha256Digest(body)
	if h := resp.Header.Get("Docker-Content-Digest"); h != "" && h != dgst {
		t.Errorf("GET manifest %s:%s: Docker-Content-Digest %s but body hashes to %s", repo, ref, h, dgst)
	}
	if strings.HasPrefix(ref, "sha256:") && ref != dgst {
		t.Errorf("GET manifest %s@%s: body hashes to %s", repo, ref, dgst)
	}
	return body, dgst
}

// headStatus returns the status code of an authenticated HEAD on path.
func (s *wharfServer) headStatus(t *testing.T, path string) int {
	t.Helper()
	resp, _ := s.do(t, http.MethodHead, path, manifestAccept)
	return resp.StatusCode
}

func sha256Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// toolsDir is where scripts/install-tools.sh puts the pinned tools.
func toolsDir() string {
	if d := os.Getenv("WHARF_TOOLS_DIR"); d != "" {
		return d
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "wharf-tools")
}

// tool returns the path of a client binary: from the tools directory first,
// then PATH. A missing tool fails the test: scripts/install-tools.sh
// installs all of them.
func tool(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join(toolsDir(), name)
	if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
		return p
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	t.Fatalf("%s not found in %s or PATH: run `bash scripts/install-tools.sh`", name, toolsDir())
	return ""
}

// clientEnv is the environment for client tools: the test's own, minus any
// OCI_* settings, with HOME and every tool's config directory pointed at a
// fresh temporary directory so that the machine's configuration is neither
// read nor changed.
type clientEnv struct {
	home string
	env  []string
}

func newClientEnv(t *testing.T) *clientEnv {
	t.Helper()
	home := t.TempDir()
	dockerCfg := filepath.Join(home, ".docker")
	if err := os.MkdirAll(dockerCfg, 0o700); err != nil {
		t.Fatal(err)
	}
	env := cleanEnv("HOME", "DOCKER_CONFIG", "REGCTL_CONFIG", "XDG_CONFIG_HOME", "XDG_RUNTIME_DIR", "REGISTRY_AUTH_FILE")
	env = append(env,
		"HOME="+home,
		"DOCKER_CONFIG="+dockerCfg,
		"REGCTL_CONFIG="+filepath.Join(home, "regctl.json"),
		"XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"REGISTRY_AUTH_FILE="+filepath.Join(home, "containers-auth.json"),
	)
	return &clientEnv{home: home, env: env}
}

// cleanEnv returns os.Environ() without OCI_* variables and without the named
// variables.
func cleanEnv(drop ...string) []string {
	var out []string
next:
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "OCI_") {
			continue
		}
		for _, d := range drop {
			if k == d {
				continue next
			}
		}
		out = append(out, kv)
	}
	return out
}

func envWithoutPrefix(prefix string) []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, prefix) {
			out = append(out, kv)
		}
	}
	return out
}

// cmdSpec describes one external command.
type cmdSpec struct {
	env     []string
	dir     string
	stdin   string
	timeout time.Duration
	// binary keeps stdout out of the log (blobs and the like).
	binary bool
}

// run executes name with args under a context timeout and returns its
// stdout, stderr and error. The command line and output are logged with the
// secret redacted.
func run(t *testing.T, spec cmdSpec, name string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	timeout := spec.timeout
	if timeout == 0 {
		timeout = defaultCmdTime
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = spec.env
	cmd.Dir = spec.dir
	cmd.WaitDelay = 5 * time.Second
	if spec.stdin != "" {
		cmd.Stdin = strings.NewReader(spec.stdin)
	}
	var outBuf, errBuf bytes.Buffer
	cmd.Stdout = &outBuf
	cmd.Stderr = &errBuf
	start := time.Now()
	err = cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("timed out after %s: %w", timeout, err)
	}
	stdout, stderr = outBuf.String(), errBuf.String()
	logged := stdout
	if spec.binary {
		logged = fmt.Sprintf("(%d bytes)", len(stdout))
	}
	t.Logf("$ %s %s (%s, err=%v)%s", filepath.Base(name), redact(strings.Join(args, " ")),
		time.Since(start).Round(time.Millisecond), err, indentOutput(logged, stderr))
	return stdout, stderr, err
}

// mustRun is run that fails the test on error and returns trimmed stdout.
func mustRun(t *testing.T, spec cmdSpec, name string, args ...string) string {
	t.Helper()
	return strings.TrimSpace(mustRunRaw(t, spec, name, args...))
}

// mustRunRaw is run that fails the test on error and returns stdout as is.
func mustRunRaw(t *testing.T, spec cmdSpec, name string, args ...string) string {
	t.Helper()
	stdout, stderr, err := run(t, spec, name, args...)
	if err != nil {
		if spec.binary {
			stdout = fmt.Sprintf("(%d bytes)", len(stdout))
		}
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", filepath.Base(name), redact(strings.Join(args, " ")), err,
			tail(redact(stdout), 8<<10), tail(redact(stderr), 8<<10))
	}
	return stdout
}

func indentOutput(stdout, stderr string) string {
	const max = 4 << 10
	var b strings.Builder
	for _, p := range []struct{ name, s string }{{"stdout", stdout}, {"stderr", stderr}} {
		s := strings.TrimSpace(p.s)
		if s == "" {
			continue
		}
		if len(s) > max {
			s = s[:max] + "\n...(truncated)"
		}
		fmt.Fprintf(&b, "\n  %s: %s", p.name, strings.ReplaceAll(redact(s), "\n", "\n    "))
	}
	return b.String()
}

// redact masks the server's secret and the ECR tokens the tests obtain
// (get-login-password, GetAuthorizationToken) in what the tests log.
func redact(s string) string {
	return ecrTokenRE.ReplaceAllString(strings.ReplaceAll(s, testSecret, "***"), "v1.***")
}

// ecrTokenRE matches Wharf's ECR tokens: "v1." and three base64url parts.
var ecrTokenRE = regexp.MustCompile(`\bv1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+`)

// saveArtifact copies a file or directory to $WHARF_E2E_ARTIFACTS_DIR/<test
// name>/<name> when that variable is set (for CI to keep).
func saveArtifact(t *testing.T, src, name string) {
	root := os.Getenv("WHARF_E2E_ARTIFACTS_DIR")
	if root == "" {
		return
	}
	dst := filepath.Join(root, strings.ReplaceAll(t.Name(), "/", "_"), name)
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, []byte(redact(string(b))), 0o644)
	})
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Logf("saving artifact %s: %v", src, err)
	}
}
