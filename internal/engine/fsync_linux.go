package engine

import (
	"os"

	"golang.org/x/sys/unix"
)

// fdatasync writes f's data, and the metadata needed to read it, to disk.
func fdatasync(f *os.File) error { return unix.Fdatasync(int(f.Fd())) }

// syncfs writes everything of the file system that holds f to disk.
func syncfs(f *os.File) error { return unix.Syncfs(int(f.Fd())) }
