package api

import (
	"bytes"
	"context"
	stdjson "encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/pricestream/pricestream/internal/catalog"
	"github.com/pricestream/pricestream/internal/catalog/crawl"
	"github.com/pricestream/pricestream/internal/jsonstr"
	"github.com/pricestream/pricestream/internal/record"
	"github.com/pricestream/pricestream/internal/stream"
)

// maxDefinitionBytes bounds a catalog definition body (an Avro writer
// schema can be large).
const maxDefinitionBytes = 8 << 20

func (s *Server) routeCatalog() {
	s.mux.HandleFunc("POST /v1/catalog/databases", s.createDatabase)
	s.mux.HandleFunc("GET /v1/catalog/databases", s.listDatabases)
	s.mux.HandleFunc("GET /v1/catalog/databases/{db}", s.getDatabase)
	s.mux.HandleFunc("PUT /v1/catalog/databases/{db}", s.updateDatabase)
	s.mux.HandleFunc("DELETE /v1/catalog/databases/{db}", s.deleteDatabase)
	s.mux.HandleFunc("POST /v1/catalog/databases/{db}/tables", s.createCatalogTable)
	s.mux.HandleFunc("GET /v1/catalog/databases/{db}/tables", s.listCatalogTables)
	s.mux.HandleFunc("GET /v1/catalog/databases/{db}/tables/{table}", s.getCatalogTable)
	s.mux.HandleFunc("PUT /v1/catalog/databases/{db}/tables/{table}", s.putCatalogTable)
	s.mux.HandleFunc("DELETE /v1/catalog/databases/{db}/tables/{table}", s.deleteCatalogTable)
	s.mux.HandleFunc("GET /v1/catalog/databases/{db}/tables/{table}/versions", s.catalogTableVersions)
	s.mux.HandleFunc("GET /v1/catalog/databases/{db}/tables/{table}/versions/{version}", s.catalogTableVersion)
	s.mux.HandleFunc("GET /v1/catalog/databases/{db}/tables/{table}/diff", s.catalogTableDiff)
	s.mux.HandleFunc("POST /v1/catalog/databases/{db}/tables/{table}/validate", s.validateRecords)
	s.mux.HandleFunc("POST /v1/catalog/databases/{db}/tables/{table}/crawl", s.applyCrawl)
	s.mux.HandleFunc("POST /v1/catalog/apply", s.applyDocuments)
	s.mux.HandleFunc("GET /v1/catalog/bindings", s.listBindings)
	s.mux.HandleFunc("GET /v1/catalog/bindings/{stream}", s.getBinding)
	s.mux.HandleFunc("PUT /v1/catalog/bindings/{stream}", s.putBinding)
	s.mux.HandleFunc("DELETE /v1/catalog/bindings/{stream}", s.deleteBinding)
}

func (s *Server) createDatabase(w http.ResponseWriter, r *http.Request) {
	var d catalog.Database
	if err := decodeStrict(r, &d); err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	out, err := s.catalog.CreateDatabase(r.Context(), d)
	if err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	writeJSON(w, http.StatusCreated, out)
}

func (s *Server) listDatabases(w http.ResponseWriter, r *http.Request) {
	dbs, err := s.catalog.ListDatabases(r.Context())
	if err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string][]*catalog.Database{"databases": dbs})
}

func (s *Server) getDatabase(w http.ResponseWriter, r *http.Request) {
	d, err := s.catalog.GetDatabase(r.Context(), r.PathValue("db"))
	if err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

func (s *Server) updateDatabase(w http.ResponseWriter, r *http.Request) {
	var d catalog.Database
	if err := decodeStrict(r, &d); err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	if d.Name == "" {
		d.Name = r.PathValue("db")
	}
	if d.Name != r.PathValue("db") {
		WriteError(w, r, s.logger, fmt.Errorf("%w: the body names database %q, the path %q", catalog.ErrInvalid, d.Name, r.PathValue("db")))
		return
	}
	out, err := s.catalog.UpdateDatabase(r.Context(), d)
	if err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) deleteDatabase(w http.ResponseWriter, r *http.Request) {
	cascade, err := boolParam(r, "cascade")
	if err == nil {
		err = s.catalog.DeleteDatabase(r.Context(), r.PathValue("db"), cascade)
	}
	if err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func boolParam(r *http.Request, name string) (bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%w: %s %q: want true or false", catalog.ErrInvalid, name, v)
	}
	return b, nil
}

func intParam(r *http.Request, name string) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%w: %s %q: want a number >= 0", catalog.ErrInvalid, name, v)
	}
	return n, nil
}

