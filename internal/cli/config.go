package cli

import (
	"bytes"
	"fmt"
	"os"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
	"github.com/ddbsync/ddbsync/reconcile/follow"
)

// fileConfig is the configuration file (--config): settings shared by every
// command, and the tables one process serves. Flags and environment
// variables override it.
type fileConfig struct {
	DatabaseURL string        `yaml:"database_url"`
	EndpointURL string        `yaml:"endpoint_url"`
	Region      string        `yaml:"region"`
	Schema      string        `yaml:"schema"`
	MetricsAddr string        `yaml:"metrics_addr"`
	ReadyLag    time.Duration `yaml:"ready_lag"`
	Tables      []tableConfig `yaml:"tables"`
	// follow --shared and --lease-duration.
	Shared        bool          `yaml:"shared"`
	LeaseDuration time.Duration `yaml:"lease_duration"`
}

// tableConfig is one DynamoDB table in the configuration file.
type tableConfig struct {
	Name      string `yaml:"name"`
	Key       string `yaml:"key"`        // HASH[,RANGE], as --key; default DescribeTable
	StreamArn string `yaml:"stream_arn"` // default: the table's LatestStreamArn
	Export    string `yaml:"export"`     // the export folder for load (local or s3://)
	Schema    string `yaml:"schema"`     // default: the file's schema, else dynamodb
	AcceptGap bool   `yaml:"accept_gap"`
	// follow --verify's settings, as its flags take them.
	Verify       string        `yaml:"verify"`        // e.g. 60/min; default off
	VerifyRCU    *float64      `yaml:"verify_rcu"`    // default 5
	VerifyWindow time.Duration `yaml:"verify_window"` // default 10s
	OnMismatch   string        `yaml:"on_mismatch"`   // log, stop or repair
	// S3 is where export, heal and sync ask AWS to write this table's
	// exports (s3://bucket/prefix), unless --s3 says.
	S3 string `yaml:"s3"`
	// SyncEvery makes `ddbsync sync --config` keep this table with
	// incremental exports, this often (for a table without a stream).
	SyncEvery time.Duration `yaml:"sync_every"`
	// Doc gives the data table the doc column (load --doc); unset keeps
	// the copy's choice.
	Doc *bool `yaml:"doc"`
	// Views has load write the table's typed views after publishing, and
	// follow keep them current (ddbsync views), in ViewsSchema (default
	// analytics).
	Views       bool   `yaml:"views"`
	ViewsSchema string `yaml:"views_schema"`
	// History keeps every version in <table>_history (load/follow
	// --history); HistoryRetention drops versions ended longer ago, e.g.
	// 400d (--history-retention).
	History          bool   `yaml:"history"`
	HistoryRetention string `yaml:"history_retention"`
}

func readConfig(path string) (*fileConfig, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, usageErrorf("reading config: %v", err)
	}
	var c fileConfig
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true) // a misspelt setting is an error, not a silent default
	if err := dec.Decode(&c); err != nil {
		return nil, usageErrorf("config %s: %v", path, err)
	}
	if err := c.Validate(); err != nil {
		return nil, usageErrorf("config %s: %v", path, err)
	}
	return &c, nil
}

// Validate checks the file's tables: named once each, keys well-formed.
func (c *fileConfig) Validate() error {
	seen := map[string]bool{}
	for i, t := range c.Tables {
		if t.Name == "" {
			return fmt.Errorf("tables[%d]: name is required", i)
		}
		if seen[t.Name] {
			return fmt.Errorf("table %s is listed twice", t.Name)
		}
		seen[t.Name] = true
		if t.Key != "" {
			if _, err := ddbjson.ParseKeySchema(t.Key); err != nil {
				return fmt.Errorf("table %s: %v", t.Name, err)
			}
		}
		if t.Verify != "" {
			if _, err := parseVerifyRate(t.Verify); err != nil {
				return fmt.Errorf("table %s: verify: %v", t.Name, err)
			}
		}
		if t.OnMismatch != "" {
			if _, err := follow.ParseMismatchAction(t.OnMismatch); err != nil {
				return fmt.Errorf("table %s: on_mismatch: %v", t.Name, err)
			}
		}
		if (t.VerifyRCU != nil && *t.VerifyRCU < 0) || t.VerifyWindow < 0 {
			return fmt.Errorf("table %s: verify_rcu and verify_window must not be negative", t.Name)
		}
		if t.HistoryRetention != "" {
			if _, err := parseRetention(t.HistoryRetention); err != nil {
				return fmt.Errorf("table %s: history_retention: %v", t.Name, err)
			}
		}
		if err := checkSyncEvery(t.SyncEvery, true); err != nil {
			return fmt.Errorf("table %s: sync_every %v", t.Name, err)
		}
	}
	if c.ReadyLag < 0 {
		return fmt.Errorf("ready_lag must not be negative")
	}
	if c.LeaseDuration < 0 {
		return fmt.Errorf("lease_duration must not be negative")
	}
	return nil
}

// table returns the configuration of table name (a zero one, named, if the
// file does not list it).
func (c *fileConfig) table(name string) tableConfig {
	if c != nil {
		for _, t := range c.Tables {
			if t.Name == name {
				return t
			}
		}
	}
	return tableConfig{Name: name}
}

// selectTables returns the tables a command serves: the one named with
// --table, else every table of the file.
func (g *globals) selectTables(name string) ([]tableConfig, error) {
	if name != "" {
		return []tableConfig{g.config.table(name)}, nil
	}
	if g.config == nil || len(g.config.Tables) == 0 {
		return nil, usageErrorf("--table is required (or a --config file listing tables)")
	}
	return g.config.Tables, nil
}

// schemaFor is the PostgreSQL schema of a table: its own setting, the
// flag or DDBSYNC_SCHEMA if given, the file's, else dynamodb.
func (g *globals) schemaFor(t tableConfig, flagValue string, flagSet bool) string {
	switch {
	case flagSet:
		return flagValue
	case t.Schema != "":
		return t.Schema
	case os.Getenv("DDBSYNC_SCHEMA") != "":
		return os.Getenv("DDBSYNC_SCHEMA")
	case g.config != nil && g.config.Schema != "":
		return g.config.Schema
	}
	return flagValue
}
