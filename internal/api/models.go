package api

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/pricestream/pricestream/internal/model"
)

func (s *Server) routeModels() {
	s.mux.HandleFunc("GET /v1/models", s.listModels)
	s.mux.HandleFunc("GET /v1/models/{model}", s.describeModel)
	s.mux.HandleFunc("POST /v1/models/{model}/versions", s.registerModel)
	s.mux.HandleFunc("GET /v1/models/{model}/versions/{version}", s.describeModelVersion)
	s.mux.HandleFunc("PATCH /v1/models/{model}/versions/{version}", s.updateModelVersion)
	s.mux.HandleFunc("GET /v1/models/{model}/versions/{version}/artifact", s.modelArtifact)
}

func (s *Server) routeEndpoints() {
	s.mux.HandleFunc("POST /v1/endpoints", s.createEndpoint)
	s.mux.HandleFunc("GET /v1/endpoints", s.listEndpoints)
	s.mux.HandleFunc("GET /v1/endpoints/{endpoint}", s.describeEndpoint)
	s.mux.HandleFunc("PUT /v1/endpoints/{endpoint}", s.updateEndpoint)
	s.mux.HandleFunc("DELETE /v1/endpoints/{endpoint}", s.deleteEndpoint)
}

// ModelRegistration is the body of POST /v1/models/{model}/versions: the
// model file (base64 in JSON) and its metadata.
type ModelRegistration struct {
	// Format is xgboost-json, lightgbm or linear-json; empty means detect.
	Format string `json:"format,omitempty"`
	// Artifact is the model file.
	Artifact []byte `json:"artifact"`
	// Features name the inputs in row order (see model.Registration).
	Features     []string           `json:"features,omitempty"`
	FeatureTypes []string           `json:"feature_types,omitempty"`
	Metrics      map[string]float64 `json:"metrics,omitempty"`
	TrainingData string             `json:"training_data,omitempty"`
	Tags         map[string]string  `json:"tags,omitempty"`
	Description  string             `json:"description,omitempty"`
	// Status is the initial approval status (default
	// PendingManualApproval).
	Status string `json:"status,omitempty"`
}

// ModelInfo is the answer of GET /v1/models/{model}: every version.
type ModelInfo struct {
	Name     string           `json:"name"`
	Versions []*model.Version `json:"versions"`
}

// ModelVersionUpdate is the body of PATCH
// /v1/models/{model}/versions/{version}.
type ModelVersionUpdate struct {
	Status string `json:"status"`
}

// EndpointSpec is the body of POST /v1/endpoints and PUT
// /v1/endpoints/{endpoint}: the definition, and whether to deploy versions
// that are not Approved.
type EndpointSpec struct {
	model.EndpointConfig
	Force bool `json:"force,omitempty"`
}

func (s *Server) listModels(w http.ResponseWriter, r *http.Request) {
	pkgs, err := s.models.List(r.Context())
	if err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	if pkgs == nil {
		pkgs = []model.Package{}
	}
	writeJSON(w, http.StatusOK, struct {
		Models []model.Package `json:"models"`
	}{pkgs})
}

func (s *Server) describeModel(w http.ResponseWriter, r *http.Request) {
	vs, err := s.models.Versions(r.Context(), r.PathValue("model"))
	if err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	writeJSON(w, http.StatusOK, ModelInfo{Name: r.PathValue("model"), Versions: vs})
}

func (s *Server) registerModel(w http.ResponseWriter, r *http.Request) {
	var reg ModelRegistration
	if err := decodeStrictLimit(r, &reg, model.MaxArtifactBytes*4/3+1<<20); err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	types := make([]model.FeatureType, len(reg.FeatureTypes))
	for i, t := range reg.FeatureTypes {
		types[i] = model.FeatureType(t)
	}
	v, err := s.models.Register(r.Context(), model.Registration{
		Model: r.PathValue("model"), Format: reg.Format, Artifact: reg.Artifact, Features: reg.Features, FeatureTypes: types,
		Metrics: reg.Metrics, TrainingData: reg.TrainingData, Tags: reg.Tags, Description: reg.Description, Status: model.ApprovalStatus(reg.Status),
	})
	if err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	writeJSON(w, http.StatusCreated, v)
}

func versionParam(r *http.Request) (int, error) {
	v, err := strconv.Atoi(r.PathValue("version"))
	if err != nil || v < 1 {
		return 0, fmt.Errorf("%w: version %q: want a number >= 1", model.ErrInvalidArgument, r.PathValue("version"))
	}
	return v, nil
}

func (s *Server) describeModelVersion(w http.ResponseWriter, r *http.Request) {
	n, err := versionParam(r)
	if err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	v, err := s.models.Version(r.Context(), r.PathValue("model"), n)
	if err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) updateModelVersion(w http.ResponseWriter, r *http.Request) {
	n, err := versionParam(r)
	if err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	var u ModelVersionUpdate
	if err := decodeStrict(r, &u); err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	status, err := model.ParseApprovalStatus(u.Status)
	if err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	v, err := s.models.SetStatus(r.Context(), r.PathValue("model"), n, status)
	if err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) modelArtifact(w http.ResponseWriter, r *http.Request) {
	n, err := versionParam(r)
	if err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	b, v, err := s.models.Artifact(r.Context(), r.PathValue("model"), n)
	if err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("X-Pricestream-Model-Format", v.Format)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	_, _ = w.Write(b)
}

func (s *Server) createEndpoint(w http.ResponseWriter, r *http.Request) {
	var spec EndpointSpec
	if err := decodeStrict(r, &spec); err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	info, err := s.endpoints.Create(r.Context(), spec.EndpointConfig, spec.Force)
	if err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	writeJSON(w, http.StatusCreated, info)
}

func (s *Server) listEndpoints(w http.ResponseWriter, r *http.Request) {
	infos, err := s.endpoints.List(r.Context())
	if err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Endpoints []*model.EndpointInfo `json:"endpoints"`
	}{infos})
}

func (s *Server) describeEndpoint(w http.ResponseWriter, r *http.Request) {
	info, err := s.endpoints.Describe(r.Context(), r.PathValue("endpoint"))
	if err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	writeJSON(w, http.StatusOK, info)
}

func (s *Server) updateEndpoint(w http.ResponseWriter, r *http.Request) {
	var spec EndpointSpec
	if err := decodeStrict(r, &spec); err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	if spec.Name == "" {
		spec.Name = r.PathValue("endpoint")
	}
	if spec.Name != r.PathValue("endpoint") {
		WriteError(w, r, s.logger, fmt.Errorf("%w: the body names endpoint %q, the path %q", model.ErrInvalidArgument, spec.Name, r.PathValue("endpoint")))
		return
	}
	info, err := s.endpoints.Update(r.Context(), spec.EndpointConfig, spec.Force)
	if err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	writeJSON(w, http.StatusOK, info)
}

func (s *Server) deleteEndpoint(w http.ResponseWriter, r *http.Request) {
	if err := s.endpoints.Delete(r.Context(), r.PathValue("endpoint")); err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
