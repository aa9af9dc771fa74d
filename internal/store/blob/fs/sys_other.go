//go:build !unix

package fs

import "io/fs"

// Without link counts, Commit always copies, and temporary files are removed
// by age only.
const (
	hardLinks = false
	syncDirs  = false
)

func linkCount(fs.FileInfo) uint64 { return 1 }

func linkUnsupported(error) bool { return true }
