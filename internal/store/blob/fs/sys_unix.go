//go:build unix

package fs

import (
	"errors"
	"io/fs"
	"syscall"
)

const (
	// hardLinks: Commit links uploads to blobs; linkCount tells Append when
	// an upload shares its file with a blob.
	hardLinks = true
	// syncDirs: directories can be fsynced.
	syncDirs = true
)

// linkCount returns the number of hard links to the file described by fi.
func linkCount(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Nlink)
	}
	return 2 // unknown: assume shared, which is safe (Append copies)
}

// linkUnsupported reports whether a failed link(2) means the filesystem (or
// its configuration) does not allow this hard link, so a copy must do.
func linkUnsupported(err error) bool {
	for _, e := range []syscall.Errno{syscall.EXDEV, syscall.EPERM, syscall.ENOTSUP, syscall.EOPNOTSUPP, syscall.EMLINK, syscall.ENOSYS, syscall.EACCES} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
