package blobtest

import (
	"bytes"
	"io"
	"testing"
	"testing/iotest"
)

// TestGenerate: the bytes depend on the seed and length only, not on how
// they are read.
func TestGenerate(t *testing.T) {
	const n = 100_003
	want, err := io.ReadAll(Generate(9, n))
	if err != nil || len(want) != n {
		t.Fatalf("ReadAll = %d bytes, %v", len(want), err)
	}
	for _, r := range []io.Reader{
		iotest.OneByteReader(Generate(9, n)),
		iotest.HalfReader(Generate(9, n)),
		io.MultiReader(io.LimitReader(Generate(9, n), 13), io.LimitReader(Generate(9, n), 0)),
	} {
		got, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want[:len(got)]) {
			t.Fatalf("read in other sizes, the bytes differ")
		}
	}
	if err := iotest.TestReader(Generate(9, n), want); err != nil {
		t.Fatal(err)
	}
	if other, _ := io.ReadAll(Generate(10, n)); bytes.Equal(other, want) {
		t.Fatal("seeds 9 and 10 generate the same bytes")
	}
}

func BenchmarkGenerate(b *testing.B) {
	const size = 256 << 20
	buf := make([]byte, 1<<20)
	b.SetBytes(size)
	for b.Loop() {
		if _, err := io.CopyBuffer(io.Discard, Generate(1, size), buf); err != nil {
			b.Fatal(err)
		}
	}
}
