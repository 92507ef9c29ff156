package app

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/engine"
)

func TestConfigGoodFile(t *testing.T) {
	cfg, err := LoadFile("testdata/full.good.yaml")
	require.NoError(t, err)
	require.NoError(t, cfg.Validate())
	require.Equal(t, "/var/lib/pricestream", cfg.Engine.DataDir)
	require.Equal(t, engine.FsyncPolicy{Interval: 100 * time.Millisecond}, cfg.Engine.Fsync)
	require.Equal(t, "0.0.0.0:9090", cfg.HTTP.Addr)
	require.Equal(t, 1048576, cfg.Streams.MaxQueuedBytes)
	require.Equal(t, "eu-west-1", cfg.Kinesis.Region)
	require.Equal(t, 1024, cfg.Models.AsyncQueue)
	require.Equal(t, 10*time.Second, cfg.Models.LoadTimeout)
	require.Equal(t, 30*time.Second, cfg.ShutdownTimeout)
	require.Equal(t, 3, cfg.Procs)
	// Unset keys keep their defaults.
	require.Equal(t, DefaultConfig().HTTP.MaxBodyBytes, cfg.HTTP.MaxBodyBytes)
}

func TestConfigBadFiles(t *testing.T) {
	_, err := LoadFile("testdata/unknown-key.bad.yaml")
	require.ErrorContains(t, err, `engine.fsnyc: [3:3] unknown setting (did you mean "fsync"?)`)

	cfg, err := LoadFile("testdata/bad-values.bad.yaml")
	require.NoError(t, err)
	err = cfg.Validate()
	for _, want := range []string{"engine.max_payload", "engine.namespace", "http.addr", "streams.replicas", "models.async_queue", "log.level", "procs: must be 0"} {
		require.ErrorContains(t, err, want)
	}
	_, err = LoadFile("testdata/missing.yaml")
	require.ErrorContains(t, err, "no such file")
}

// TestConfigProcs: a server runs with the configured procs, or with the
// GOMAXPROCS variable's when that is set, or else with one more than the
// runtime's choice (the cores).
func TestConfigProcs(t *testing.T) {
	for _, tc := range []struct {
		procs   int
		envSet  bool
		runtime int
		want    int
	}{
		{procs: 0, envSet: false, runtime: 2, want: 3},
		{procs: 0, envSet: false, runtime: 16, want: 17},
		{procs: 0, envSet: true, runtime: 2, want: 2},
		{procs: 0, envSet: true, runtime: 5, want: 5},
		{procs: 4, envSet: false, runtime: 2, want: 4},
		{procs: 1, envSet: true, runtime: 8, want: 1},
	} {
		require.Equal(t, tc.want, Procs(tc.procs, tc.envSet, tc.runtime), "%+v", tc)
	}
}

// TestConfigCheckReportsEverything checks that every problem of a file is
// reported at once, each with its path and line: unknown keys, type
// errors, and the values Validate refuses.
func TestConfigCheckReportsEverything(t *testing.T) {
	_, err := CheckFile("testdata/many-problems.bad.yaml")
	require.Error(t, err)
	want := []string{
		`engine.fsnyc: [4:3] unknown setting (did you mean "fsync"?)`,
		`engine.max_payload: [5:16] cannot unmarshal string`,
		`http: [6:7] want a mapping of settings, got a sequence`,
		`streams.max_queued_bytes: [8:21] `,
		`shutdown_timeout: [9:19] time: invalid duration "soon"`,
		`tables: [12:9] want a mapping of settings, got a integer`,
		`nonsense: [13:1] unknown setting`,
		`log.level: want debug, info, warn or error, got "loud"`,
	}
	for _, w := range want {
		require.ErrorContains(t, err, w)
	}
	lines := strings.Split(err.Error(), "\n")
	require.Len(t, lines, len(want), err.Error())
	for _, l := range lines[:len(want)-1] {
		require.True(t, strings.HasPrefix(l, "testdata/many-problems.bad.yaml: "), l)
	}
	// The settings that decoded are kept.
	cfg, _ := CheckFile("testdata/many-problems.bad.yaml")
	require.Equal(t, "/tmp/x", cfg.Engine.DataDir)

	// LoadFile reports the same YAML problems, all of them.
	_, err = LoadFile("testdata/many-problems.bad.yaml")
	for _, w := range want[:len(want)-1] {
		require.ErrorContains(t, err, w)
	}
	_, err = CheckFile("testdata/full.good.yaml")
	require.NoError(t, err)
}

func TestConfigEnvOverrides(t *testing.T) {
	cfg := DefaultConfig()
	require.NoError(t, ApplyEnv(&cfg, []string{
		"PRICESTREAM_ENGINE_DATA_DIR=/data",
		"PRICESTREAM_ENGINE_FSYNC=interval:1s",
		"PRICESTREAM_HTTP_MAX_BODY_BYTES=9000000",
		"PRICESTREAM_SHUTDOWN_TIMEOUT=3s",
		"PRICESTREAM_SERVER=http://ignored", // a client setting, not a server one
		"HOME=/root",
	}))
	require.Equal(t, "/data", cfg.Engine.DataDir)
	require.Equal(t, time.Second, cfg.Engine.Fsync.Interval)
	require.Equal(t, int64(9000000), cfg.HTTP.MaxBodyBytes)
	require.Equal(t, 3*time.Second, cfg.ShutdownTimeout)

	require.NoError(t, ApplyEnv(&cfg, []string{"PRICESTREAM_ENGINE_PASSWORD=nats-s3cr3t", "PRICESTREAM_ENGINE_TOKEN=tok-s3cr3t"}))
	for _, s := range Settings(&cfg) {
		require.NotContains(t, s.Value, "s3cr3t", s.Path)
	}
	require.NoError(t, ApplyEnv(&cfg, []string{`PRICESTREAM_AUTH_AWS_CREDENTIALS=[{"access_key_id":"AKID","secret_access_key":"s3cr3t","scopes":["admin"]}]`}))
	require.Equal(t, "AKID", cfg.Auth.AWSCredentials[0].AccessKeyID)
	for _, s := range Settings(&cfg) {
		require.NotContains(t, s.Value, "s3cr3t", s.Path)
	}

	err := ApplyEnv(&cfg, []string{"PRICESTREAM_ENGINE_FSYNC=never", "PRICESTREAM_STREAMS_REPLICAS=three"})
	require.ErrorContains(t, err, "PRICESTREAM_ENGINE_FSYNC (engine.fsync)")
	require.ErrorContains(t, err, "PRICESTREAM_STREAMS_REPLICAS (streams.replicas)")
}

// TestConfigDocumented keeps docs/configuration.md true: every setting
// appears with its variable and default.
func TestConfigDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/configuration.md")
	require.NoError(t, err)
	cfg := DefaultConfig()
	for _, s := range Settings(&cfg) {
		var row string
		for _, line := range strings.Split(string(doc), "\n") {
			if strings.HasPrefix(line, "| `"+s.Path+"` |") {
				row = line
			}
		}
		require.NotEmpty(t, row, "docs/configuration.md has no row for %s", s.Path)
		require.Contains(t, row, "`"+s.Env+"`", s.Path)
		if s.Value != "" {
			require.Contains(t, row, "`"+s.Value+"`", "default of %s", s.Path)
		}
	}
}
