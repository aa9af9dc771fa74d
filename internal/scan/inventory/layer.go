package inventory

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

var (
	magicGzip = []byte{0x1f, 0x8b}
	magicZstd = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// zstdMaxWindow bounds a zstd decoder's memory: 128 MiB covers
// `zstd --long=27`, beyond what layer builders use.
const zstdMaxWindow = 128 << 20

// decompressed is a layer's tar stream.
type decompressed struct {
	io.Reader
	close func()
}

// decompress tells the layer's format by its magic bytes (a media type
// is only a claim) and returns the tar stream.
func decompress(r io.Reader) (*decompressed, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(4)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	switch {
	case bytes.HasPrefix(head, magicGzip):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%w: gzip: %v", ErrInvalidLayer, err)
		}
		return &decompressed{Reader: zr, close: func() { _ = zr.Close() }}, nil
	case bytes.HasPrefix(head, magicZstd):
		zr, err := zstd.NewReader(br,
			zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(zstdMaxWindow))
		if err != nil {
			return nil, fmt.Errorf("%w: zstd: %v", ErrInvalidLayer, err)
		}
		return &decompressed{Reader: zr, close: zr.Close}, nil
	default:
		return &decompressed{Reader: br, close: func() {}}, nil
	}
}

// countingReader fails once more than budget bytes were read through it
// (a decompression bomb is cut short instead of being read for hours).
type countingReader struct {
	r      io.Reader
	budget *int64
}

var errReadBudget = errors.New("layers exceed the limit of uncompressed bytes read")

func (c *countingReader) Read(p []byte) (int, error) {
	if *c.budget <= 0 {
		return 0, errReadBudget
	}
	if int64(len(p)) > *c.budget {
		p = p[:*c.budget]
	}
	n, err := c.r.Read(p)
	*c.budget -= int64(n)
	return n, err
}
