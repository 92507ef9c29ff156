package model

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pricestream/pricestream/internal/engine"
	"github.com/pricestream/pricestream/internal/stream"
)

// ApprovalStatus is a model version's approval, as in SageMaker's model
// registry. Only Approved versions take production traffic unless a
// deployment is forced.
type ApprovalStatus string

// The approval statuses.
const (
	PendingManualApproval ApprovalStatus = "PendingManualApproval"
	Approved              ApprovalStatus = "Approved"
	Rejected              ApprovalStatus = "Rejected"
)

// ParseApprovalStatus reads an approval status, ignoring case.
func ParseApprovalStatus(s string) (ApprovalStatus, error) {
	for _, a := range []ApprovalStatus{PendingManualApproval, Approved, Rejected} {
		if strings.EqualFold(s, string(a)) {
			return a, nil
		}
	}
	return "", fmt.Errorf("%w: approval status %q (want %s, %s or %s)", ErrInvalidArgument, s, PendingManualApproval, Approved, Rejected)
}

// FeatureType says which values a feature takes.
type FeatureType string

// The feature types.
const (
	// FeatureFloat takes any number (the default).
	FeatureFloat FeatureType = "float"
	// FeatureInt takes whole numbers.
	FeatureInt FeatureType = "int"
	// FeatureCategorical takes category codes: whole numbers >= 0.
	FeatureCategorical FeatureType = "categorical"
)

// ParseFeatureType reads a feature type; XGBoost's names ("q", "i", "c")
// are accepted too.
func ParseFeatureType(s string) (FeatureType, error) {
	switch strings.ToLower(s) {
	case "", "float", "q", "number", "numeric":
		return FeatureFloat, nil
	case "int", "i", "integer":
		return FeatureInt, nil
	case "categorical", "c", "category":
		return FeatureCategorical, nil
	}
	return "", fmt.Errorf("%w: feature type %q (want float, int or categorical)", ErrInvalidArgument, s)
}

// Check reports whether v is a valid value of the type; NaN (missing)
// always is.
func (t FeatureType) Check(v float64) bool {
	if math.IsNaN(v) || t == FeatureFloat || t == "" {
		return true
	}
	if v != math.Trunc(v) || math.IsInf(v, 0) {
		return false
	}
	return t != FeatureCategorical || v >= 0
}

// Feature is one input of a model: its name and type, in row order.
type Feature struct {
	Name string      `json:"name"`
	Type FeatureType `json:"type"`
}

