package emulator

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
	"github.com/ddbsync/ddbsync/snapshot"
)

// export is one ExportTableToPointInTime task. Guarded by Server.mu.
type export struct {
	arn            string
	tableArn       string
	tableID        string
	bucket         string
	prefix         string
	clientToken    string
	manifest       string
	start          time.Time
	exportTime     time.Time // full exports
	exportType     string    // FULL_EXPORT or INCREMENTAL_EXPORT
	from, to       time.Time // incremental exports: the window
	view           snapshot.ViewType
	failureCode    string
	failureMessage string
	itemCount      int64
	billed         int64
}

// itemsAtLocked returns t's items as of at (every write at or before at
// counts), in key order.
func (s *Server) itemsAtLocked(t *table, at time.Time) []ddbjson.Item {
	keys := make([]string, 0, len(t.items))
	for k := range t.items {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var items []ddbjson.Item
	for _, k := range keys {
		if it := t.items[k].at(at); it != nil {
			items = append(items, it)
		}
	}
	return items
}

// writeExport writes items as a full export through sink.
func (s *Server) writeExport(ctx context.Context, sink snapshot.Sink, cfg snapshot.WriterConfig, items []ddbjson.Item) (*snapshot.Writer, snapshot.Summary, error) {
	cfg.Files = s.cfg.exportFiles
	w, err := snapshot.NewWriter(ctx, sink, cfg)
	if err != nil {
		return nil, snapshot.Summary{}, fmt.Errorf("writing export of %s: %w", cfg.TableArn, err)
	}
	for _, it := range items {
		if err := w.Write(it); err != nil {
			_, _ = w.Close(ctx)
			return nil, snapshot.Summary{}, fmt.Errorf("writing export of %s: %w", cfg.TableArn, err)
		}
	}
	sum, err := w.Close(ctx)
	if err != nil {
		return nil, snapshot.Summary{}, fmt.Errorf("writing export of %s: %w", cfg.TableArn, err)
	}
	return w, sum, nil
}

// ExportToDir writes a full export of table as of at into dir, which
// becomes the export folder (manifest-summary.json at its top), the layout
// `ddbsync load` reads from a local folder. It needs no PITR and no bucket.
func (s *Server) ExportToDir(ctx context.Context, tableName string, at time.Time, dir string) (snapshot.Summary, error) {
	s.mu.Lock()
	t := s.tables[tableName]
	if t == nil {
		s.mu.Unlock()
		return snapshot.Summary{}, fmt.Errorf("exporting %s: no such table", tableName)
	}
	if at.Before(t.forgotten) {
		s.mu.Unlock()
		return snapshot.Summary{}, errForgotten(tableName, at, t.forgotten)
	}
	arn, items := t.arn, s.itemsAtLocked(t, at)
	s.mu.Unlock()
	_, sum, err := s.writeExport(ctx, snapshot.DirSink(dir), snapshot.WriterConfig{TableArn: arn, ExportTime: at}, items)
	return sum, err
}

type exportDescription struct {
	ExportArn                      string           `json:"ExportArn"`
	ExportStatus                   string           `json:"ExportStatus"`
	StartTime                      *epoch           `json:"StartTime,omitempty"`
	EndTime                        *epoch           `json:"EndTime,omitempty"`
	ExportTime                     *epoch           `json:"ExportTime,omitempty"`
	ExportManifest                 string           `json:"ExportManifest,omitempty"`
	TableArn                       string           `json:"TableArn"`
	TableId                        string           `json:"TableId,omitempty"`
	ClientToken                    string           `json:"ClientToken,omitempty"`
	S3Bucket                       string           `json:"S3Bucket"`
	S3Prefix                       string           `json:"S3Prefix,omitempty"`
	S3SseAlgorithm                 string           `json:"S3SseAlgorithm"`
	FailureCode                    string           `json:"FailureCode,omitempty"`
	FailureMessage                 string           `json:"FailureMessage,omitempty"`
	ExportFormat                   string           `json:"ExportFormat"`
	ExportType                     string           `json:"ExportType"`
	IncrementalExportSpecification *incrementalSpec `json:"IncrementalExportSpecification,omitempty"`
	ItemCount                      int64            `json:"ItemCount"`
	BilledSizeBytes                int64            `json:"BilledSizeBytes"`
}

// statusLocked is the export's status now: IN_PROGRESS until the configured
// export duration has passed on the fake clock.
func (s *Server) statusLocked(e *export) (string, time.Time) {
	end := e.start.Add(s.cfg.exportDuration)
	switch {
	case s.clock.Now().Before(end):
		return "IN_PROGRESS", time.Time{}
	case e.failureCode != "":
		return "FAILED", end
	}
	return "COMPLETED", end
}

func (s *Server) describeExportLocked(e *export) exportDescription {
	status, end := s.statusLocked(e)
	d := exportDescription{
		ExportArn:      e.arn,
		ExportStatus:   status,
		StartTime:      epochPtr(e.start),
		EndTime:        epochPtr(end),
		ExportTime:     epochPtr(e.exportTime),
		TableArn:       e.tableArn,
		TableId:        e.tableID,
		ClientToken:    e.clientToken,
		S3Bucket:       e.bucket,
		S3Prefix:       e.prefix,
		S3SseAlgorithm: "AES256",
		ExportFormat:   "DYNAMODB_JSON",
		ExportType:     e.exportType,
	}
	if e.exportType == exportIncremental {
		// AWS describes an incremental export with ExportTime null.
		d.ExportTime = nil
		d.IncrementalExportSpecification = &incrementalSpec{
			ExportFromTime: epochPtr(e.from), ExportToTime: epochPtr(e.to), ExportViewType: string(e.view),
		}
	}
	if status == "COMPLETED" {
		d.ExportManifest = e.manifest
		d.ItemCount, d.BilledSizeBytes = e.itemCount, e.billed
	}
	if status == "FAILED" {
		d.FailureCode, d.FailureMessage = e.failureCode, e.failureMessage
	}
	return d
}

func (s *Server) exportTableToPointInTime(body []byte) (any, error) {
	var in struct {
		TableArn                       string           `json:"TableArn"`
		S3Bucket                       string           `json:"S3Bucket"`
		S3Prefix                       string           `json:"S3Prefix"`
		ExportTime                     *epoch           `json:"ExportTime"`
		ExportFormat                   string           `json:"ExportFormat"`
		ExportType                     string           `json:"ExportType"`
		IncrementalExportSpecification *incrementalSpec `json:"IncrementalExportSpecification"`
		ClientToken                    string           `json:"ClientToken"`
	}
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	if in.ExportFormat != "" && in.ExportFormat != "DYNAMODB_JSON" {
		return nil, errValidation("emulator: only ExportFormat DYNAMODB_JSON is supported")
	}
	incremental, err := checkExportType(in.ExportType, in.IncrementalExportSpecification, in.ExportTime != nil)
	if err != nil {
		return nil, err
	}
	if in.S3Bucket == "" {
		return nil, errValidation("S3Bucket is required")
	}
	s.mu.Lock()
	var t *table
	for _, c := range s.tables {
		if c.arn == in.TableArn {
			t = c
		}
	}
	if t == nil {
		s.mu.Unlock()
		return nil, newAPIError(http.StatusBadRequest, "TableNotFoundException", "Table not found: %s", in.TableArn)
	}
	for _, e := range s.exports {
		if in.ClientToken != "" && e.clientToken == in.ClientToken && e.tableArn == t.arn {
			d := s.describeExportLocked(e)
			s.mu.Unlock()
			return map[string]any{"ExportDescription": d}, nil
		}
	}
	now := s.clock.Now()
	e := &export{tableArn: t.arn, tableID: t.id, bucket: in.S3Bucket, prefix: strings.Trim(in.S3Prefix, "/"),
		clientToken: in.ClientToken, start: now, exportType: exportFull}
	var items []ddbjson.Item
	var changes []snapshot.Change
	if incremental {
		e.exportType = exportIncremental
		if e.from, e.to, e.view, err = s.incrementalWindowLocked(t, in.IncrementalExportSpecification); err != nil {
			s.mu.Unlock()
			return nil, err
		}
		changes = s.changesLocked(t, e.from, e.to, e.view)
	} else {
		if !t.pitr {
			s.mu.Unlock()
			return nil, newAPIError(http.StatusBadRequest, "PointInTimeRecoveryUnavailableException",
				"Point in time recovery is not enabled for table '%s'", t.name)
		}
		e.exportTime = now
		if in.ExportTime != nil {
			e.exportTime = time.Time(*in.ExportTime)
		}
		if earliest, latest := s.pitrWindowLocked(t); e.exportTime.Before(earliest) || e.exportTime.After(latest) {
			s.mu.Unlock()
			return nil, newAPIError(http.StatusBadRequest, "InvalidExportTimeException",
				"Export time %s is outside the point-in-time recovery window [%s, %s]",
				e.exportTime.Format(time.RFC3339Nano), earliest.Format(time.RFC3339Nano), latest.Format(time.RFC3339Nano))
		}
		items = s.itemsAtLocked(t, e.exportTime)
	}
	s.mu.Unlock()

	if incremental {
		err = s.runIncrementalExport(e, changes)
	} else {
		err = s.runExport(e, items)
	}
	if err != nil {
		return nil, errInternal("%v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.exports[e.arn] = e
	d := s.describeExportLocked(e)
	d.ExportStatus, d.EndTime = "IN_PROGRESS", nil // the first answer, as from AWS
	d.ExportManifest, d.ItemCount, d.BilledSizeBytes, d.FailureCode, d.FailureMessage = "", 0, 0, "", ""
	return map[string]any{"ExportDescription": d}, nil
}

// runExport writes a full export into the in-process S3.
func (s *Server) runExport(e *export, items []ddbjson.Item) error {
	sink := newMemSink()
	w, sum, err := s.writeExport(context.Background(), sink, snapshot.WriterConfig{
		TableArn: e.tableArn, ExportTime: e.exportTime, Bucket: e.bucket, Prefix: e.prefix,
	}, items)
	if err != nil {
		return err
	}
	var billed int64
	for _, it := range items {
		billed += itemSize(it)
	}
	return s.publishExport(e, sink, sum, w.FolderKey(), w.FolderKey(), billed)
}

// publishExport records what the writer produced and uploads the files in
// sink under uploadKey, or marks the export failed the way AWS does when the
// bucket is missing.
func (s *Server) publishExport(e *export, sink *memSink, sum snapshot.Summary, folderKey, uploadKey string, billed int64) error {
	e.arn = sum.ExportArn
	e.manifest = folderKey + "/" + snapshot.SummaryName
	e.itemCount = sum.ItemCount
	e.billed = billed
	if !s.bucketExists(e.bucket) {
		e.failureCode = "S3NoSuchBucket"
		e.failureMessage = "The specified bucket does not exist (Service: Amazon S3; Status Code: 404; Error Code: NoSuchBucket)"
		return nil
	}
	return sink.upload(s, e.bucket, uploadKey)
}

func (s *Server) describeExport(body []byte) (any, error) {
	var in struct {
		ExportArn string `json:"ExportArn"`
	}
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.exports[in.ExportArn]
	if e == nil {
		return nil, newAPIError(http.StatusBadRequest, "ExportNotFoundException", "Export not found: %s", in.ExportArn)
	}
	return map[string]any{"ExportDescription": s.describeExportLocked(e)}, nil
}

func (s *Server) listExports(body []byte) (any, error) {
	var in struct {
		TableArn   string `json:"TableArn"`
		MaxResults int    `json:"MaxResults"`
		NextToken  string `json:"NextToken"`
	}
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	if in.MaxResults <= 0 || in.MaxResults > 25 {
		in.MaxResults = 25
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var arns []string
	for arn, e := range s.exports {
		if (in.TableArn == "" || e.tableArn == in.TableArn) && (in.NextToken == "" || arn < in.NextToken) {
			arns = append(arns, arn)
		}
	}
	// "in reverse alphanumeric order of ExportArn"
	slices.Sort(arns)
	slices.Reverse(arns)
	type summary struct {
		ExportArn    string `json:"ExportArn"`
		ExportStatus string `json:"ExportStatus"`
		ExportType   string `json:"ExportType"`
	}
	out := struct {
		ExportSummaries []summary `json:"ExportSummaries"`
		NextToken       string    `json:"NextToken,omitempty"`
	}{ExportSummaries: []summary{}}
	for i, arn := range arns {
		if i == in.MaxResults {
			out.NextToken = arns[i-1]
			break
		}
		status, _ := s.statusLocked(s.exports[arn])
		out.ExportSummaries = append(out.ExportSummaries, summary{arn, status, s.exports[arn].exportType})
	}
	return out, nil
}

// errForgotten refuses an export as of at, before the versions the
// emulator no longer keeps ([WithLatestVersionsOnly]).
func errForgotten(table string, at, forgotten time.Time) error {
	return fmt.Errorf("exporting %s as of %s: the emulator keeps only the latest versions, and forgot older ones at %s",
		table, at.Format(time.RFC3339Nano), forgotten.Format(time.RFC3339Nano))
}
