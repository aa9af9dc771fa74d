package inventory

import (
	"errors"
	"io"
	"os"
)

// spool holds the content of the kept files: one append-only temporary
// file, each kept file a section of it. A file being written is appended
// at the tail and either committed (the tail moves past it) or abandoned
// (the next one overwrites it), so files that turn out not to be wanted
// (an executable without Go build information) cost no space. Contents
// are small writes batched through buf; the kernel's page cache does the
// rest, so memory stays bounded whatever the image holds.
type spool struct {
	f        *os.File
	tail     int64 // end of the committed content
	pos      int64 // end of the file being written
	buf      []byte
	maxBytes int64
}

var errSpoolFull = errors.New("kept files exceed the limit")

func newSpool(dir string, maxBytes int64) (*spool, error) {
	f, err := os.CreateTemp(dir, "wharf-inventory-*")
	if err != nil {
		return nil, err
	}
	// Unlinked at once: the content never outlives the process, even on
	// a crash.
	_ = os.Remove(f.Name())
	return &spool{f: f, maxBytes: maxBytes, buf: make([]byte, 0, 64<<10)}, nil
}

func (s *spool) Close() error { return s.f.Close() }

// begin starts a file at the tail (abandoning one not committed).
func (s *spool) begin() {
	s.pos = s.tail
	s.buf = s.buf[:0]
}

func (s *spool) Write(p []byte) (int, error) {
	if s.pos+int64(len(s.buf))+int64(len(p)) > s.maxBytes {
		return 0, errSpoolFull
	}
	if len(s.buf)+len(p) <= cap(s.buf) {
		s.buf = append(s.buf, p...)
		return len(p), nil
	}
	if err := s.flush(); err != nil {
		return 0, err
	}
	if len(p) >= cap(s.buf) {
		n, err := s.f.WriteAt(p, s.pos)
		s.pos += int64(n)
		return n, err
	}
	s.buf = append(s.buf, p...)
	return len(p), nil
}

func (s *spool) flush() error {
	if len(s.buf) == 0 {
		return nil
	}
	n, err := s.f.WriteAt(s.buf, s.pos)
	s.pos += int64(n)
	s.buf = s.buf[:0]
	return err
}

// commit keeps the file written since begin; it returns its offset and size.
func (s *spool) commit() (off, size int64, err error) {
	if err := s.flush(); err != nil {
		return 0, 0, err
	}
	off, size = s.tail, s.pos-s.tail
	s.tail = s.pos
	return off, size, nil
}

// section reads a committed file.
func (s *spool) section(off, size int64) *io.SectionReader {
	return io.NewSectionReader(s.f, off, size)
}
