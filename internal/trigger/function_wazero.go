package trigger

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// wasmRuntime compiles WebAssembly functions with wazero and caches them
// by path and modification time. It is safe for concurrent use.
type wasmRuntime struct {
	logger *slog.Logger
	cache  wazero.CompilationCache // nil: none

	mu struct {
		sync.Mutex
		rt    wazero.Runtime
		funcs map[string]*WasmFunction
	}
}

func newWasmRuntime(logger *slog.Logger, cache wazero.CompilationCache) *wasmRuntime {
	w := &wasmRuntime{logger: logger, cache: cache}
	w.mu.funcs = map[string]*WasmFunction{}
	return w
}

func (w *wasmRuntime) runtime(ctx context.Context) (wazero.Runtime, error) {
	if w.mu.rt != nil {
		return w.mu.rt, nil
	}
	// Closing on context done lets the function timeout stop a guest that
	// loops.
	cfg := wazero.NewRuntimeConfig().WithCloseOnContextDone(true)
	if w.cache != nil {
		cfg = cfg.WithCompilationCache(w.cache)
	}
	rt := wazero.NewRuntimeWithConfig(ctx, cfg)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		_ = rt.Close(ctx)
		return nil, fmt.Errorf("trigger: wasi: %w", err)
	}
	w.mu.rt = rt
	return rt, nil
}

// load returns the function in the .wasm file at path, compiling it when
// it is new or changed.
func (w *wasmRuntime) load(ctx context.Context, path string) (*WasmFunction, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("wasm function: %w", err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if f := w.mu.funcs[path]; f != nil && f.modTime.Equal(fi.ModTime()) && f.size == fi.Size() {
		return f, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("wasm function: %w", err)
	}
	rt, err := w.runtime(context.WithoutCancel(ctx))
	if err != nil {
		return nil, err
	}
	cm, err := rt.CompileModule(ctx, b)
	if err != nil {
		return nil, fmt.Errorf("wasm function %s: compile: %w", path, err)
	}
	exports := cm.ExportedFunctions()
	for _, name := range []string{"alloc", "handle"} {
		if _, ok := exports[name]; !ok {
			_ = cm.Close(ctx)
			return nil, fmt.Errorf("wasm function %s: the module does not export %q (see package wasmabi for the ABI)", path, name)
		}
	}
	f := &WasmFunction{rt: rt, cm: cm, path: path, modTime: fi.ModTime(), size: fi.Size(), logger: w.logger.With("wasm", path)}
	_, f.reactor = exports["_initialize"]
	f.pool = make(chan api.Module, 16)
	if old := w.mu.funcs[path]; old != nil {
		old.close(ctx)
	}
	w.mu.funcs[path] = f
	return f, nil
}

// close releases every compiled module and the runtime.
func (w *wasmRuntime) close(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, f := range w.mu.funcs {
		f.close(ctx)
	}
	w.mu.funcs = map[string]*WasmFunction{}
	if w.mu.rt != nil {
		err := w.mu.rt.Close(ctx)
		w.mu.rt = nil
		return err
	}
	return nil
}

// WasmFunction runs a WebAssembly module that follows the ABI of package
// wasmabi: alloc and handle exports, the event JSON in, a partial-batch
// response or {"error": ...} out. Instances are pooled; one instance
// handles one invocation at a time. It is safe for concurrent use.
type WasmFunction struct {
	rt      wazero.Runtime
	cm      wazero.CompiledModule
	path    string
	modTime time.Time
	size    int64
	reactor bool
	logger  *slog.Logger
	pool    chan api.Module
}

var _ Function = (*WasmFunction)(nil)

func (f *WasmFunction) instance(ctx context.Context) (api.Module, error) {
	select {
	case m := <-f.pool:
		return m, nil
	default:
	}
	out := &logWriter{logger: f.logger}
	cfg := wazero.NewModuleConfig().WithName("").WithStdout(out).WithStderr(out).
		WithSysWalltime().WithSysNanotime().WithRandSource(rand.Reader)
	if f.reactor {
		cfg = cfg.WithStartFunctions("_initialize")
	}
	// Instantiation runs the module's start code: give it its own context
	// so that an instance is never created half-closed.
	m, err := f.rt.InstantiateModule(context.WithoutCancel(ctx), f.cm, cfg)
	if err != nil {
		return nil, fmt.Errorf("trigger: wasm function %s: instantiate: %w", f.path, err)
	}
	return m, nil
}

func (f *WasmFunction) release(ctx context.Context, m api.Module, ok bool) {
	if ok {
		select {
		case f.pool <- m:
			return
		default:
		}
	}
	_ = m.Close(context.WithoutCancel(ctx))
}

func (f *WasmFunction) close(ctx context.Context) {
	for {
		select {
		case m := <-f.pool:
			_ = m.Close(ctx)
		default:
			_ = f.cm.Close(ctx)
			return
		}
	}
}

// Invoke runs the module's handle export on the batch's event.
func (f *WasmFunction) Invoke(ctx context.Context, b *Batch) (Response, error) {
	m, err := f.instance(ctx)
	if err != nil {
		return Response{}, err
	}
	resp, err := f.call(ctx, m, b.AppendEvent(nil))
	// An instance that trapped or was stopped by the timeout is closed.
	f.release(ctx, m, err == nil || errors.As(err, new(*guestError)))
	return resp, err
}

// guestError is an error the guest reported ({"error": ...}): the instance
// is healthy.
type guestError struct{ msg string }

func (e *guestError) Error() string { return e.msg }

func (f *WasmFunction) call(ctx context.Context, m api.Module, event []byte) (Response, error) {
	res, err := m.ExportedFunction("alloc").Call(ctx, uint64(len(event)))
	if err != nil {
		return Response{}, fmt.Errorf("trigger: wasm function %s: alloc: %w", f.path, err)
	}
	ptr := uint32(res[0])
	if len(event) > 0 && !m.Memory().Write(ptr, event) {
		return Response{}, fmt.Errorf("trigger: wasm function %s: alloc returned a buffer outside memory", f.path)
	}
	res, err = m.ExportedFunction("handle").Call(ctx, uint64(ptr), uint64(len(event)))
	if err != nil {
		return Response{}, fmt.Errorf("trigger: wasm function %s: %w", f.path, err)
	}
	outPtr, outLen := uint32(res[0]>>32), uint32(res[0])
	if outLen == 0 {
		return Response{}, nil
	}
	if outLen > maxHTTPResponse {
		return Response{}, fmt.Errorf("trigger: wasm function %s: answer larger than %d bytes", f.path, maxHTTPResponse)
	}
	out, ok := m.Memory().Read(outPtr, outLen)
	if !ok {
		return Response{}, fmt.Errorf("trigger: wasm function %s: answer outside memory", f.path)
	}
	out = bytes.Clone(out)
	var e struct {
		Error *string `json:"error"`
	}
	if json.Unmarshal(out, &e) == nil && e.Error != nil {
		return Response{}, &guestError{msg: *e.Error}
	}
	return parseResponse(out)
}

// logWriter sends a guest's output to the log at Debug, line by line.
type logWriter struct {
	logger *slog.Logger
	mu     sync.Mutex
	buf    []byte
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.logger.Debug("wasm function output", "line", string(w.buf[:i]))
		w.buf = w.buf[i+1:]
	}
	if len(w.buf) > 64<<10 {
		w.logger.Debug("wasm function output", "line", string(w.buf))
		w.buf = w.buf[:0]
	}
	return len(p), nil
}

var _ io.Writer = (*logWriter)(nil)
