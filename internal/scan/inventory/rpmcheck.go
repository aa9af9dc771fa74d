package inventory

import (
	"bytes"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	_ "modernc.org/sqlite" // rpm's SQLite databases, as go-rpmdb opens them
)

// checkRPMDB checks an rpm database file from an image before
// osv-scalibr's reader (go-rpmdb) opens it, for what that reader does not
// survive: it reads in a goroutine of its own, where a crafted file's
// panic is not recovered (the process ends), a loop in Berkeley DB's
// overflow pages grows memory until it runs out, and a bad NDB blob
// leaves the goroutine blocked for ever. And in every format, a header
// blob claiming more index entries than it holds makes the reader
// allocate for them (up to 32 GiB: the process ends out of memory). The
// reader tells the format by content, not name, so every check runs on
// every file; each passes what is not its format.
func checkRPMDB(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	magic := make([]byte, 16)
	if _, err := f.ReadAt(magic, 0); err == nil && bytes.Equal(magic, []byte("SQLite format 3\x00")) {
		return checkSQLiteHeaders(path)
	}
	if err := checkNDBData(f, st.Size()); err != nil {
		return err
	}
	return checkBDBData(f, st.Size())
}

// checkHeader checks an rpm header blob as rpm's hdrblobInit and
// hdrblobVerifyInfo do (lib/header.c) before the reader parses it: the
// index entry count and data length fit the blob (the reader allocates
// for the count first: 0x7fffffff is 32 GiB), the entries' data follow
// each other without overlapping (go-rpmdb's check of that is a no-op),
// and a string entry's count of strings is there (go-rpmdb counts them
// without stopping at the data's end: a count of 0xffffffff and no NUL
// spin for hours).
func checkHeader(b []byte) error {
	if len(b) < 8 {
		return errors.New("short header")
	}
	il, dl := int64(binary.BigEndian.Uint32(b)), int64(binary.BigEndian.Uint32(b[4:]))
	if il < 1 || 8+16*il+dl > int64(len(b)) {
		return fmt.Errorf("header of %d bytes claims %d entries and %d bytes of data", len(b), il, dl)
	}
	data := b[8+16*il : 8+16*il+dl]
	end := int64(0)
	for i := int64(0); i < il; i++ {
		e := b[8+16*i:]
		tag := binary.BigEndian.Uint32(e)
		typ, off, count := binary.BigEndian.Uint32(e[4:]), int64(int32(binary.BigEndian.Uint32(e[8:]))), int64(binary.BigEndian.Uint32(e[12:]))
		if i == 0 && tag >= 61 && tag <= 63 {
			continue // the region's own entry (its trailer is checked by the reader)
		}
		if off < end || off > dl {
			return fmt.Errorf("header entry %d: data at %d, after %d of %d", i, off, end, dl)
		}
		var n int64
		switch typ {
		case 6, 8, 9: // string, string array, i18n string
			if typ == 6 && count != 1 {
				return fmt.Errorf("header entry %d: %d strings", i, count)
			}
			pos := off
			for range count {
				j := bytes.IndexByte(data[pos:], 0)
				if j < 0 {
					return fmt.Errorf("header entry %d: fewer than %d strings", i, count)
				}
				pos += int64(j) + 1
			}
			n = pos - off
		default:
			size, ok := rpmTypeSizes[typ]
			if !ok {
				return fmt.Errorf("header entry %d: type %d", i, typ)
			}
			if n = size * count; n > dl-off {
				return fmt.Errorf("header entry %d: %d bytes past the data", i, n)
			}
		}
		end = off + n
	}
	return nil
}

// rpmTypeSizes are the sizes of rpm's fixed-size types: null, char, int8,
// int16, int32, int64, bin.
var rpmTypeSizes = map[uint32]int64{0: 0, 1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 7: 1}