// Version is one registered version of a model package: the artifact's
// description and the metadata registered with it.
type Version struct {
	// Model is the name of the model package.
	Model string `json:"model"`
	// Version counts from 1 within the package.
	Version int `json:"version"`
	// Format is the artifact's format (FormatXGBoostJSON ...).
	Format string `json:"format"`
	// FormatVersion is what the file says about the program that wrote it.
	FormatVersion string `json:"format_version,omitempty"`
	// Objective is the training objective as the file names it.
	Objective string `json:"objective,omitempty"`
	// NumTrees is the number of trees of an ensemble.
	NumTrees int `json:"num_trees,omitempty"`
	// Output is "regression" or "probability".
	Output string `json:"output"`
	// Features are the inputs in row order.
	Features []Feature `json:"features"`
	// Metrics are free evaluation figures (rmse, auc ...).
	Metrics map[string]float64 `json:"metrics,omitempty"`
	// TrainingData says where the training data came from (a URI, a
	// stream and range, a query).
	TrainingData string `json:"training_data,omitempty"`
	// Tags are free key-value labels.
	Tags map[string]string `json:"tags,omitempty"`
	// Description says what the version is.
	Description string `json:"description,omitempty"`
	// Status is the approval status.
	Status ApprovalStatus `json:"status"`
	// ArtifactSize and ArtifactSHA256 describe the stored model file.
	ArtifactSize   int64  `json:"artifact_size"`
	ArtifactSHA256 string `json:"artifact_sha256"`
	// Created and Updated are when the version was registered and when its
	// metadata last changed.
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

// Ref returns "model:version".
func (v *Version) Ref() string { return v.Model + ":" + strconv.Itoa(v.Version) }

// FeatureNames returns the feature names in row order.
func (v *Version) FeatureNames() []string {
	out := make([]string, len(v.Features))
	for i, f := range v.Features {
		out[i] = f.Name
	}
	return out
}

// Registration is a model file and the metadata to register with it.
type Registration struct {
	// Model is the package name (see [ValidateName]).
	Model string
	// Format is the artifact's format; empty means detect it.
	Format string
	// Artifact is the model file.
	Artifact []byte
	// Features name the inputs in row order. Empty means the names the
	// file carries (XGBoost and LightGBM files can), else f0, f1 ...;
	// given names must agree with the file's in number and, when the file
	// names them, in name.
	Features []string
	// FeatureTypes gives each feature's type; empty means what the file
	// says (XGBoost's feature_types) or float.
	FeatureTypes []FeatureType
	// Metrics, TrainingData, Tags and Description are stored as given.
	Metrics      map[string]float64
	TrainingData string
	Tags         map[string]string
	Description  string
	// Status is the initial approval status; default
	// PendingManualApproval.
	Status ApprovalStatus
}

// Package summarises a model package.
type Package struct {
	Name string `json:"name"`
	// Versions is the number of versions.
	Versions int `json:"versions"`
	// Latest is the newest version; LatestApproved the newest Approved one
	// (0 if none).
	Latest         int       `json:"latest"`
	LatestApproved int       `json:"latest_approved"`
	Created        time.Time `json:"created"`
	Updated        time.Time `json:"updated"`
}

var nameRE = regexp.MustCompile(`^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$`)

// ValidateName checks the name of a model package, endpoint or variant:
// 1-63 letters, digits and hyphens, starting and ending with a letter or
// digit, as SageMaker's names are.
func ValidateName(kind, name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("%w: %s name %q: want 1-63 letters, digits and hyphens, starting and ending with a letter or digit", ErrInvalidArgument, kind, name)
	}
	return nil
}

// MaxArtifactBytes bounds a model file.
const MaxArtifactBytes = 64 << 20

// Registry stores model packages and their versions in the engine: each
// version's metadata in a key-value bucket, its model file in an object
// store (named by content, so a file is written once and never replaced).
//
// A Registry is safe for concurrent use and starts no goroutines.
type Registry struct {
	eng    *engine.Engine
	kv     jetstream.KeyValue
	obj    jetstream.ObjectStore
	logger *slog.Logger

	mu struct {
		sync.Mutex
		runtimes map[string]Runtime // by artifact SHA-256 and format
	}
}

// Deps are the dependencies of the registry and the endpoints.
type Deps struct {
	Engine *engine.Engine
	// Streams receive data capture; nil disables it.
	Streams    *stream.Manager
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

func (d Deps) logger() *slog.Logger {
	if d.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return d.Logger
}

// NewRegistry opens (creating if needed) the registry's buckets on
// deps.Engine.
func NewRegistry(ctx context.Context, cfg Config, deps Deps) (*Registry, error) {
	if deps.Engine == nil {
		return nil, errors.New("model: no engine")
	}
	if err := cfg.Validate("models"); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	js := deps.Engine.JetStream()
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      deps.Engine.Name("kv", "models"),
		Description: "pricestream: model versions",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("model: registry bucket: %w", err)
	}
	obj, err := js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket:      deps.Engine.Name("obj", "models"),
		Description: "pricestream: model artifacts",
		Storage:     jetstream.FileStorage,
		Replicas:    cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("model: artifact bucket: %w", err)
	}
	r := &Registry{eng: deps.Engine, kv: kv, obj: obj, logger: deps.logger().With("component", "model")}
	r.mu.runtimes = make(map[string]Runtime)
	return r, nil
}

func versionKey(model string, version int) string { return model + "." + strconv.Itoa(version) }

func artifactName(model, sha string) string { return model + "/" + sha }

