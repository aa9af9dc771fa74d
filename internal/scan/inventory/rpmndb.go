package inventory

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// checkNDB checks an NDB rpm database (Packages.db) the way rpm reads
// one (lib/backend/ndb/rpmpkg.c) before osv-scalibr's reader opens it:
// that reader reports a bad slot on standard output, and on a bad blob
// sends its error and goes on, leaving its goroutine blocked for ever on
// a send no one receives (one leaked per crafted image).
func checkNDB(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	return checkNDBData(f, st.Size())
}

func checkNDBData(f io.ReaderAt, size int64) error {
	le := binary.LittleEndian
	var head [32]byte
	if _, err := f.ReadAt(head[:], 0); err != nil {
		return errNDB("short header")
	}
	if le.Uint32(head[0:]) != 'R'|'p'<<8|'m'<<16|'P'<<24 {
		return nil // not NDB: another reader's to judge
	}
	pages := int64(le.Uint32(head[12:]))
	// The reader's own bound (2048 pages: 8 MiB of slots).
	if le.Uint32(head[4:]) != 0 || pages == 0 || pages > 2048 || pages*4096 > size {
		return errNDB("bad header")
	}
	slots := make([]byte, pages*4096-32)
	if _, err := f.ReadAt(slots, 32); err != nil {
		return errNDB("short slot pages")
	}
	minBlk := pages * 4096 / 16
	var blob [16]byte
	for o := 0; o < len(slots); o += 16 {
		s := slots[o : o+16]
		if le.Uint32(s) != 'S'|'l'<<8|'o'<<16|'t'<<24 {
			return errNDB("bad slot")
		}
		idx, off, cnt := le.Uint32(s[4:]), int64(le.Uint32(s[8:])), int64(le.Uint32(s[12:]))
		if idx == 0 {
			continue // free: the reader skips it
		}
		if off < minBlk || cnt < 2 || (off+cnt)*16 > size {
			return errNDB("bad slot")
		}
		if _, err := f.ReadAt(blob[:], off*16); err != nil {
			return errNDB("short blob")
		}
		n := int64(le.Uint32(blob[12:]))
		if le.Uint32(blob[0:]) != 'B'|'l'<<8|'b'<<16|'S'<<24 || le.Uint32(blob[4:]) != idx || (16+n+12+15)/16 != cnt {
			return errNDB(fmt.Sprintf("bad blob of package %d", idx))
		}
	}
	return nil
}

func errNDB(what string) error { return errors.New("NDB database: " + what) }
