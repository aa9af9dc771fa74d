package vulndb

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"sync"
)

// Advisories are stored as their OSV JSON, gzip-compressed: distribution
// records list every affected version of every release and compress about
// tenfold.

var gzWriters = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed)
	return w
}}

var gzReaders sync.Pool

func compress(raw []byte) []byte {
	var buf bytes.Buffer
	buf.Grow(len(raw)/4 + 64)
	w := gzWriters.Get().(*gzip.Writer)
	w.Reset(&buf)
	w.Write(raw) // writes to a bytes.Buffer do not fail
	w.Close()
	gzWriters.Put(w)
	return buf.Bytes()
}

// decompress inflates stored data; data that is not gzip is taken as the
// JSON itself.
func decompress(data []byte) ([]byte, error) {
	if len(data) < 2 || data[0] != 0x1f || data[1] != 0x8b {
		return data, nil
	}
	var r *gzip.Reader
	if v := gzReaders.Get(); v != nil {
		r = v.(*gzip.Reader)
		if err := r.Reset(bytes.NewReader(data)); err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
	} else {
		var err error
		if r, err = gzip.NewReader(bytes.NewReader(data)); err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
	}
	defer gzReaders.Put(r)
	out, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	return out, nil
}
