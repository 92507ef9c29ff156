package trigger

import (
	"context"
	"errors"
)

// wasmRuntime compiles and caches WebAssembly functions.
type wasmRuntime struct{}

func newWasmRuntime() *wasmRuntime { return &wasmRuntime{} }

func (w *wasmRuntime) load(ctx context.Context, path string) (Function, error) {
	return nil, errors.New("trigger: wasm functions are not available yet")
}

func (w *wasmRuntime) close(ctx context.Context) error { return nil }
