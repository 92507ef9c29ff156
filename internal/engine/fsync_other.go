//go:build unix && !linux

package engine

import (
	"os"

	"golang.org/x/sys/unix"
)

// fdatasync writes f's data to disk. Without fdatasync(2) it is a whole
// fsync (on macOS, Go's File.Sync asks the drive to flush its cache too,
// with F_FULLFSYNC).
func fdatasync(f *os.File) error { return f.Sync() }

// syncfs writes everything to disk: without syncfs(2), sync(2) stands in
// for it.
func syncfs(*os.File) error { return unix.Sync() }
