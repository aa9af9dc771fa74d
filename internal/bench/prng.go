package bench

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"io"
	"math/bits"
	"sync"
)

// RandReader is a deterministic pseudo-random byte stream of a fixed length.
// Two readers built with the same seed and size yield the same bytes whatever
// the sizes of the Read calls, so a blob's digest can be computed in one pass
// and the same bytes streamed to a registry in another without ever holding
// the blob in memory. The generator is wyrand: fast, not cryptographic.
type RandReader struct {
	state  uint64
	remain int64
	tail   [8]byte // unread bytes of the last generated word
	tailN  int     // number of unread bytes, at the end of tail
}

// NewRandReader returns a reader of size bytes derived from seed.
func NewRandReader(seed uint64, size int64) *RandReader {
	return &RandReader{state: splitmix64(seed), remain: size}
}

func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func (r *RandReader) next() uint64 {
	r.state += 0xa0761d6478bd642f
	hi, lo := bits.Mul64(r.state, r.state^0xe7037ed1a0b428db)
	return hi ^ lo
}

// Len returns the number of bytes left to read.
func (r *RandReader) Len() int64 { return r.remain }

// Read fills p with the next bytes of the stream.
func (r *RandReader) Read(p []byte) (int, error) {
	if r.remain <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.remain {
		p = p[:r.remain]
	}
	n := 0
	// Drain what is left of the previous word first.
	if r.tailN > 0 {
		c := copy(p, r.tail[8-r.tailN:])
		r.tailN -= c
		n += c
	}
	for ; len(p)-n >= 32; n += 32 {
		q := p[n : n+32 : n+32]
		binary.LittleEndian.PutUint64(q[0:], r.next())
		binary.LittleEndian.PutUint64(q[8:], r.next())
		binary.LittleEndian.PutUint64(q[16:], r.next())
		binary.LittleEndian.PutUint64(q[24:], r.next())
	}
	for ; len(p)-n >= 8; n += 8 {
		binary.LittleEndian.PutUint64(p[n:], r.next())
	}
	if n < len(p) {
		binary.LittleEndian.PutUint64(r.tail[:], r.next())
		c := copy(p[n:], r.tail[:])
		r.tailN = 8 - c
		n += c
	}
	r.remain -= int64(n)
	return n, nil
}

// WriteTo streams the rest of the reader to w in large writes, which saves
// a copy through a small buffer when the destination is a connection.
func (r *RandReader) WriteTo(w io.Writer) (int64, error) {
	buf := make([]byte, 256<<10)
	var total int64
	for r.remain > 0 {
		n, _ := r.Read(buf)
		m, err := w.Write(buf[:n])
		total += int64(m)
		if err != nil {
			return total, err
		}
		if m < n {
			return total, io.ErrShortWrite
		}
	}
	return total, nil
}

// Digest returns the "sha256:<hex>" digest of NewRandReader(seed, size).
// Results are cached for the life of the process.
func Digest(seed uint64, size int64) string {
	key := digestKey{seed, size}
	digestCache.Lock()
	d, ok := digestCache.m[key]
	digestCache.Unlock()
	if ok {
		return d
	}
	h := sha256.New()
	buf := make([]byte, 256<<10)
	if _, err := io.CopyBuffer(h, onlyReader{NewRandReader(seed, size)}, buf); err != nil {
		panic(err) // RandReader and sha256 never fail
	}
	d = "sha256:" + hex.EncodeToString(h.Sum(nil))
	digestCache.Lock()
	digestCache.m[key] = d
	digestCache.Unlock()
	return d
}

type digestKey struct {
	seed uint64
	size int64
}

var digestCache = struct {
	sync.Mutex
	m map[digestKey]string
}{m: map[digestKey]string{}}

// onlyReader hides WriterTo/ReaderFrom so io.CopyBuffer uses the buffer given.
type onlyReader struct{ io.Reader }

// onlyWriter hides ReaderFrom (io.Discard's uses 8 KiB reads).
type onlyWriter struct{ io.Writer }