// readTable reads a table definition body; the database and table of the
// path fill in a body that leaves them out, and must match one that names
// them.
func readTable(r *http.Request, db, table string) (*catalog.Table, error) {
	body, release, err := ReadBody(r, maxDefinitionBytes)
	if err != nil {
		return nil, err
	}
	defer release()
	var fields map[string]stdjson.RawMessage
	if err := stdjson.Unmarshal(body, &fields); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	for key, want := range map[string]string{"database": db, "name": table} {
		if want == "" {
			continue
		}
		raw, ok := fields[key]
		if !ok {
			fields[key], _ = stdjson.Marshal(want)
			continue
		}
		var got string
		if err := stdjson.Unmarshal(raw, &got); err != nil || got != want {
			return nil, fmt.Errorf("%w: the body's %s %s differs from the path's %q", catalog.ErrInvalid, key, raw, want)
		}
	}
	b, _ := stdjson.Marshal(fields)
	return catalog.ParseTable(b)
}

func (s *Server) createCatalogTable(w http.ResponseWriter, r *http.Request) {
	t, err := readTable(r, r.PathValue("db"), "")
	if err == nil {
		t, err = s.catalog.CreateTable(r.Context(), t)
	}
	if err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	writeJSON(w, http.StatusCreated, t)
}

func (s *Server) listCatalogTables(w http.ResponseWriter, r *http.Request) {
	ts, err := s.catalog.ListTables(r.Context(), r.PathValue("db"))
	if err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string][]*catalog.Table{"tables": ts})
}

func (s *Server) getCatalogTable(w http.ResponseWriter, r *http.Request) {
	v, err := intParam(r, "version")
	var t *catalog.Table
	if err == nil {
		t, err = s.catalog.GetTableVersion(r.Context(), r.PathValue("db"), r.PathValue("table"), v)
	}
	if err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

// putTable creates the table (201) or makes the body its new version
// (200); ?if_version=N makes the update conditional.
func (s *Server) putCatalogTable(w http.ResponseWriter, r *http.Request) {
	ifVersion, err := intParam(r, "if_version")
	if err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	t, err := readTable(r, r.PathValue("db"), r.PathValue("table"))
	if err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	var out *catalog.Table
	created := false
	if ifVersion > 0 {
		out, err = s.catalog.UpdateTable(r.Context(), t, catalog.UpdateOptions{IfVersion: ifVersion})
	} else {
		out, created, err = s.catalog.PutTable(r.Context(), t)
	}
	if err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, out)
}

