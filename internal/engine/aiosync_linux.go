//go:build linux

package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// asyncSync fsyncs files through Linux native AIO (IOCB_CMD_FSYNC and
// IOCB_CMD_FDSYNC, which the kernel runs on a worker thread) and learns of
// completions through an eventfd that the Go runtime's network poller
// watches.
//
// Why: a goroutine in a blocking system call keeps its P (one of
// GOMAXPROCS) until the runtime's monitor notices and hands the P to
// another thread, and the returning goroutine must then find a P again.
// With fsync before every acknowledgement, several streams' group syncs
// are in fdatasync at any moment, each taking 0.1–1 ms: on two cores that
// left the rest of the pipeline about one P, so every serial stage (the
// engine's per-stream store loop, a connection's read loop) queued. Here
// the waiting goroutine parks like one waiting on a socket: no P and no
// thread is held while the disk works.
//
// Where the kernel refuses (no AIO, a seccomp filter), [newAsyncSync] or
// a submission fails with [errAsyncUnsupported] and callers fsync with the
// plain system call. The completion goroutine is started by newAsyncSync
// and stopped by close.
type asyncSync struct {
	ctx   uintptr  // aio_context_t
	efd   *os.File // the eventfd completions signal, non-blocking (polled)
	efdNo uint32   // its descriptor (efd.Fd would not do: it may make a file blocking)

	mu struct {
		sync.Mutex
		next   uint64
		waits  map[uint64]chan error
		closed bool
	}
	done chan struct{} // closed when the reaper has stopped
}

// The kernel's struct iocb and struct io_event (linux/aio_abi.h), for
// little-endian machines (aio_key precedes aio_rw_flags).
type aioIOCB struct {
	data      uint64
	key       uint32
	rwFlags   int32
	opcode    uint16
	reqprio   int16
	fildes    uint32
	buf       uint64
	nbytes    uint64
	offset    int64
	reserved2 uint64
	flags     uint32
	resfd     uint32
}

type aioEvent struct {
	data uint64
	obj  uint64
	res  int64
	res2 int64
}

const (
	aioCmdFsync   = 2 // IOCB_CMD_FSYNC
	aioCmdFdsync  = 3 // IOCB_CMD_FDSYNC
	aioFlagResfd  = 1 // IOCB_FLAG_RESFD
	aioMaxPending = 1024
)

// newAsyncSync sets up an AIO context and its eventfd and starts the
// goroutine that reaps completions; [asyncSync.close] stops it.
func newAsyncSync() (*asyncSync, error) {
	if !littleEndian() {
		return nil, errors.New("engine: aio: big-endian iocb layout not supported")
	}
	var ctx uintptr
	if _, _, e := unix.Syscall(unix.SYS_IO_SETUP, aioMaxPending, uintptr(unsafe.Pointer(&ctx)), 0); e != 0 {
		return nil, fmt.Errorf("engine: io_setup: %w", e)
	}
	fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Syscall(unix.SYS_IO_DESTROY, ctx, 0, 0)
		return nil, fmt.Errorf("engine: eventfd: %w", err)
	}
	a := &asyncSync{ctx: ctx, efd: os.NewFile(uintptr(fd), "aio-eventfd"), efdNo: uint32(fd), done: make(chan struct{})}
	a.mu.waits = make(map[uint64]chan error)
	go pprof.Do(context.Background(), pprof.Labels("component", "engine", "goroutine", "fsync-completions"), func(context.Context) { a.reap() })
	return a, nil
}

func littleEndian() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}

// fsync fsyncs f (only its data and the metadata needed to read it when
// dataOnly, as fdatasync does) and returns when the kernel has finished.
// It does not give up on ctx: f must stay open until the kernel is done
// with it. An error wrapping [errAsyncUnsupported] says the kernel refused
// the request (the caller should fsync by the system call).
func (a *asyncSync) fsync(f *os.File, dataOnly bool) error {
	ch := make(chan error, 1)
	a.mu.Lock()
	if a.mu.closed {
		a.mu.Unlock()
		return errAsyncUnsupported
	}
	id := a.mu.next
	a.mu.next++
	a.mu.waits[id] = ch
	a.mu.Unlock()

	cb := &aioIOCB{data: id, opcode: aioCmdFsync, flags: aioFlagResfd, resfd: a.efdNo}
	if dataOnly {
		cb.opcode = aioCmdFdsync
	}
	rc, err := f.SyscallConn()
	if err != nil {
		a.forget(id)
		return err
	}
	var e unix.Errno
	cerr := rc.Control(func(fd uintptr) {
		cb.fildes = uint32(fd)
		cbs := [1]*aioIOCB{cb}
		for {
			_, _, e = unix.Syscall(unix.SYS_IO_SUBMIT, a.ctx, 1, uintptr(unsafe.Pointer(&cbs[0])))
			if e != unix.EINTR {
				break
			}
		}
		runtime.KeepAlive(cbs)
	})
	if cerr != nil || e != 0 {
		a.forget(id)
		if cerr != nil {
			return cerr
		}
		return fmt.Errorf("%w: io_submit: %w", errAsyncUnsupported, e)
	}
	return <-ch
}

func (a *asyncSync) forget(id uint64) {
	a.mu.Lock()
	delete(a.mu.waits, id)
	a.mu.Unlock()
}

// reap waits for the eventfd (in the network poller) and hands each
// completion to its waiter, until the eventfd is closed.
func (a *asyncSync) reap() {
	defer close(a.done)
	var buf [8]byte
	events := make([]aioEvent, 128)
	for {
		if _, err := a.efd.Read(buf[:]); err != nil {
			return
		}
		for {
			var ts unix.Timespec // zero: take what is there, do not wait
			n, _, e := unix.Syscall6(unix.SYS_IO_GETEVENTS, a.ctx, 0, uintptr(len(events)),
				uintptr(unsafe.Pointer(&events[0])), uintptr(unsafe.Pointer(&ts)), 0)
			if e == unix.EINTR {
				continue
			}
			if e != 0 || n == 0 {
				break
			}
			a.mu.Lock()
			for _, ev := range events[:n] {
				ch := a.mu.waits[ev.data]
				delete(a.mu.waits, ev.data)
				if ch == nil {
					continue
				}
				var err error
				if ev.res < 0 {
					err = unix.Errno(-ev.res)
				}
				ch <- err
			}
			a.mu.Unlock()
		}
	}
}

// close stops the reaper and releases the AIO context, after the kernel
// has finished the fsyncs in flight (io_destroy waits for them); their
// waiters, whose completions are no longer reaped, get [ErrClosed]. Later
// fsyncs return [errAsyncUnsupported]. It is idempotent.
func (a *asyncSync) close() {
	a.mu.Lock()
	if a.mu.closed {
		a.mu.Unlock()
		return
	}
	a.mu.closed = true
	a.mu.Unlock()
	a.efd.Close()
	<-a.done
	unix.Syscall(unix.SYS_IO_DESTROY, a.ctx, 0, 0)
	a.mu.Lock()
	for id, ch := range a.mu.waits {
		ch <- ErrClosed
		delete(a.mu.waits, id)
	}
	a.mu.Unlock()
}
