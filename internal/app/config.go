package app

import (
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/pricestream/pricestream/internal/api"
	"github.com/pricestream/pricestream/internal/api/dynamodb"
	"github.com/pricestream/pricestream/internal/api/kinesis"
	"github.com/pricestream/pricestream/internal/auth"
	"github.com/pricestream/pricestream/internal/catalog"
	"github.com/pricestream/pricestream/internal/engine"
	"github.com/pricestream/pricestream/internal/etl"
	"github.com/pricestream/pricestream/internal/model"
	"github.com/pricestream/pricestream/internal/pricing"
	"github.com/pricestream/pricestream/internal/stream"
	"github.com/pricestream/pricestream/internal/table"
	"github.com/pricestream/pricestream/internal/trigger"
	"github.com/pricestream/pricestream/internal/web"
)

// Config is pricestream's whole configuration. Every field has a default
// that serves the embedded single-process case; a zero field means that
// default.
type Config struct {
	Engine   engine.Config   `yaml:"engine" json:"engine"`
	HTTP     api.Config      `yaml:"http" json:"http"`
	Streams  stream.Config   `yaml:"streams" json:"streams"`
	Kinesis  kinesis.Config  `yaml:"kinesis" json:"kinesis"`
	Catalog  catalog.Config  `yaml:"catalog" json:"catalog"`
	Tables   table.Config    `yaml:"tables" json:"tables"`
	Auth     auth.Config     `yaml:"auth" json:"auth"`
	DynamoDB dynamodb.Config `yaml:"dynamodb" json:"dynamodb"`
	ETL      etl.Config      `yaml:"etl" json:"etl"`
	// Triggers configures the trigger runners of this process.
	Triggers trigger.Config `yaml:"triggers" json:"triggers"`
	Models   model.Config   `yaml:"models" json:"models"`
	Pricing  pricing.Config `yaml:"pricing" json:"pricing"`
	// Dashboard configures the dashboard at /.
	Dashboard web.Config `yaml:"dashboard" json:"dashboard"`
	Log       LogConfig  `yaml:"log" json:"log"`
	// ShutdownTimeout is the deadline of a graceful shutdown, from the
	// signal to the exit (see [App.Run]). Default 15s.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout" json:"shutdown_timeout"`
	// Procs is how many goroutines a server process (serve, demo, bench)
	// runs at once: the Go runtime's GOMAXPROCS. 0, the default, is the
	// cores the process may use plus one, unless the GOMAXPROCS
	// environment variable sets it (see [Procs]).
	Procs int `yaml:"procs" json:"procs"`
}

// Procs returns the GOMAXPROCS a server process runs with, given the
// configured procs ([Config.Procs]), whether the GOMAXPROCS environment
// variable is set, and the Go runtime's own choice (that variable, or the
// cores the process may use): procs when set, the runtime's when the
// variable is set, otherwise one more than the cores.
//
// Why one more: a price change's way from a click is some thirty
// goroutine hand-offs, the engine's among them; with as many Ps as cores
// and the cores busy, each waits for a P, and one the network poller
// readies waits until a P has nothing else to run. A spare P runs it at
// once and leaves sharing the cores to the kernel: on 2 cores the
// end-to-end median fell by a ninth to a third at 1,000-10,000 events/s,
// for up to 15% more CPU per event (docs/performance.md).
func Procs(procs int, envSet bool, runtimeProcs int) int {
	switch {
	case procs > 0:
		return procs
	case envSet:
		return runtimeProcs
	}
	return runtimeProcs + 1
}

// LogConfig configures logging.
type LogConfig struct {
	// Level is debug, info (the default), warn or error.
	Level string `yaml:"level" json:"level"`
	// Format is text (the default) or json.
	Format string `yaml:"format" json:"format"`
}

// DefaultConfig returns the configuration with every default filled in.
func DefaultConfig() Config {
	return Config{
		Engine:          engine.DefaultConfig(),
		HTTP:            api.DefaultConfig(),
		Streams:         stream.DefaultConfig(),
		Kinesis:         kinesis.DefaultConfig(),
		Tables:          table.DefaultConfig(),
		DynamoDB:        dynamodb.DefaultConfig(),
		ETL:             etl.DefaultConfig(),
		Triggers:        trigger.DefaultConfig(),
		Models:          model.DefaultConfig(),
		Catalog:         catalog.DefaultConfig(),
		Pricing:         pricing.DefaultConfig(),
		Dashboard:       web.DefaultConfig(),
		Log:             LogConfig{Level: "info", Format: "text"},
		ShutdownTimeout: 15 * time.Second,
	}
}

// Validate reports every problem at once, each with its path.
func (c Config) Validate() error {
	var errs []error
	errs = append(errs, c.Engine.Validate("engine"), c.HTTP.Validate("http"), c.Streams.Validate("streams"), c.Tables.Validate("tables"), c.Auth.Validate("auth"), c.ETL.Validate("etl"), c.Triggers.Validate("triggers"), c.Models.Validate("models"), c.Pricing.Validate("pricing"), c.Catalog.Validate("catalog"), c.Dashboard.Validate("dashboard"))
	switch strings.ToLower(c.Log.Level) {
	case "", "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log.level: want debug, info, warn or error, got %q", c.Log.Level))
	}
	switch strings.ToLower(c.Log.Format) {
	case "", "text", "json":
	default:
		errs = append(errs, fmt.Errorf("log.format: want text or json, got %q", c.Log.Format))
	}
	if c.ShutdownTimeout < 0 {
		errs = append(errs, errors.New("shutdown_timeout: must be > 0"))
	}
	if c.Procs < 0 || c.Procs > maxProcs {
		errs = append(errs, fmt.Errorf("procs: must be 0 (the cores plus one) to %d, got %d", maxProcs, c.Procs))
	}
	return errors.Join(errs...)
}