func (s *Server) deleteCatalogTable(w http.ResponseWriter, r *http.Request) {
	if err := s.catalog.DeleteTable(r.Context(), r.PathValue("db"), r.PathValue("table")); err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// VersionSummary is one version in the answer of GET .../versions.
type VersionSummary struct {
	Version int       `json:"version"`
	Updated time.Time `json:"updated"`
	Columns int       `json:"columns"`
	// Changes are the changes from the version before, one per column or
	// field ("created" for version 1).
	Changes []string `json:"changes"`
}

func (s *Server) catalogTableVersions(w http.ResponseWriter, r *http.Request) {
	vs, err := s.catalog.TableVersions(r.Context(), r.PathValue("db"), r.PathValue("table"))
	if err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	out := make([]VersionSummary, 0, len(vs))
	for i, t := range vs {
		sum := VersionSummary{Version: t.Version, Updated: t.Updated, Columns: t.Schema.Len(), Changes: []string{}}
		if i == 0 {
			sum.Changes = append(sum.Changes, "created")
		} else {
			sum.Changes = changeLines(catalog.DiffTables(vs[i-1], t))
		}
		out = append(out, sum)
	}
	writeJSON(w, http.StatusOK, map[string][]VersionSummary{"versions": out})
}

// changeLines renders a diff's changes one per line, without its title.
func changeLines(d *catalog.Diff) []string {
	out := []string{}
	for _, c := range d.Columns {
		switch c.Kind {
		case catalog.ColumnAdded:
			out = append(out, "+ "+c.Column+" "+c.New)
		case catalog.ColumnRemoved:
			out = append(out, "- "+c.Column)
		case catalog.ColumnDeprecated, catalog.ColumnRestored:
			out = append(out, "~ "+c.Column+": "+string(c.Kind))
		default:
			out = append(out, "~ "+c.Column+": "+c.Old+" -> "+c.New)
		}
	}
	for _, f := range d.Fields {
		out = append(out, "~ "+f.Field)
	}
	return out
}

func (s *Server) catalogTableVersion(w http.ResponseWriter, r *http.Request) {
	v, err := strconv.Atoi(r.PathValue("version"))
	if err != nil || v < 1 {
		WriteError(w, r, s.logger, fmt.Errorf("%w: version %q: want a number >= 1", catalog.ErrInvalid, r.PathValue("version")))
		return
	}
	t, err := s.catalog.GetTableVersion(r.Context(), r.PathValue("db"), r.PathValue("table"), v)
	if err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

func (s *Server) catalogTableDiff(w http.ResponseWriter, r *http.Request) {
	from, err := intParam(r, "from")
	to, err2 := intParam(r, "to")
	if err = errors.Join(err, err2); err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	d, err := s.catalog.Diff(r.Context(), r.PathValue("db"), r.PathValue("table"), from, to)
	if err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

// ValidateRequest is the body of POST .../validate: records as JSON
// values, checked against the table's schema whatever its format.
type ValidateRequest struct {
	Records []stdjson.RawMessage `json:"records"`
}

// ValidateResult is the answer of POST .../validate.
type ValidateResult struct {
	Valid   int             `json:"valid"`
	Invalid []InvalidRecord `json:"invalid"`
	Version int             `json:"version"`
}

// InvalidRecord is a record that does not match the schema.
type InvalidRecord struct {
	Index      int         `json:"index"`
	Error      string      `json:"error"`
	Violations []Violation `json:"violations,omitempty"`
}

// Violation is one way a record does not match a schema: the field's path
// and the reason.
type Violation struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

func violations(ve *record.ValidationError) []Violation {
	out := make([]Violation, len(ve.Violations))
	for i, v := range ve.Violations {
		out[i] = Violation{Path: v.Path, Reason: v.Reason}
	}
	return out
}

// maxValidateRecords bounds one validate request.
const maxValidateRecords = 10_000

func (s *Server) validateRecords(w http.ResponseWriter, r *http.Request) {
	t, err := s.catalog.GetTable(r.Context(), r.PathValue("db"), r.PathValue("table"))
	if err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	var req ValidateRequest
	body, release, err := ReadBody(r, s.cfg.MaxBodyBytes)
	if err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	defer release()
	if err := stdjson.Unmarshal(body, &req); err != nil {
		WriteError(w, r, s.logger, fmt.Errorf("%w: %v", ErrMalformed, err))
		return
	}
	if len(req.Records) > maxValidateRecords {
		WriteError(w, r, s.logger, fmt.Errorf("%w: at most %d records", catalog.ErrInvalid, maxValidateRecords))
		return
	}
	v := record.NewValidator(t.Schema, record.ValidateOptions{})
	dec := record.NewJSONDecoder(record.JSONOptions{})
	out := ValidateResult{Invalid: []InvalidRecord{}, Version: t.Version}
	var rec record.Record
	for i, raw := range req.Records {
		err := dec.Decode(raw, &rec)
		if err == nil {
			err = v.Validate(&rec)
		}
		if err == nil {
			out.Valid++
			continue
		}
		ir := InvalidRecord{Index: i, Error: err.Error()}
		var ve *record.ValidationError
		if errors.As(err, &ve) {
			ir.Violations = violations(ve)
		}
		out.Invalid = append(out.Invalid, ir)
	}
	writeJSON(w, http.StatusOK, out)
}

// applyDocuments applies YAML or JSON catalog documents in order; the
// answer lists what each did. Documents are checked all before any is
// applied; an apply that fails part way leaves the earlier ones applied
// (applying again is idempotent).
func (s *Server) applyDocuments(w http.ResponseWriter, r *http.Request) {
	body, release, err := ReadBody(r, maxDefinitionBytes)
	if err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	docs, err := catalog.DecodeDocuments(bytes.Clone(body), "request")
	release()
	if err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	results := make([]*catalog.ApplyResult, 0, len(docs))
	for _, d := range docs {
		res, err := s.catalog.ApplyDocument(r.Context(), d)
		if err != nil {
			WriteError(w, r, s.logger, fmt.Errorf("%s %s: %w", d.Kind, d.Name(), err))
			return
		}
		results = append(results, res)
	}
	writeJSON(w, http.StatusOK, map[string][]*catalog.ApplyResult{"results": results})
}

func (s *Server) listBindings(w http.ResponseWriter, r *http.Request) {
	bs, err := s.catalog.ListBindings(r.Context())
	if err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string][]*catalog.Binding{"bindings": bs})
}

func (s *Server) getBinding(w http.ResponseWriter, r *http.Request) {
	b, err := s.catalog.GetBinding(r.Context(), r.PathValue("stream"))
	if err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	writeJSON(w, http.StatusOK, b)
}

// putBinding binds a stream to a table; both streams (the bound one and a
// dead-letter one) must exist.
func (s *Server) putBinding(w http.ResponseWriter, r *http.Request) {
	var b catalog.Binding
	if err := decodeStrict(r, &b); err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	if b.Stream == "" {
		b.Stream = r.PathValue("stream")
	}
	if b.Stream != r.PathValue("stream") {
		WriteError(w, r, s.logger, fmt.Errorf("%w: the body names stream %q, the path %q", catalog.ErrInvalid, b.Stream, r.PathValue("stream")))
		return
	}
	if s.streams != nil {
		for _, name := range []string{b.Stream, b.DeadLetter} {
			if name == "" {
				continue
			}
			if _, err := s.streams.Describe(r.Context(), name); err != nil {
				WriteError(w, r, s.logger, err)
				return
			}
		}
	}
	out, err := s.catalog.Bind(r.Context(), b)
	if err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) deleteBinding(w http.ResponseWriter, r *http.Request) {
	if err := s.catalog.Unbind(r.Context(), r.PathValue("stream")); err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// CrawlRequest is the body of POST .../crawl: what a crawl found (the CLI
// reads and infers on its side) and the schema-change policy.
type CrawlRequest struct {
	Result *crawl.Result `json:"result"`
	crawl.Policy
}

// applyCrawl creates or updates a table from a crawl result; the answer
// is a crawl.Outcome.
func (s *Server) applyCrawl(w http.ResponseWriter, r *http.Request) {
	var req CrawlRequest
	if err := decodeStrictLimit(r, &req, maxDefinitionBytes); err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	if req.Result == nil {
		WriteError(w, r, s.logger, fmt.Errorf("%w: result: missing", catalog.ErrInvalid))
		return
	}
	out, err := crawl.Apply(r.Context(), s.catalog, r.PathValue("db"), r.PathValue("table"), req.Result, req.Policy)
	if err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	s.logger.Info("crawl applied", "database", r.PathValue("db"), "table", r.PathValue("table"), "action", out.Action,
		"version", out.Table.Version, "records", req.Result.Records)
	writeJSON(w, http.StatusOK, out)
}

// maxListedRecords bounds the records a schema_mismatch refusal names.
const maxListedRecords = 10

// ingestVerdict is what the check of a bound stream's put decided: which
// records go on to the stream and which went to the dead-letter stream.
type ingestVerdict struct {
	// keep maps the entries passed on (by their order) to their index in
	// the put.
	keep []int
	// dead are the records sent to the dead-letter stream, by index in the
	// put.
	dead       map[int]deadLettered
	deadStream string
}

type deadLettered struct {
	result stream.Result
	reason string
}

// checkIngest checks the records of a put to a bound stream against its
// table. Under the reject policy a record that does not match refuses the
// put (catalog.ErrRecordInvalid, naming records and violations); under
// dead_letter such records are appended to the dead-letter stream, with
// the reason, and left out of the entries returned.
func (s *Server) checkIngest(ctx context.Context, sc *catalog.StreamCheck, entries []stream.Entry) ([]stream.Entry, *ingestVerdict, error) {
	var rec record.Record
	var bad []int
	var errs []error
	for i := range entries {
		if err := sc.Check(entries[i].Data, &rec); err != nil {
			bad = append(bad, i)
			errs = append(errs, err)
		}
	}
	if len(bad) == 0 {
		sc.Count(len(entries), 0, 0)
		return entries, nil, nil
	}
	b := &sc.Binding
	if b.Policy != catalog.PolicyDeadLetter {
		sc.Count(0, len(entries), 0)
		var msg strings.Builder
		fmt.Fprintf(&msg, "stream %q: %d of %d records do not match table %s.%s (version %d):", b.Stream, len(bad), len(entries), b.Database, b.Table, sc.Table.Version)
		for j, i := range bad {
			if j == maxListedRecords {
				fmt.Fprintf(&msg, " … and %d more", len(bad)-j)
				break
			}
			fmt.Fprintf(&msg, " records[%d]: %s;", i, strings.TrimPrefix(errs[j].Error(), "record: "))
		}
		return nil, nil, fmt.Errorf("%w: %s", catalog.ErrRecordInvalid, strings.TrimSuffix(msg.String(), ";"))
	}
	v := &ingestVerdict{dead: make(map[int]deadLettered, len(bad)), deadStream: b.DeadLetter}
	dlq := make([]stream.Entry, len(bad))
	for j, i := range bad {
		reason := strings.TrimPrefix(errs[j].Error(), "record: ")
		v.dead[i] = deadLettered{reason: reason}
		dlq[j] = stream.Entry{PartitionKey: entries[i].PartitionKey, ExplicitHashKey: entries[i].ExplicitHashKey,
			Data: deadLetterRecord(sc, &entries[i], errs[j])}
	}
	results := make([]stream.Result, len(dlq))
	ds, err := s.streams.Open(ctx, b.DeadLetter)
	if err == nil {
		results, err = ds.Append(ctx, dlq)
	}
	for j, i := range bad {
		d := v.dead[i]
		if err != nil {
			d.result.Err = fmt.Errorf("dead-letter stream %q: %w", b.DeadLetter, err)
		} else {
			d.result = results[j]
		}
		v.dead[i] = d
	}
	kept := make([]stream.Entry, 0, len(entries)-len(bad))
	v.keep = make([]int, 0, len(entries)-len(bad))
	for i := range entries {
		if _, dead := v.dead[i]; !dead {
			kept = append(kept, entries[i])
			v.keep = append(v.keep, i)
		}
	}
	sc.Count(len(kept), 0, len(bad))
	return kept, v, nil
}

// DeadLetter is the data of a record on a dead-letter stream: why it was
// refused and the record as it was put.
type DeadLetter struct {
	Stream       string      `json:"stream"`
	Table        string      `json:"table"`
	TableVersion int         `json:"table_version"`
	PartitionKey string      `json:"partition_key"`
	Reason       string      `json:"reason"`
	Violations   []Violation `json:"violations,omitempty"`
	// Data is the record as put when it is JSON, else DataBase64 holds it.
	Data       stdjson.RawMessage `json:"data,omitempty"`
	DataBase64 []byte             `json:"data_base64,omitempty"`
	Time       time.Time          `json:"time"`
}

func deadLetterRecord(sc *catalog.StreamCheck, e *stream.Entry, err error) []byte {
	d := DeadLetter{Stream: sc.Binding.Stream, Table: sc.Table.FullName(), TableVersion: sc.Table.Version,
		PartitionKey: e.PartitionKey, Reason: strings.TrimPrefix(err.Error(), "record: "), Time: time.Now().UTC()}
	var ve *record.ValidationError
	if errors.As(err, &ve) {
		d.Violations = violations(ve)
	}
	if stdjson.Valid(e.Data) {
		d.Data = stdjson.RawMessage(e.Data)
	} else {
		d.DataBase64 = e.Data
	}
	b, _ := stdjson.Marshal(d)
	return b
}

// merge returns the results of the put's records, in its order, from the
// results of the entries passed on: a dead-lettered record's result is its
// place on the dead-letter stream.
func (v *ingestVerdict) merge(results []stream.Result) []stream.Result {
	all := make([]stream.Result, len(v.keep)+len(v.dead))
	for j, i := range v.keep {
		all[i] = results[j]
	}
	for i, d := range v.dead {
		all[i] = d.result
	}
	return all
}

// CheckPut runs the ingest check of a stream bound to a catalog table on
// the records of a put from another put path (the Kinesis API): it returns
// the entries to store and, when records went to the dead-letter stream,
// a function that turns the stored entries' results into the results of
// the put's records (nil when every record goes on). Its error refuses the
// put (catalog.ErrRecordInvalid, naming records and violations). An
// unbound stream costs one map lookup. It applies the ingest limits first:
// a put over its client's rate or into a stream whose consumers are too far
// behind is refused with an error wrapping stream.ErrThrottled.
func (s *Server) CheckPut(ctx context.Context, streamName string, entries []stream.Entry) ([]stream.Entry, func([]stream.Result) []stream.Result, error) {
	if err := s.limits.admitPut(ctx, streamName, len(entries)); err != nil {
		return nil, nil, err
	}
	if s.catalog == nil {
		return entries, nil, nil
	}
	sc := s.catalog.StreamCheck(streamName)
	if sc == nil {
		return entries, nil, nil
	}
	kept, v, err := s.checkIngest(ctx, sc, entries)
	if err != nil || v == nil {
		return kept, nil, err
	}
	return kept, v.merge, nil
}

// appendCheckedResults writes the answer of a checked put: the results of
// the entries passed on and of those dead-lettered, in the put's order.
func appendCheckedResults(out []byte, results []stream.Result, v *ingestVerdict) []byte {
	all := v.merge(results)
	failed := 0
	for i := range all {
		if all[i].Err != nil {
			failed++
		}
	}
	out = append(out, `{"failed_record_count":`...)
	out = strconv.AppendInt(out, int64(failed), 10)
	out = append(out, `,"dead_lettered_count":`...)
	out = strconv.AppendInt(out, int64(len(v.dead)), 10)
	out = append(out, `,"records":[`...)
	for i, res := range all {
		if i > 0 {
			out = append(out, ',')
		}
		if res.Err != nil {
			_, code := errorStatus(res.Err)
			out = append(out, `{"error_code":"`...)
			out = append(out, code...)
			out = append(out, `","error":`...)
			out = jsonstr.Append(out, res.Err.Error())
			out = append(out, '}')
			continue
		}
		out = append(out, `{"partition":`...)
		out = strconv.AppendInt(out, int64(res.Partition), 10)
		out = append(out, `,"sequence_number":"`...)
		out = append(out, res.Position.SequenceNumber(res.Partition)...)
		out = append(out, '"')
		if d, dead := v.dead[i]; dead {
			out = append(out, `,"dead_letter_stream":`...)
			out = jsonstr.Append(out, v.deadStream)
			out = append(out, `,"reason":`...)
			out = jsonstr.Append(out, d.reason)
		}
		out = append(out, '}')
	}
	return append(out, "]}"...)
}