// Register loads and validates reg.Artifact, stores it and its metadata,
// and returns the new version (numbered one past the package's newest). A
// file that does not load is refused with the loader's error (wrapping
// ErrInvalidModel, ErrUnsupported or ErrUnknownFormat); bad metadata with
// ErrInvalidArgument.
func (r *Registry) Register(ctx context.Context, reg Registration) (*Version, error) {
	if err := ValidateName("model", reg.Model); err != nil {
		return nil, err
	}
	if len(reg.Artifact) == 0 {
		return nil, fmt.Errorf("%w: the model file is empty", ErrInvalidArgument)
	}
	if len(reg.Artifact) > MaxArtifactBytes {
		return nil, fmt.Errorf("%w: the model file is %d bytes, more than the limit of %d", ErrInvalidArgument, len(reg.Artifact), MaxArtifactBytes)
	}
	rt, err := Load(reg.Format, reg.Artifact)
	if err != nil {
		return nil, err
	}
	features, err := resolveFeatures(rt, reg)
	if err != nil {
		return nil, err
	}
	status := reg.Status
	if status == "" {
		status = PendingManualApproval
	}
	if _, err := ParseApprovalStatus(string(status)); err != nil {
		return nil, err
	}
	for k, v := range reg.Metrics {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("%w: metric %q is %v", ErrInvalidArgument, k, v)
		}
	}
	sum := sha256.Sum256(reg.Artifact)
	sha := hex.EncodeToString(sum[:])
	info := rt.Info()
	now := time.Now().UTC()
	v := &Version{
		Model: reg.Model, Format: info.Format, FormatVersion: info.Version, Objective: info.Objective, NumTrees: info.NumTrees,
		Output: info.Output.String(), Features: features, Metrics: reg.Metrics, TrainingData: reg.TrainingData,
		Tags: reg.Tags, Description: reg.Description, Status: status,
		ArtifactSize: int64(len(reg.Artifact)), ArtifactSHA256: sha, Created: now, Updated: now,
	}
	if _, err := r.obj.GetInfo(ctx, artifactName(reg.Model, sha)); err != nil {
		if !errors.Is(err, jetstream.ErrObjectNotFound) {
			return nil, fmt.Errorf("model: artifact store: %w", err)
		}
		if _, err := r.obj.PutBytes(ctx, artifactName(reg.Model, sha), reg.Artifact); err != nil {
			return nil, fmt.Errorf("model: store artifact: %w", err)
		}
	}
	for range 20 {
		versions, err := r.versionNumbers(ctx, reg.Model)
		if err != nil {
			return nil, err
		}
		v.Version = 1
		if len(versions) > 0 {
			v.Version = versions[len(versions)-1] + 1
		}
		b, _ := json.Marshal(v)
		if _, err := r.kv.Create(ctx, versionKey(reg.Model, v.Version), b); err == nil {
			if err := r.eng.SyncAll(ctx); err != nil {
				return nil, fmt.Errorf("model: store version: %w", err)
			}
			r.remember(sha, info.Format, rt)
			r.logger.Info("model version registered", "model", v.Model, "version", v.Version, "format", v.Format, "status", v.Status)
			return v, nil
		} else if !errors.Is(err, jetstream.ErrKeyExists) {
			return nil, fmt.Errorf("model: store version: %w", err)
		}
	}
	return nil, fmt.Errorf("model: register %s: too many concurrent registrations", reg.Model)
}

func resolveFeatures(rt Runtime, reg Registration) ([]Feature, error) {
	n := rt.NumFeatures()
	names := rt.FeatureNames()
	if len(reg.Features) > 0 {
		if len(reg.Features) != n {
			return nil, fmt.Errorf("%w: %d feature names given, the model has %d features", ErrInvalidArgument, len(reg.Features), n)
		}
		if names != nil && !slices.Equal(names, reg.Features) {
			return nil, fmt.Errorf("%w: the feature names given (%s) differ from those in the model file (%s)", ErrInvalidArgument,
				strings.Join(reg.Features, ","), strings.Join(names, ","))
		}
		names = reg.Features
	}
	if names == nil {
		names = make([]string, n)
		for i := range names {
			names[i] = "f" + strconv.Itoa(i)
		}
	}
	types := reg.FeatureTypes
	if len(types) == 0 && rt.Info().Format == FormatXGBoostJSON {
		types = xgbFeatureTypes(reg.Artifact, n)
	}
	if len(types) != 0 && len(types) != n {
		return nil, fmt.Errorf("%w: %d feature types given, the model has %d features", ErrInvalidArgument, len(types), n)
	}
	seen := make(map[string]bool, n)
	out := make([]Feature, n)
	for i, name := range names {
		if name == "" || len(name) > 256 {
			return nil, fmt.Errorf("%w: feature %d: name must be 1-256 characters", ErrInvalidArgument, i)
		}
		if seen[name] {
			return nil, fmt.Errorf("%w: feature name %q appears twice", ErrInvalidArgument, name)
		}
		seen[name] = true
		out[i] = Feature{Name: name, Type: FeatureFloat}
		if len(types) > 0 {
			t, err := ParseFeatureType(string(types[i]))
			if err != nil {
				return nil, fmt.Errorf("feature %q: %w", name, err)
			}
			out[i].Type = t
		}
	}
	return out, nil
}

