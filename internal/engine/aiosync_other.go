//go:build !linux

package engine

import "os"

// asyncSync is Linux's asynchronous fsync; elsewhere the group syncs use
// the fsync system call.
type asyncSync struct{}

func newAsyncSync() (*asyncSync, error) { return nil, errAsyncUnsupported }

func (*asyncSync) fsync(*os.File, bool) error { return errAsyncUnsupported }

func (*asyncSync) close() {}
