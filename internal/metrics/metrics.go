// Package metrics exposes ddbsync's running totals to Prometheus, with
// /healthz and /readyz for orchestrators. It reads the counters that loads,
// follows and syncs keep anyway ([load.Stats], [follow.Stats], [heal.Stats])
// when scraped, so the hot paths carry no instrumentation of their own.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ddbsync/ddbsync/reconcile/follow"
	"github.com/ddbsync/ddbsync/reconcile/heal"
	"github.com/ddbsync/ddbsync/reconcile/load"
	"github.com/ddbsync/ddbsync/stream"
)

// Registry collects the stats of the tables a process serves. Safe for
// concurrent use.
type Registry struct {
	now func() time.Time

	mu      sync.Mutex // guards the maps
	follows map[string]*follow.Stats
	loads   map[string]*load.Stats
	syncs   map[string]syncEntry
}

// syncEntry is a table `sync` keeps, with its interval.
type syncEntry struct {
	stats *heal.Stats
	every time.Duration
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{now: time.Now, follows: map[string]*follow.Stats{}, loads: map[string]*load.Stats{}, syncs: map[string]syncEntry{}}
}

// Sync registers the stats of a sync of table every interval: its
// watermark counts for readiness with the interval added to the lag
// allowed.
func (r *Registry) Sync(table string, s *heal.Stats, every time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.syncs[table] = syncEntry{s, every}
}

// Follow registers the stats of a follow of table.
func (r *Registry) Follow(table string, s *follow.Stats) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.follows[table] = s
}

// Load registers the stats of a load of table.
func (r *Registry) Load(table string, s *load.Stats) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.loads[table] = s
}

var (
	descApplied   = prometheus.NewDesc("ddbsync_changes_applied_total", "Stream changes applied to the PostgreSQL copy, by table and event.", []string{"table", "event"}, nil)
	descTTL       = prometheus.NewDesc("ddbsync_ttl_removes_total", "REMOVE changes made by DynamoDB's TTL, by table (also counted in changes_applied).", []string{"table"}, nil)
	descWatermark = prometheus.NewDesc("ddbsync_watermark_timestamp_seconds", "The watermark W: every change created before it is applied (Unix time).", []string{"table"}, nil)
	descLag       = prometheus.NewDesc("ddbsync_watermark_age_seconds", "Now minus the watermark: how far the copy lags the table.", []string{"table"}, nil)
	descShards    = prometheus.NewDesc("ddbsync_shards", "Stream shards by state.", []string{"table", "state"}, nil)
	descRetries   = prometheus.NewDesc("ddbsync_retries_total", "Retries by cause: stream throttling, server and network errors, iterator renewals, database errors.", []string{"table", "cause"}, nil)
	descLoadItems = prometheus.NewDesc("ddbsync_load_items", "Items of the current or last load: done and total.", []string{"table", "kind"}, nil)
	descLoadFiles = prometheus.NewDesc("ddbsync_load_files", "Data files of the current or last load: done and total.", []string{"table", "kind"}, nil)
	descLoadBytes = prometheus.NewDesc("ddbsync_load_bytes_read_total", "Compressed export bytes read by the current or last load.", []string{"table"}, nil)

	descVerifyChecked    = prometheus.NewDesc("ddbsync_verify_checked_total", "Keys follow --verify read from DynamoDB and compared with the copy (keys in flight not counted).", []string{"table"}, nil)
	descVerifyMismatches = prometheus.NewDesc("ddbsync_verify_mismatches_total", "Keys whose row in the copy differed from a strongly consistent read of DynamoDB (ddbsync.verifications).", []string{"table"}, nil)
	descVerifyLastCheck  = prometheus.NewDesc("ddbsync_verify_last_check_timestamp_seconds", "When follow --verify last compared keys (Unix time).", []string{"table"}, nil)

	descIncExport = prometheus.NewDesc("ddbsync_incremental_exports_total", "Incremental exports applied by sync.", []string{"table"}, nil)
	descIncChange = prometheus.NewDesc("ddbsync_incremental_changes_total", "Changes of the incremental exports sync applied.", []string{"table"}, nil)
	descSyncRound = prometheus.NewDesc("ddbsync_sync_rounds_total", "Sync rounds done.", []string{"table"}, nil)
)

var retryCauses = []stream.RetryCause{stream.CauseThrottle, stream.CauseServer, stream.CauseNetwork,
	stream.CauseExpiredIterator, stream.CauseIteratorAge, stream.CauseTrimHorizon}