// checkSQLiteHeaders checks the headers of an SQLite database, and that
// the reader's query works: on an error it sends it and goes on, its
// goroutine then blocked for ever as with NDB.
func checkSQLiteHeaders(path string) error {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		return err
	}
	defer db.Close()
	rows, err := db.Query("SELECT blob FROM Packages")
	if err != nil {
		return fmt.Errorf("SQLite database: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var blob []byte
		if err := rows.Scan(&blob); err != nil {
			return fmt.Errorf("SQLite database: %w", err)
		}
		if err := checkHeader(blob); err != nil {
			return fmt.Errorf("SQLite database: %w", err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("SQLite database: %w", err)
	}
	return nil
}

// checkNDBData checks an NDB database (Packages.db) the way rpm reads one
// (lib/backend/ndb/rpmpkg.c): the reader reports a bad slot on standard
// output, and on a bad blob sends its error and goes on, its goroutine
// then blocked on a send no one receives (one leaked per crafted image).
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
		h := make([]byte, n)
		if _, err := f.ReadAt(h, off*16+16); err != nil {
			return errNDB("short blob")
		}
		if err := checkHeader(h); err != nil {
			return errNDB(fmt.Sprintf("package %d: %v", idx, err))
		}
	}
	return nil
}

func errNDB(what string) error { return errors.New("NDB database: " + what) }

// Berkeley DB page layout (db_page.h): a 26-byte header with the next page
// number at 16, the entry count at 20, the free area offset at 22 and the
// type at 25; hash pages list 2-byte item offsets after it, keys and
// values alternating; an off-page value item (type 3) names its first
// overflow page (type 7) at 4.
const (
	bdbHeader     = 26
	bdbHashOld    = 2
	bdbHash       = 13
	bdbOverflow   = 7
	bdbOffPage    = 3
	bdbOffPageLen = 12
)

// checkBDBData checks a Berkeley DB hash database (Packages) for what the
// reader would index out of a page with (a panic), and for overflow
// chains that loop, leave the database, reach another kind of page (the
// reader spins on it) or share pages: a chain read once is at most the
// file, and every page is read in at most one.
func checkBDBData(f io.ReaderAt, size int64) error {
	meta := make([]byte, 72)
	if _, err := f.ReadAt(meta, 0); err != nil {
		return nil // too short for any database: the reader says so
	}
	var order binary.ByteOrder = binary.LittleEndian
	switch binary.LittleEndian.Uint32(meta[12:]) {
	case 0x061561:
	case 0x61150600:
		order = binary.BigEndian
	default:
		return nil // not a hash database
	}
	psize := int64(order.Uint32(meta[20:]))
	if psize < 512 || psize > 65536 || psize&(psize-1) != 0 {
		return nil // the reader refuses the page size
	}
	last := int64(order.Uint32(meta[32:]))
	if (last+1)*psize > size {
		return errBDB("truncated")
	}
	visited := make([]bool, last+1)
	page, chain := make([]byte, psize), make([]byte, psize)
	for p := int64(1); p <= last; p++ {
		if _, err := f.ReadAt(page, p*psize); err != nil {
			return errBDB("truncated")
		}
		if t := page[25]; t != bdbHash && t != bdbHashOld {
			continue
		}
		n := int64(order.Uint16(page[20:]))
		if n%2 != 0 || bdbHeader+2*n > psize {
			return errBDB(fmt.Sprintf("bad hash page %d", p))
		}
		for i := int64(1); i < n; i += 2 {
			off := int64(order.Uint16(page[bdbHeader+2*i:]))
			if off >= psize {
				return errBDB(fmt.Sprintf("bad item on page %d", p))
			}
			if page[off] != bdbOffPage {
				continue
			}
			if off+bdbOffPageLen > psize {
				return errBDB(fmt.Sprintf("bad item on page %d", p))
			}
			// The value is the chain's pages after their headers, the
			// last one's up to its free area offset.
			var value []byte
			for pg := int64(order.Uint32(page[off+4:])); pg != 0; {
				if pg > last || visited[pg] {
					return errBDB(fmt.Sprintf("bad overflow chain from page %d", p))
				}
				visited[pg] = true
				if _, err := f.ReadAt(chain, pg*psize); err != nil {
					return errBDB("truncated")
				}
				next := int64(order.Uint32(chain[16:]))
				data := psize - bdbHeader
				if next == 0 {
					data = int64(order.Uint16(chain[22:]))
				}
				if chain[25] != bdbOverflow || bdbHeader+data > psize {
					return errBDB(fmt.Sprintf("bad overflow page %d", pg))
				}
				value = append(value, chain[bdbHeader:bdbHeader+data]...)
				pg = next
			}
			if err := checkHeader(value); err != nil {
				return errBDB(fmt.Sprintf("item on page %d: %v", p, err))
			}
		}
	}
	return nil
}

func errBDB(what string) error { return errors.New("Berkeley DB database: " + what) }
