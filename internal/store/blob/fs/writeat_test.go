package fs

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"testing/iotest"
)

// Both write paths must write exactly what was read, in order, also when
// the body ends early, and must report a failing write.
func TestWriteAtPaths(t *testing.T) {
	data := make([]byte, 5*bufSize+12345)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	paths := map[string]func(context.Context, *os.File, int64, io.Reader, bool) (int64, error){
		"serial":    writeAtSerial,
		"pipelined": writeAtPipelined,
	}
	for name, write := range paths {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			f, err := os.Create(filepath.Join(dir, "whole"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			// Odd read sizes and an offset: the file holds a prefix.
			if _, err := f.Write([]byte("head")); err != nil {
				t.Fatal(err)
			}
			n, err := write(context.Background(), f, 4, iotest.HalfReader(bytes.NewReader(data)), true)
			if err != nil || n != int64(len(data)) {
				t.Fatalf("write: %d, %v", n, err)
			}
			got, _ := os.ReadFile(f.Name())
			if !bytes.Equal(got[4:], data) || string(got[:4]) != "head" {
				t.Fatalf("content differs (len %d)", len(got))
			}

			// A body cut short: everything read so far is written, and the
			// reader's error is returned.
			g, err := os.Create(filepath.Join(dir, "short"))
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			cut := 3*bufSize + 7
			short := io.MultiReader(bytes.NewReader(data[:cut]), iotest.ErrReader(io.ErrUnexpectedEOF))
			n, err = write(context.Background(), g, 0, short, false)
			if !errors.Is(err, io.ErrUnexpectedEOF) || n != int64(cut) {
				t.Fatalf("short body: %d, %v", n, err)
			}
			got, _ = os.ReadFile(g.Name())
			if !bytes.Equal(got, data[:cut]) {
				t.Fatalf("short body content differs (len %d)", len(got))
			}

			// A file that cannot be written.
			ro, err := os.Open(f.Name())
			if err != nil {
				t.Fatal(err)
			}
			defer ro.Close()
			if _, err := write(context.Background(), ro, 0, bytes.NewReader(data), false); err == nil {
				t.Fatal("write to a read-only file succeeded")
			}

			// A cancelled context stops the copy.
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if _, err := write(ctx, f, 0, bytes.NewReader(data), false); !errors.Is(err, context.Canceled) {
				t.Fatalf("cancelled: %v", err)
			}
		})
	}
}