// xgbFeatureTypes reads learner.feature_types of an XGBoost JSON file
// without parsing the rest (whose NaN tokens encoding/json refuses); nil if
// the file has none or they cannot be read.
func xgbFeatureTypes(data []byte, n int) []FeatureType {
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return nil
		}
		if key != "learner" {
			var skip json.RawMessage
			if dec.Decode(&skip) != nil {
				return nil
			}
			continue
		}
		if t, err := dec.Token(); err != nil || t != json.Delim('{') {
			return nil
		}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return nil
			}
			if k == "feature_types" {
				var names []string
				if dec.Decode(&names) != nil || len(names) != n {
					return nil
				}
				out := make([]FeatureType, n)
				for i, s := range names {
					t, err := ParseFeatureType(s)
					if err != nil {
						return nil
					}
					out[i] = t
				}
				return out
			}
			var skip json.RawMessage
			if dec.Decode(&skip) != nil {
				return nil
			}
		}
		return nil
	}
	return nil
}

func (r *Registry) remember(sha, format string, rt Runtime) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.mu.runtimes[sha+"/"+format] = rt
}

// versionNumbers returns the versions of a package in increasing order.
func (r *Registry) versionNumbers(ctx context.Context, model string) ([]int, error) {
	lister, err := r.kv.ListKeysFiltered(ctx, model+".*")
	if err != nil {
		return nil, fmt.Errorf("model: list versions: %w", err)
	}
	var out []int
	for k := range lister.Keys() {
		if n, err := strconv.Atoi(strings.TrimPrefix(k, model+".")); err == nil {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out, nil
}

// Version returns a version's metadata. Version 0 means the newest.
func (r *Registry) Version(ctx context.Context, model string, version int) (*Version, error) {
	v, _, err := r.get(ctx, model, version)
	return v, err
}

func (r *Registry) get(ctx context.Context, model string, version int) (*Version, uint64, error) {
	if err := ValidateName("model", model); err != nil {
		return nil, 0, err
	}
	if version < 0 {
		return nil, 0, fmt.Errorf("%w: version %d: must be >= 1", ErrInvalidArgument, version)
	}
	if version == 0 {
		versions, err := r.versionNumbers(ctx, model)
		if err != nil {
			return nil, 0, err
		}
		if len(versions) == 0 {
			return nil, 0, fmt.Errorf("%w: model %q", ErrNotFound, model)
		}
		version = versions[len(versions)-1]
	}
	e, err := r.kv.Get(ctx, versionKey(model, version))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, fmt.Errorf("%w: model %s version %d", ErrNotFound, model, version)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("model: read version: %w", err)
	}
	var v Version
	if err := json.Unmarshal(e.Value(), &v); err != nil {
		return nil, 0, fmt.Errorf("model: version %s:%d is corrupt: %w", model, version, err)
	}
	return &v, e.Revision(), nil
}

// Versions returns every version of a package, oldest first.
func (r *Registry) Versions(ctx context.Context, model string) ([]*Version, error) {
	if err := ValidateName("model", model); err != nil {
		return nil, err
	}
	nums, err := r.versionNumbers(ctx, model)
	if err != nil {
		return nil, err
	}
	if len(nums) == 0 {
		return nil, fmt.Errorf("%w: model %q", ErrNotFound, model)
	}
	out := make([]*Version, 0, len(nums))
	for _, n := range nums {
		v, err := r.Version(ctx, model, n)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// LatestApproved returns the newest Approved version of a package; the
// error wraps ErrNotApproved if it has none.
func (r *Registry) LatestApproved(ctx context.Context, model string) (*Version, error) {
	vs, err := r.Versions(ctx, model)
	if err != nil {
		return nil, err
	}
	for _, v := range slices.Backward(vs) {
		if v.Status == Approved {
			return v, nil
		}
	}
	return nil, fmt.Errorf("%w: model %s has no Approved version (approve one, or force the deployment)", ErrNotApproved, model)
}

// List summarises every model package, by name.
func (r *Registry) List(ctx context.Context) ([]Package, error) {
	lister, err := r.kv.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("model: list: %w", err)
	}
	byName := map[string][]int{}
	for k := range lister.Keys() {
		name, num, ok := strings.Cut(k, ".")
		if n, err := strconv.Atoi(num); ok && err == nil {
			byName[name] = append(byName[name], n)
		}
	}
	out := make([]Package, 0, len(byName))
	for _, name := range slices.Sorted(maps.Keys(byName)) {
		vs, err := r.Versions(ctx, name)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		p := Package{Name: name, Versions: len(vs), Latest: vs[len(vs)-1].Version, Created: vs[0].Created}
		for _, v := range vs {
			if v.Status == Approved {
				p.LatestApproved = v.Version
			}
			if v.Updated.After(p.Updated) {
				p.Updated = v.Updated
			}
		}
		out = append(out, p)
	}
	return out, nil
}

// SetStatus changes a version's approval status and returns the version.
// Endpoints already serving it keep serving it: approval gates
// deployments, as in SageMaker.
func (r *Registry) SetStatus(ctx context.Context, model string, version int, status ApprovalStatus) (*Version, error) {
	if _, err := ParseApprovalStatus(string(status)); err != nil {
		return nil, err
	}
	if version <= 0 {
		return nil, fmt.Errorf("%w: version %d: must be >= 1", ErrInvalidArgument, version)
	}
	for range 10 {
		v, rev, err := r.get(ctx, model, version)
		if err != nil {
			return nil, err
		}
		v.Status = status
		v.Updated = time.Now().UTC()
		b, _ := json.Marshal(v)
		if _, err := r.kv.Update(ctx, versionKey(model, version), b, rev); err == nil {
			if err := r.eng.SyncAll(ctx); err != nil {
				return nil, fmt.Errorf("model: update version: %w", err)
			}
			r.logger.Info("model version status changed", "model", model, "version", version, "status", status)
			return v, nil
		} else if !errors.Is(err, jetstream.ErrKeyExists) {
			return nil, fmt.Errorf("model: update version: %w", err)
		}
	}
	return nil, fmt.Errorf("model: %s:%d: too many concurrent updates", model, version)
}

// Artifact returns a version's model file.
func (r *Registry) Artifact(ctx context.Context, model string, version int) ([]byte, *Version, error) {
	v, err := r.Version(ctx, model, version)
	if err != nil {
		return nil, nil, err
	}
	b, err := r.obj.GetBytes(ctx, artifactName(v.Model, v.ArtifactSHA256))
	if err != nil {
		return nil, nil, fmt.Errorf("model: read artifact of %s: %w", v.Ref(), err)
	}
	return b, v, nil
}

// Runtime returns the loaded model of a version, loading its artifact once
// per process (runtimes are immutable and shared).
func (r *Registry) Runtime(ctx context.Context, model string, version int) (Runtime, *Version, error) {
	v, err := r.Version(ctx, model, version)
	if err != nil {
		return nil, nil, err
	}
	key := v.ArtifactSHA256 + "/" + v.Format
	r.mu.Lock()
	rt := r.mu.runtimes[key]
	r.mu.Unlock()
	if rt != nil {
		return rt, v, nil
	}
	b, err := r.obj.GetBytes(ctx, artifactName(v.Model, v.ArtifactSHA256))
	if err != nil {
		return nil, nil, fmt.Errorf("model: read artifact of %s: %w", v.Ref(), err)
	}
	if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != v.ArtifactSHA256 {
		return nil, nil, fmt.Errorf("model: artifact of %s does not match its checksum", v.Ref())
	}
	if rt, err = Load(v.Format, b); err != nil {
		return nil, nil, fmt.Errorf("model: load %s: %w", v.Ref(), err)
	}
	r.remember(v.ArtifactSHA256, v.Format, rt)
	return rt, v, nil
}
