package oci_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// zeroes yields n pseudo-random-ish bytes cheaply.
type patternReader struct{ n, off int64 }

func (p *patternReader) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	if int64(len(b)) > p.n-p.off {
		b = b[:p.n-p.off]
	}
	for i := range b {
		b[i] = byte((p.off + int64(i)) * 7919 >> 3)
	}
	p.off += int64(len(b))
	return len(b), nil
}

func BenchmarkBlobPushMonolithic64MiB(b *testing.B) {
	const size = 64 << 20
	h := sha256.New()
	io.Copy(h, &patternReader{n: size})
	d := fmt.Sprintf("sha256:%x", h.Sum(nil))
	b.SetBytes(size)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		e := newEnv(&testing.T{})
		b.StartTimer()
		req, _ := http.NewRequest("POST", e.srv.URL+"/v2/bench/blob/blobs/uploads/?digest="+d, &patternReader{n: size})
		req.ContentLength = size
		req.SetBasicAuth(keyID, secret)
		res, err := http.DefaultClient.Do(req)
		if err != nil || res.StatusCode != 201 {
			b.Fatalf("%v %v", err, res)
		}
		res.Body.Close()
		b.StopTimer()
		e.close()
		b.StartTimer()
	}
}

// BenchmarkManifestGetByTag measures the pull hot path in process (no
// network): authenticate, authorize ecr:BatchGetImage, resolve the tag,
// serve the cached manifest. "policy" adds a repository policy, so the
// policy engine runs on every request (the pull-gate hook must cost nothing
// when no policy uses a wharf: key); "gate" is a repository policy that
// does.
func BenchmarkManifestGetByTag(b *testing.B) {
	for _, bc := range []struct{ name, policy string }{
		{"root", ""},
		{"policy", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"ecr:DeleteRepository"},` +
			`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"ecr:BatchGetImage"}]}`},
		// A pull gate: the image's facts are looked up (cached) and the
		// wharf: keys evaluated on every pull.
		{"gate", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"ecr:BatchGetImage",` +
			`"Condition":{"StringEquals":{"wharf:ImageMaxSeverity":["HIGH","CRITICAL"]}}}]}`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			t := &testing.T{}
			e := newEnv(t)
			defer e.close()
			e.t = t
			e.pushImage("bench/app", "v1", []byte(`{"architecture":"amd64","os":"linux"}`), []byte("layer"))
			if bc.policy != "" {
				r, err := e.app.Registry.Repository(context.Background(), "123456789012", "bench/app", false)
				if err != nil {
					b.Fatal(err)
				}
				r.Policy = bc.policy
				if err := e.app.Registry.UpdateRepository(context.Background(), r); err != nil {
					b.Fatal(err)
				}
			}
			h := e.app.Handler()
			req := httptest.NewRequest("GET", "/v2/bench/app/manifests/v1", nil)
			req.SetBasicAuth(keyID, secret)
			req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json")
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != 200 {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
		})
	}
}
