// Package crash checks that an acknowledged push survives kill -9: it runs
// the real wharf binary, pushes concurrently, kills the server mid-flight,
// restarts it on the same data and re-verifies every acknowledged write.
package crash

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	accessKey = "AKIACRASHTEST0000000"
	secret    = "crash-test-secret"
)

type server struct {
	cmd  *exec.Cmd
	url  string
	logf *os.File
}

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func start(t *testing.T, bin, dir, addr string) *server {
	t.Helper()
	logf, err := os.OpenFile(filepath.Join(dir, "server.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "--listen", addr, "--data", filepath.Join(dir, "data"))
	cmd.Env = append(os.Environ(), "WHARF_ACCOUNT_ID=123456789012", "WHARF_ADMIN_ACCESS_KEY_ID="+accessKey, "WHARF_ADMIN_SECRET_ACCESS_KEY="+secret)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, url: "http://" + addr, logf: logf}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(s.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.kill()
	log, _ := os.ReadFile(filepath.Join(dir, "server.log"))
	t.Fatalf("server not ready; log:\n%s", log)
	return nil
}

func (s *server) kill() {
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	_, _ = s.cmd.Process.Wait()
	s.logf.Close()
}

func do(ctx context.Context, method, url string, body []byte, hdr map[string]string) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	req.SetBasicAuth(accessKey, secret)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

func digestOf(b []byte) string { return fmt.Sprintf("sha256:%x", sha256.Sum256(b)) }

// pushImage pushes two random layers, a config and a manifest, in chunks
// for the big layer. It returns the manifest bytes and the blobs once the
// manifest PUT is acknowledged.
func pushImage(ctx context.Context, base, repo, tag string, rng *rand.Rand) (manifest []byte, blobs [][]byte, err error) {
	layer1 := make([]byte, 256<<10+rng.IntN(1<<20))
	layer2 := make([]byte, 1024+rng.IntN(4096))
	for _, l := range [][]byte{layer1, layer2} {
		for i := range l {
			l[i] = byte(rng.UintN(256))
		}
	}
	config := []byte(fmt.Sprintf(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"tag":%q}`, tag))
	// Chunked upload of layer1.
	resp, _, err := do(ctx, "POST", base+"/v2/"+repo+"/blobs/uploads/", nil, nil)
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode != 202 {
		return nil, nil, fmt.Errorf("start upload: %d", resp.StatusCode)
	}
	loc := resp.Header.Get("Location")
	for off := 0; off < len(layer1); off += 128 << 10 {
		end := min(off+128<<10, len(layer1))
		resp, _, err = do(ctx, "PATCH", base+loc, layer1[off:end], map[string]string{
			"Content-Type": "application/octet-stream", "Content-Range": fmt.Sprintf("%d-%d", off, end-1)})
		if err != nil {
			return nil, nil, err
		}
		if resp.StatusCode != 202 {
			return nil, nil, fmt.Errorf("patch: %d", resp.StatusCode)
		}
		loc = resp.Header.Get("Location")
	}
	resp, _, err = do(ctx, "PUT", base+loc+"?digest="+digestOf(layer1), nil, nil)
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode != 201 {
		return nil, nil, fmt.Errorf("finish: %d", resp.StatusCode)
	}
	for _, b := range [][]byte{layer2, config} {
		resp, _, err = do(ctx, "POST", base+"/v2/"+repo+"/blobs/uploads/?digest="+digestOf(b), b, map[string]string{"Content-Type": "application/octet-stream"})
		if err != nil {
			return nil, nil, err
		}
		if resp.StatusCode != 201 {
			return nil, nil, fmt.Errorf("monolithic: %d", resp.StatusCode)
		}
	}
	m := map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.manifest.v1+json",
		"config":        map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digestOf(config), "size": len(config)},
		"layers": []any{
			map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digestOf(layer1), "size": len(layer1)},
			map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digestOf(layer2), "size": len(layer2)},
		},
	}
	mb, _ := json.Marshal(m)
	resp, _, err = do(ctx, "PUT", base+"/v2/"+repo+"/manifests/"+tag, mb, map[string]string{"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode != 201 {
		return nil, nil, fmt.Errorf("manifest: %d", resp.StatusCode)
	}
	return mb, [][]byte{layer1, layer2, config}, nil
}

type acked struct {
	repo, tag string
	manifest  []byte
	blobs     [][]byte
}

func TestAcknowledgedPushesSurviveKill9(t *testing.T) {
	bin := os.Getenv("WHARF_BIN")
	if bin == "" {
		t.Skip("WHARF_BIN not set: scripts/test.sh builds the binary and sets it")
	}
	dir := t.TempDir()
	addr := freePort(t)
	srv := start(t, bin, dir, addr)

	var mu sync.Mutex
	var done []acked
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	const workers = 6
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			repo := fmt.Sprintf("crash/w%d", w)
			for i := 0; i < 200 && ctx.Err() == nil; i++ {
				tag := fmt.Sprintf("t%d", i)
				m, blobs, err := pushImage(ctx, srv.url, repo, tag, rng)
				if err != nil {
					return // the server died under us: expected
				}
				mu.Lock()
				done = append(done, acked{repo, tag, m, blobs})
				mu.Unlock()
			}
		}(w)
	}
	// Let pushes run, then kill -9 mid-flight.
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		n := len(done)
		mu.Unlock()
		if n >= 3*workers {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(150 * time.Millisecond)
	srv.kill()
	wg.Wait()
	mu.Lock()
	acks := append([]acked(nil), done...)
	mu.Unlock()
	if len(acks) < workers {
		t.Fatalf("only %d pushes acknowledged before the kill; the test needs more", len(acks))
	}
	t.Logf("%d pushes acknowledged before SIGKILL", len(acks))

	srv = start(t, bin, dir, addr)
	defer srv.kill()
	vctx, vcancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer vcancel()
	for _, a := range acks {
		resp, body, err := do(vctx, "GET", srv.url+"/v2/"+a.repo+"/manifests/"+a.tag, nil, map[string]string{"Accept": "application/vnd.oci.image.manifest.v1+json"})
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 || !bytes.Equal(body, a.manifest) {
			t.Errorf("%s:%s: manifest lost or changed after kill -9 (status %d)", a.repo, a.tag, resp.StatusCode)
			continue
		}
		if got := resp.Header.Get("Docker-Content-Digest"); got != digestOf(a.manifest) {
			t.Errorf("%s:%s: digest header %s", a.repo, a.tag, got)
		}
		for _, b := range a.blobs {
			resp, body, err := do(vctx, "GET", srv.url+"/v2/"+a.repo+"/blobs/"+digestOf(b), nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != 200 || digestOf(body) != digestOf(b) {
				t.Errorf("%s: blob %s lost or corrupt after kill -9 (status %d)", a.repo, digestOf(b)[:19], resp.StatusCode)
			}
		}
	}
	// Whatever else the server serves must be whole: every tag it lists
	// resolves to a manifest whose blobs verify.
	for w := 0; w < workers; w++ {
		repo := fmt.Sprintf("crash/w%d", w)
		resp, body, err := do(vctx, "GET", srv.url+"/v2/"+repo+"/tags/list", nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode == 404 {
			continue
		}
		var tl struct{ Tags []string }
		if err := json.Unmarshal(body, &tl); err != nil {
			t.Fatalf("tags list: %v", err)
		}
		for _, tag := range tl.Tags {
			resp, mb, err := do(vctx, "GET", srv.url+"/v2/"+repo+"/manifests/"+tag, nil, nil)
			if err != nil || resp.StatusCode != 200 {
				t.Errorf("%s:%s listed but not served", repo, tag)
				continue
			}
			var m struct {
				Config struct{ Digest string }
				Layers []struct{ Digest string }
			}
			if err := json.Unmarshal(mb, &m); err != nil {
				t.Errorf("%s:%s: half-written manifest served: %v", repo, tag, err)
				continue
			}
			for _, d := range append([]string{m.Config.Digest}, func() (ds []string) {
				for _, l := range m.Layers {
					ds = append(ds, l.Digest)
				}
				return
			}()...) {
				resp, b, err := do(vctx, "GET", srv.url+"/v2/"+repo+"/blobs/"+d, nil, nil)
				if err != nil || resp.StatusCode != 200 || digestOf(b) != d {
					t.Errorf("%s:%s: blob %s not whole after restart", repo, tag, d)
				}
			}
		}
	}
}
