package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/pricestream/pricestream/internal/api/oip"
	"github.com/pricestream/pricestream/internal/api/sagemaker"
	"github.com/pricestream/pricestream/internal/model"
)

// ModelServerConfig configures `pricestream model serve`.
type ModelServerConfig struct {
	// Dir holds the model files, as SageMaker unpacks model.tar.gz into
	// /opt/ml/model. Every file whose format is recognised is loaded;
	// other files are ignored.
	Dir string
	// Addr is the listen address; SageMaker's containers listen on
	// 0.0.0.0:8080.
	Addr string
}

// ModelServer serves the model files of a directory with SageMaker's
// container contract (GET /ping, POST /invocations) and the Open Inference
// Protocol, without an engine: a model trained elsewhere can be deployed
// wherever SageMaker-style containers run.
type ModelServer struct {
	logger *slog.Logger
	ln     net.Listener
	srv    *http.Server
	names  []string
}

// NewModelServer loads every model file in cfg.Dir (a file that looks like
// a model but does not load is an error naming it) and binds cfg.Addr.
// The caller must call [ModelServer.Run].
func NewModelServer(cfg ModelServerConfig, logger *slog.Logger) (*ModelServer, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	eps, err := loadModelDir(cfg.Dir)
	if err != nil {
		return nil, err
	}
	lookup := func(name string) (*model.Endpoint, error) {
		if ep := eps[name]; ep != nil {
			return ep, nil
		}
		return nil, fmt.Errorf("%w: model %q", model.ErrNotFound, name)
	}
	names := make([]string, 0, len(eps))
	for n := range eps {
		names = append(names, n)
	}
	slices.Sort(names)
	single := ""
	if len(names) == 1 {
		single = names[0]
	}
	mux := http.NewServeMux()
	sm, err := sagemaker.New(sagemaker.Config{}, lookup, logger)
	if err != nil {
		return nil, err
	}
	sm.MountContainer(mux, single)
	oh, err := oip.New(oip.Config{}, lookup, logger)
	if err != nil {
		return nil, err
	}
	oh.Mount(mux)
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("model serve: listen: %w", err)
	}
	return &ModelServer{
		logger: logger.With("component", "model-server"),
		ln:     ln,
		names:  names,
		srv:    &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute},
	}, nil
}

// loadModelDir loads the model files under dir (up to three levels deep),
// each as a static endpoint named after its file without the extension.
func loadModelDir(dir string) (map[string]*model.Endpoint, error) {
	eps := map[string]*model.Endpoint{}
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if d.IsDir() {
			if path != dir && (strings.HasPrefix(d.Name(), ".") || strings.Count(rel, string(filepath.Separator)) >= 2) {
				return filepath.SkipDir
			}
			return nil
		}
		info, err := d.Info()
		if err != nil || !info.Mode().IsRegular() || strings.HasPrefix(d.Name(), ".") || info.Size() > model.MaxArtifactBytes {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		format, err := model.DetectFormat(data)
		if err != nil {
			return nil // not a model file
		}
		rt, err := model.Load(format, data)
		if err != nil {
			return fmt.Errorf("model serve: %s: %w", rel, err)
		}
		name := d.Name()
		if i := strings.IndexByte(name, '.'); i > 0 {
			name = name[:i]
		}
		if prev, ok := files[name]; ok {
			return fmt.Errorf("model serve: %s and %s would both be model %q; rename one", prev, rel, name)
		}
		ep, err := model.NewStaticEndpoint(name, rt, nil)
		if err != nil {
			return fmt.Errorf("model serve: %s: %w", rel, err)
		}
		files[name], eps[name] = rel, ep
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(eps) == 0 {
		return nil, fmt.Errorf("model serve: no model file (%s) in %s", strings.Join(model.Formats(), ", "), dir)
	}
	return eps, nil
}

// Addr returns the bound address.
func (s *ModelServer) Addr() string { return s.ln.Addr().String() }

// Models returns the names of the loaded models.
func (s *ModelServer) Models() []string { return s.names }

// Run serves until ctx is done, then finishes in-flight requests (for up
// to 10 s) and returns nil.
func (s *ModelServer) Run(ctx context.Context) error {
	s.logger.Info("model server listening", "addr", s.Addr(), "models", strings.Join(s.names, ","))
	done := make(chan error, 1)
	go func() { done <- s.srv.Serve(s.ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("model serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(sctx); err != nil {
		_ = s.srv.Close()
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("model serve: %w", err)
	}
	return nil
}
