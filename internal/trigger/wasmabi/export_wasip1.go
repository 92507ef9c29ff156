//go:build wasip1

package wasmabi

import "unsafe"

//go:wasmexport alloc
func alloc(size uint32) uint32 {
	b := Alloc(size)
	if len(b) == 0 {
		return 0
	}
	return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(b))))
}

//go:wasmexport handle
func handle(ptr, size uint32) uint64 {
	var event []byte
	if size > 0 {
		event = unsafe.Slice((*byte)(unsafe.Pointer(uintptr(ptr))), size)
	}
	out := Invoke(event)
	if len(out) == 0 {
		return 0
	}
	p := uint32(uintptr(unsafe.Pointer(unsafe.SliceData(out))))
	return uint64(p)<<32 | uint64(len(out))
}
