package oci_test

import (
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
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
