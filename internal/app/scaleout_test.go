package app

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/wharfhq/wharf/internal/config"
	"github.com/wharfhq/wharf/internal/store/blob/s3/s3test"
)

// TestThreeNodesOnPostgresAndS3: three stateless nodes share PostgreSQL and
// an S3 bucket; a chunked push started on node 1 is finished on node 2 and
// pulled whole through node 3.
func TestThreeNodesOnPostgresAndS3(t *testing.T) {
	if os.Getenv("WHARF_TEST_POSTGRES_URL") == "" {
		t.Skip("WHARF_TEST_POSTGRES_URL not set (scripts/test.sh starts PostgreSQL and sets it)")
	}
	blobs := s3test.Bucket(t, "wharf-nodes")
	metadata := freshPostgres(t, "wharf_nodes")
	ctx := context.Background()

	shared := t.TempDir() // only the token key is shared this way; blobs and metadata are not local
	keyData := make([]byte, 32)
	_, _ = rand.Read(keyData)
	if err := os.WriteFile(shared+"/token-key", keyData, 0o600); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var nodes []*httptest.Server
	for i := 0; i < 3; i++ {
		cfg := config.Defaults()
		cfg.DataDir = shared
		cfg.Metadata = metadata
		cfg.Blobs = blobs
		cfg.AccountID = "123456789012"
		cfg.AdminAccessKeyID = "AKIANODESTEST0000001"
		cfg.AdminSecretAccessKey = "nodes-secret"
		a, err := New(ctx, cfg, log)
		if err != nil {
			t.Fatalf("node %d: %v", i+1, err)
		}
		srv := httptest.NewServer(a.Handler())
		t.Cleanup(func() { srv.Close(); a.Close() })
		nodes = append(nodes, srv)
	}
	do := func(srv *httptest.Server, method, path string, body []byte, hdr ...string) (*http.Response, []byte) {
		req, _ := http.NewRequest(method, srv.URL+path, bytes.NewReader(body))
		req.SetBasicAuth("AKIANODESTEST0000001", "nodes-secret")
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, b
	}

	// A 12 MiB layer: two chunks on node 1, the last one and the PUT on node 2.
	layer := make([]byte, 12<<20)
	_, _ = rand.Read(layer)
	sum := sha256.Sum256(layer)
	digest := "sha256:" + hex.EncodeToString(sum[:])
	res, _ := do(nodes[0], "POST", "/v2/team/app/blobs/uploads/", nil)
	if res.StatusCode != 202 {
		t.Fatalf("start upload: %d", res.StatusCode)
	}
	loc := res.Header.Get("Location")
	chunks := [][2]int{{0, 6 << 20}, {6 << 20, 9 << 20}, {9 << 20, 12 << 20}}
	for i, c := range chunks {
		node := nodes[0]
		if i == 2 {
			node = nodes[1]
		}
		res, body := do(node, "PATCH", loc, layer[c[0]:c[1]], "Content-Range", fmt.Sprintf("%d-%d", c[0], c[1]-1))
		if res.StatusCode != 202 {
			t.Fatalf("chunk %d: %d %s", i, res.StatusCode, body)
		}
		loc = res.Header.Get("Location")
	}
	if res, body := do(nodes[1], "PUT", loc+"?digest="+digest, nil); res.StatusCode != 201 {
		t.Fatalf("finish on node 2: %d %s", res.StatusCode, body)
	}
	cfgBlob := []byte(`{"architecture":"amd64","os":"linux"}`)
	cs := sha256.Sum256(cfgBlob)
	cfgDigest := "sha256:" + hex.EncodeToString(cs[:])
	if res, _ := do(nodes[1], "POST", "/v2/team/app/blobs/uploads/?digest="+cfgDigest, cfgBlob); res.StatusCode != 201 {
		t.Fatalf("config: %d", res.StatusCode)
	}
	m := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%d}]}`,
		cfgDigest, len(cfgBlob), digest, len(layer)))
	if res, body := do(nodes[1], "PUT", "/v2/team/app/manifests/v1", m, "Content-Type", "application/vnd.oci.image.manifest.v1+json"); res.StatusCode != 201 {
		t.Fatalf("manifest: %d %s", res.StatusCode, body)
	}
	// Node 3 serves all of it.
	res, body := do(nodes[2], "GET", "/v2/team/app/manifests/v1", nil)
	if res.StatusCode != 200 || !bytes.Equal(body, m) {
		t.Fatalf("manifest via node 3: %d", res.StatusCode)
	}
	res, body = do(nodes[2], "GET", "/v2/team/app/blobs/"+digest, nil)
	if res.StatusCode != 200 || !bytes.Equal(body, layer) {
		t.Fatalf("layer via node 3: %d, %d bytes", res.StatusCode, len(body))
	}
	res, body = do(nodes[2], "GET", "/v2/team/app/blobs/"+digest, nil, "Range", "bytes=7340032-7340041")
	if res.StatusCode != 206 || !bytes.Equal(body, layer[7340032:7340042]) {
		t.Fatalf("ranged read via node 3: %d", res.StatusCode)
	}
}