// maxProcs bounds Config.Procs (the Go runtime has no use for more).
const maxProcs = 1024

// LoadFile reads a YAML configuration file over the defaults. Unknown keys
// and values of the wrong type are errors, all reported, each with its
// path and line. It does not run [Config.Validate]; [CheckFile] does both.
func LoadFile(path string) (Config, error) {
	cfg := DefaultConfig()
	b, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("config: %w", err)
	}
	// Every problem of the file, not the first only.
	if errs := decodeAll(b, &cfg); len(errs) > 0 {
		return cfg, fmt.Errorf("config %s: %w", path, errors.Join(errs...))
	}
	return cfg, nil
}

// EnvPrefix starts every environment variable that overrides a setting:
// the YAML path in upper case with '_' between the parts, for example
// PRICESTREAM_ENGINE_DATA_DIR for engine.data_dir.
const EnvPrefix = "PRICESTREAM_"

// ApplyEnv overrides cfg with the PRICESTREAM_* variables that env (for
// example os.Environ()) sets.
func ApplyEnv(cfg *Config, env []string) error {
	vars := map[string]string{}
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, EnvPrefix) {
			vars[k] = v
		}
	}
	var errs []error
	walkFields(reflect.ValueOf(cfg).Elem(), "", func(path string, f reflect.Value) {
		name := EnvPrefix + strings.ToUpper(strings.ReplaceAll(path, ".", "_"))
		v, ok := vars[name]
		if !ok {
			return
		}
		if err := setField(f, v); err != nil {
			errs = append(errs, fmt.Errorf("%s (%s): %w", name, path, err))
		}
	})
	return errors.Join(errs...)
}

// Settings lists every setting as its YAML path, environment variable and
// current value (for documentation and `config print`).
func Settings(cfg *Config) []Setting {
	var out []Setting
	walkFields(reflect.ValueOf(cfg).Elem(), "", func(path string, f reflect.Value) {
		v := fmt.Sprint(f.Interface())
		if isSecret(path) && v != "" && v != "[]" {
			v = "***"
		}
		if path == "engine.url" {
			v = maskURL(v)
		}
		out = append(out, Setting{Path: path, Env: EnvPrefix + strings.ToUpper(strings.ReplaceAll(path, ".", "_")), Value: v})
	})
	return out
}

// Setting is one configuration setting.
type Setting struct {
	Path, Env, Value string
}

// secretKeys name settings whose values are masked when shown.
var secretKeys = []string{"password", "secret", "token", "creds", "credentials", "nkey", "key_file"}

func isSecret(path string) bool {
	last := path[strings.LastIndexByte(path, '.')+1:]
	for _, k := range secretKeys {
		if strings.Contains(last, k) {
			return true
		}
	}
	return false
}

// maskURL hides the credentials of URLs such as nats://user:pass@host.
func maskURL(s string) string {
	parts := strings.Split(s, ",")
	for i, p := range parts {
		if at := strings.LastIndex(p, "@"); at >= 0 {
			if sch := strings.Index(p, "://"); sch >= 0 && sch < at {
				parts[i] = p[:sch+3] + "***" + p[at:]
			}
		}
	}
	return strings.Join(parts, ",")
}

var textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()

func walkFields(v reflect.Value, prefix string, fn func(path string, f reflect.Value)) {
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		tag, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		if tag == "-" || !sf.IsExported() {
			continue
		}
		if tag == "" {
			tag = strings.ToLower(sf.Name)
		}
		path := tag
		if prefix != "" {
			path = prefix + "." + tag
		}
		f := v.Field(i)
		if f.Kind() == reflect.Struct && !reflect.PointerTo(f.Type()).Implements(textUnmarshaler) && f.Type() != reflect.TypeFor[time.Duration]() {
			walkFields(f, path, fn)
			continue
		}
		fn(path, f)
	}
}

func setField(f reflect.Value, s string) error {
	if f.CanAddr() && f.Addr().Type().Implements(textUnmarshaler) {
		return f.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s))
	}
	switch {
	case f.Type() == reflect.TypeFor[time.Duration]():
		d, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		f.SetInt(int64(d))
	case f.Kind() == reflect.String:
		f.SetString(s)
	case f.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return err
		}
		f.SetBool(b)
	case f.CanInt():
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return err
		}
		f.SetInt(n)
	case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.String:
		parts := strings.Split(s, ",")
		f.Set(reflect.ValueOf(parts))
	case f.Kind() == reflect.Slice || f.Kind() == reflect.Map:
		// Lists of objects come as JSON, e.g. PRICESTREAM_AUTH_AWS_CREDENTIALS.
		if err := json.Unmarshal([]byte(s), f.Addr().Interface()); err != nil {
			return fmt.Errorf("want JSON: %w", err)
		}
	default:
		return fmt.Errorf("cannot set a %s from the environment", f.Type())
	}
	return nil
}
