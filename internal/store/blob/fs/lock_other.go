//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package fs

import "os"

// Without flock, New cannot tell whether another Store has the root open and
// removes temporary files by age only.

func tryLockExclusive(*os.File) (bool, error) { return false, nil }

func lockShared(*os.File) error { return nil }
