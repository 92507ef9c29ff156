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
	// Unset keys keep their defaults.
	require.Equal(t, DefaultConfig().HTTP.MaxBodyBytes, cfg.HTTP.MaxBodyBytes)
}

func TestConfigBadFiles(t *testing.T) {
	_, err := LoadFile("testdata/unknown-key.bad.yaml")
	require.ErrorContains(t, err, `unknown field "fsnyc"`)
	require.ErrorContains(t, err, "[3:3]")

	cfg, err := LoadFile("testdata/bad-values.bad.yaml")
	require.NoError(t, err)
	err = cfg.Validate()
	for _, want := range []string{"engine.max_payload", "engine.namespace", "http.addr", "streams.replicas", "models.async_queue", "log.level"} {
		require.ErrorContains(t, err, want)
	}
	_, err = LoadFile("testdata/missing.yaml")
	require.ErrorContains(t, err, "no such file")
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