// Describe implements prometheus.Collector.
func (r *Registry) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descApplied, descTTL, descWatermark, descLag, descShards, descRetries,
		descLoadItems, descLoadFiles, descLoadBytes, descVerifyChecked, descVerifyMismatches, descVerifyLastCheck,
		descIncExport, descIncChange, descSyncRound} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (r *Registry) Collect(ch chan<- prometheus.Metric) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	for table, s := range r.follows {
		for ev, n := range s.Events() {
			ch <- prometheus.MustNewConstMetric(descApplied, prometheus.CounterValue, float64(n), table, strings.ToLower(string(ev)))
		}
		ch <- prometheus.MustNewConstMetric(descTTL, prometheus.CounterValue, float64(s.TTLRemoves.Load()), table)
		if w := s.Watermark(); !w.IsZero() {
			ch <- prometheus.MustNewConstMetric(descWatermark, prometheus.GaugeValue, float64(w.UnixNano())/1e9, table)
			ch <- prometheus.MustNewConstMetric(descLag, prometheus.GaugeValue, now.Sub(w).Seconds(), table)
		}
		for i, n := range s.Shards() {
			ch <- prometheus.MustNewConstMetric(descShards, prometheus.GaugeValue, float64(n), table, follow.ShardStates[i])
		}
		for _, c := range retryCauses {
			ch <- prometheus.MustNewConstMetric(descRetries, prometheus.CounterValue, float64(s.Retries(c)), table, c.String())
		}
		ch <- prometheus.MustNewConstMetric(descRetries, prometheus.CounterValue, float64(s.ApplyRetries.Load()), table, "database")
		if v := s.Verify; v != nil {
			ch <- prometheus.MustNewConstMetric(descVerifyChecked, prometheus.CounterValue, float64(v.Checked.Load()), table)
			ch <- prometheus.MustNewConstMetric(descVerifyMismatches, prometheus.CounterValue, float64(v.Mismatches.Load()), table)
			if at := v.LastCheck(); !at.IsZero() {
				ch <- prometheus.MustNewConstMetric(descVerifyLastCheck, prometheus.GaugeValue, float64(at.UnixNano())/1e9, table)
			}
		}
	}
	for table, e := range r.syncs {
		s := e.stats
		if w := s.Watermark(); !w.IsZero() {
			ch <- prometheus.MustNewConstMetric(descWatermark, prometheus.GaugeValue, float64(w.UnixNano())/1e9, table)
			ch <- prometheus.MustNewConstMetric(descLag, prometheus.GaugeValue, now.Sub(w).Seconds(), table)
		}
		ch <- prometheus.MustNewConstMetric(descIncExport, prometheus.CounterValue, float64(s.Exports.Load()), table)
		ch <- prometheus.MustNewConstMetric(descIncChange, prometheus.CounterValue, float64(s.Changes.Load()), table)
		ch <- prometheus.MustNewConstMetric(descSyncRound, prometheus.CounterValue, float64(s.Rounds.Load()), table)
	}
	for table, s := range r.loads {
		ch <- prometheus.MustNewConstMetric(descLoadItems, prometheus.GaugeValue, float64(s.ItemsDone.Load()), table, "done")
		ch <- prometheus.MustNewConstMetric(descLoadItems, prometheus.GaugeValue, float64(s.ItemsTotal.Load()), table, "total")
		ch <- prometheus.MustNewConstMetric(descLoadFiles, prometheus.GaugeValue, float64(s.FilesDone.Load()), table, "done")
		ch <- prometheus.MustNewConstMetric(descLoadFiles, prometheus.GaugeValue, float64(s.FilesTotal.Load()), table, "total")
		ch <- prometheus.MustNewConstMetric(descLoadBytes, prometheus.CounterValue, float64(s.BytesDone.Load()), table)
	}
}

// Ready reports whether every followed table's watermark is within maxLag
// of now, and no verification found a mismatch that is still there (not
// repaired, not found matching since); the error names the tables that
// are not ready.
func (r *Registry) Ready(maxLag time.Duration) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	var behind, wrong, unleased []string
	for table, s := range r.follows {
		// A shared follow is ready while it renews its leases, holding
		// shards or standing by; one that cannot reach the database has
		// lost them to its peers.
		if shared, renewed, lease := s.Shared(); shared && (renewed.IsZero() || now.Sub(renewed) > lease) {
			unleased = append(unleased, table)
		}
		if v := s.Verify; v != nil {
			if n := v.Unresolved.Load(); n > 0 {
				wrong = append(wrong, fmt.Sprintf("%s (%d keys)", table, n))
			}
		}
		w := s.Watermark()
		switch {
		case w.IsZero():
			behind = append(behind, table+" (no watermark yet)")
		case now.Sub(w) > maxLag:
			behind = append(behind, fmt.Sprintf("%s (lag %s)", table, now.Sub(w).Round(time.Second)))
		}
	}
	var errs []string
	for table, e := range r.syncs {
		w := e.stats.Watermark()
		switch {
		case w.IsZero():
			behind = append(behind, table+" (no watermark yet)")
		case now.Sub(w) > e.every+maxLag:
			behind = append(behind, fmt.Sprintf("%s (lag %s, synced every %s)", table, now.Sub(w).Round(time.Second), e.every))
		}
	}
	if len(behind) > 0 {
		sort.Strings(behind)
		errs = append(errs, fmt.Sprintf("not caught up within %s: %s", maxLag, strings.Join(behind, ", ")))
	}
	if len(unleased) > 0 {
		sort.Strings(unleased)
		errs = append(errs, "a shared follow has not renewed its leases within the lease duration (is the database reachable?): "+
			strings.Join(unleased, ", "))
	}
	if len(wrong) > 0 {
		sort.Strings(wrong)
		errs = append(errs, "verification found the copy differs from DynamoDB (see ddbsync.verifications): "+strings.Join(wrong, ", "))
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// Handler serves /metrics, /healthz (the process is up) and /readyz (every
// followed table is caught up within maxLag, and verification found no
// mismatch that is still there).
func (r *Registry) Handler(maxLag time.Duration) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(r, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if err := r.Ready(maxLag); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	return mux
}

// Serve listens on addr and serves [Registry.Handler] until ctx is done.
// It returns the address it listens on (useful with port 0) once listening.
func (r *Registry) Serve(ctx context.Context, addr string, maxLag time.Duration, log *slog.Logger) (string, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("metrics: listening on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: r.Handler(maxLag), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", slog.String("error", err.Error()))
		}
	}()
	return l.Addr().String(), nil
}
