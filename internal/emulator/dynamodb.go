package emulator

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
)

// dynamoDB dispatches one DynamoDB_20120810 operation.
func (s *Server) dynamoDB(op string, body []byte, _ FaultKind) ([]byte, error) {
	var h func([]byte) (any, error)
	switch op {
	case "CreateTable":
		h = s.createTable
	case "DescribeTable":
		h = s.describeTable
	case "UpdateTable":
		h = s.updateTable
	case "DeleteTable":
		h = s.deleteTable
	case "ListTables":
		h = s.listTables
	case "PutItem":
		h = s.putItem
	case "GetItem":
		h = s.getItem
	case "UpdateItem":
		h = s.updateItem
	case "DeleteItem":
		h = s.deleteItem
	case "BatchGetItem":
		h = s.batchGetItem
	case "BatchWriteItem":
		h = s.batchWriteItem
	case "Scan":
		h = s.scan
	case "UpdateContinuousBackups":
		h = s.updateContinuousBackups
	case "DescribeContinuousBackups":
		h = s.describeContinuousBackups
	case "UpdateTimeToLive":
		h = s.updateTimeToLive
	case "DescribeTimeToLive":
		h = s.describeTimeToLive
	case "ExportTableToPointInTime":
		h = s.exportTableToPointInTime
	case "DescribeExport":
		h = s.describeExport
	case "ListExports":
		h = s.listExports
	default:
		return nil, errUnknownOperation(dynamoDBTarget + op)
	}
	out, err := h(body)
	if err != nil {
		return nil, err
	}
	return encodeResponse(out)
}

type attributeDefinition struct {
	AttributeName string `json:"AttributeName"`
	AttributeType string `json:"AttributeType"`
}

type keySchemaElement struct {
	AttributeName string `json:"AttributeName"`
	KeyType       string `json:"KeyType"`
}

type streamSpecification struct {
	StreamEnabled  bool   `json:"StreamEnabled"`
	StreamViewType string `json:"StreamViewType,omitempty"`
}

type tableDescription struct {
	TableName            string                `json:"TableName"`
	TableArn             string                `json:"TableArn"`
	TableId              string                `json:"TableId"`
	TableStatus          string                `json:"TableStatus"`
	CreationDateTime     *epoch                `json:"CreationDateTime,omitempty"`
	KeySchema            []keySchemaElement    `json:"KeySchema"`
	AttributeDefinitions []attributeDefinition `json:"AttributeDefinitions"`
	ItemCount            int64                 `json:"ItemCount"`
	TableSizeBytes       int64                 `json:"TableSizeBytes"`
	BillingModeSummary   *struct {
		BillingMode string `json:"BillingMode"`
	} `json:"BillingModeSummary,omitempty"`
	ProvisionedThroughput struct {
		ReadCapacityUnits  int64 `json:"ReadCapacityUnits"`
		WriteCapacityUnits int64 `json:"WriteCapacityUnits"`
	} `json:"ProvisionedThroughput"`
	StreamSpecification *streamSpecification `json:"StreamSpecification,omitempty"`
	LatestStreamArn     string               `json:"LatestStreamArn,omitempty"`
	LatestStreamLabel   string               `json:"LatestStreamLabel,omitempty"`
}

func (s *Server) describeLocked(t *table, status string) tableDescription {
	d := tableDescription{
		TableName:            t.name,
		TableArn:             t.arn,
		TableId:              t.id,
		TableStatus:          status,
		CreationDateTime:     epochPtr(t.created),
		AttributeDefinitions: t.attrDefs,
		ItemCount:            int64(t.live),
		TableSizeBytes:       t.size,
	}
	d.KeySchema = append(d.KeySchema, keySchemaElement{t.keys.Hash.Name, "HASH"})
	if t.keys.Range.Name != "" {
		d.KeySchema = append(d.KeySchema, keySchemaElement{t.keys.Range.Name, "RANGE"})
	}
	if t.billingMode == "PAY_PER_REQUEST" {
		d.BillingModeSummary = &struct {
			BillingMode string `json:"BillingMode"`
		}{"PAY_PER_REQUEST"}
	} else {
		d.ProvisionedThroughput.ReadCapacityUnits = 5
		d.ProvisionedThroughput.WriteCapacityUnits = 5
	}
	if st := t.stream; st != nil {
		d.LatestStreamArn, d.LatestStreamLabel = st.arn, st.label
		if st.enabled {
			d.StreamSpecification = &streamSpecification{StreamEnabled: true, StreamViewType: st.viewType}
		}
	}
	return d
}

type tableRequest struct {
	TableName            string                `json:"TableName"`
	KeySchema            []keySchemaElement    `json:"KeySchema"`
	AttributeDefinitions []attributeDefinition `json:"AttributeDefinitions"`
	BillingMode          string                `json:"BillingMode"`
	StreamSpecification  *streamSpecification  `json:"StreamSpecification"`
}

type tableResponse struct {
	TableDescription *tableDescription `json:"TableDescription,omitempty"`
	Table            *tableDescription `json:"Table,omitempty"`
}

func (s *Server) createTable(body []byte) (any, error) {
	var in tableRequest
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	keys, err := parseKeySchema(in.KeySchema, in.AttributeDefinitions)
	if err != nil {
		return nil, err
	}
	if len(in.TableName) < 3 || len(in.TableName) > 255 {
		return nil, errValidation("TableName must be 3 to 255 characters long")
	}
	if spec := in.StreamSpecification; spec != nil && spec.StreamEnabled {
		if err := checkViewType(spec.StreamViewType); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.tables[in.TableName]; ok {
		return nil, errInUse("Table already exists: %s", in.TableName)
	}
	arn := "arn:aws:dynamodb:" + s.cfg.region + ":" + s.cfg.accountID + ":table/" + in.TableName
	t := &table{
		name:        in.TableName,
		arn:         arn,
		id:          tableID(arn + s.clock.Now().String()),
		created:     s.clock.Now(),
		keys:        keys,
		attrDefs:    in.AttributeDefinitions,
		billingMode: in.BillingMode,
		items:       make(map[string]*history),
	}
	s.tables[t.name] = t
	if spec := in.StreamSpecification; spec != nil && spec.StreamEnabled {
		s.newStreamLocked(t, spec.StreamViewType, s.cfg.shards)
	}
	d := s.describeLocked(t, "ACTIVE")
	return tableResponse{TableDescription: &d}, nil
}

func parseKeySchema(ks []keySchemaElement, defs []attributeDefinition) (ddbjson.KeySchema, error) {
	var keys ddbjson.KeySchema
	typeOf := func(name string) (ddbjson.ScalarType, error) {
		for _, d := range defs {
			if d.AttributeName == name {
				switch t := ddbjson.ScalarType(d.AttributeType); t {
				case ddbjson.TypeS, ddbjson.TypeN, ddbjson.TypeB:
					return t, nil
				}
				return "", errValidation("invalid AttributeType %q for %s", d.AttributeType, name)
			}
		}
		return "", errValidation("One or more parameter values were invalid: key attribute %s has no AttributeDefinition", name)
	}
	for _, k := range ks {
		typ, err := typeOf(k.AttributeName)
		if err != nil {
			return keys, err
		}
		switch k.KeyType {
		case "HASH":
			keys.Hash = ddbjson.KeyAttribute{Name: k.AttributeName, Type: typ}
		case "RANGE":
			keys.Range = ddbjson.KeyAttribute{Name: k.AttributeName, Type: typ}
		default:
			return keys, errValidation("invalid KeyType %q", k.KeyType)
		}
	}
	if keys.Hash.Name == "" || len(ks) > 2 {
		return keys, errValidation("KeySchema needs one HASH and at most one RANGE key")
	}
	return keys, nil
}

func checkViewType(v string) error {
	switch v {
	case "KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES":
		return nil
	}
	return errValidation("invalid StreamViewType %q", v)
}

func (s *Server) describeTable(body []byte) (any, error) {
	var in tableRequest
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.tableLocked(in.TableName)
	if err != nil {
		return nil, err
	}
	d := s.describeLocked(t, "ACTIVE")
	return tableResponse{Table: &d}, nil
}

func (s *Server) updateTable(body []byte) (any, error) {
	var in tableRequest
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.tableLocked(in.TableName)
	if err != nil {
		return nil, err
	}
	if spec := in.StreamSpecification; spec != nil {
		if err := s.setStreamLocked(t, spec.StreamEnabled, spec.StreamViewType); err != nil {
			return nil, err
		}
	}
	if in.BillingMode != "" {
		t.billingMode = in.BillingMode
	}
	d := s.describeLocked(t, "ACTIVE")
	return tableResponse{TableDescription: &d}, nil
}

// setStreamLocked enables (a new stream, new ARN and label) or disables
// (open shards close; the records stay readable until retention) t's stream.
func (s *Server) setStreamLocked(t *table, enable bool, viewType string) error {
	enabled := t.stream != nil && t.stream.enabled
	switch {
	case enable && enabled:
		return errValidation("Table already has an enabled stream: %s", t.stream.arn)
	case !enable && !enabled:
		return errValidation("Table %s has no enabled stream to disable", t.name)
	case enable:
		if err := checkViewType(viewType); err != nil {
			return err
		}
		s.newStreamLocked(t, viewType, s.cfg.shards)
	default:
		s.disableStreamLocked(t.stream)
	}
	return nil
}

func (s *Server) disableStreamLocked(st *stream) {
	for _, sh := range st.shards {
		s.closeShardLocked(sh)
	}
	st.enabled = false
}

func (s *Server) deleteTable(body []byte) (any, error) {
	var in tableRequest
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.tableLocked(in.TableName)
	if err != nil {
		return nil, err
	}
	d := s.describeLocked(t, "DELETING")
	if t.stream != nil && t.stream.enabled {
		s.disableStreamLocked(t.stream)
	}
	delete(s.tables, t.name)
	return tableResponse{TableDescription: &d}, nil
}

func (s *Server) listTables(body []byte) (any, error) {
	var in struct {
		ExclusiveStartTableName string `json:"ExclusiveStartTableName"`
		Limit                   int    `json:"Limit"`
	}
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	if in.Limit <= 0 || in.Limit > 100 {
		in.Limit = 100
	}
	s.mu.Lock()
	var names []string
	for name := range s.tables {
		if name > in.ExclusiveStartTableName {
			names = append(names, name)
		}
	}
	s.mu.Unlock()
	slices.Sort(names)
	out := struct {
		TableNames             []string `json:"TableNames"`
		LastEvaluatedTableName string   `json:"LastEvaluatedTableName,omitempty"`
	}{TableNames: names}
	if len(names) > in.Limit {
		out.TableNames = names[:in.Limit]
		out.LastEvaluatedTableName = names[in.Limit-1]
	}
	if out.TableNames == nil {
		out.TableNames = []string{}
	}
	return out, nil
}

type pitrDescription struct {
	PointInTimeRecoveryStatus  string `json:"PointInTimeRecoveryStatus"`
	EarliestRestorableDateTime *epoch `json:"EarliestRestorableDateTime,omitempty"`
	LatestRestorableDateTime   *epoch `json:"LatestRestorableDateTime,omitempty"`
	RecoveryPeriodInDays       int    `json:"RecoveryPeriodInDays,omitempty"`
}

type continuousBackupsResponse struct {
	ContinuousBackupsDescription struct {
		ContinuousBackupsStatus        string          `json:"ContinuousBackupsStatus"`
		PointInTimeRecoveryDescription pitrDescription `json:"PointInTimeRecoveryDescription"`
	} `json:"ContinuousBackupsDescription"`
}

// pitrWindowLocked is the span an export may target: from when PITR was
// enabled (at most 35 days back) to now.
func (s *Server) pitrWindowLocked(t *table) (earliest, latest time.Time) {
	now := s.clock.Now()
	earliest = t.pitrSince
	if lim := now.Add(-35 * 24 * time.Hour); earliest.Before(lim) {
		earliest = lim
	}
	if earliest.Before(t.forgotten) {
		earliest = t.forgotten
	}
	return earliest, now
}

func (s *Server) continuousBackupsLocked(t *table) continuousBackupsResponse {
	var out continuousBackupsResponse
	out.ContinuousBackupsDescription.ContinuousBackupsStatus = "ENABLED"
	d := &out.ContinuousBackupsDescription.PointInTimeRecoveryDescription
	d.PointInTimeRecoveryStatus = "DISABLED"
	if t.pitr {
		earliest, latest := s.pitrWindowLocked(t)
		d.PointInTimeRecoveryStatus = "ENABLED"
		d.EarliestRestorableDateTime = epochPtr(earliest)
		d.LatestRestorableDateTime = epochPtr(latest)
		d.RecoveryPeriodInDays = 35
	}
	return out
}

func (s *Server) updateContinuousBackups(body []byte) (any, error) {
	var in struct {
		TableName                        string `json:"TableName"`
		PointInTimeRecoverySpecification struct {
			PointInTimeRecoveryEnabled bool `json:"PointInTimeRecoveryEnabled"`
		} `json:"PointInTimeRecoverySpecification"`
	}
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.tables[in.TableName], error(nil)
	if t == nil {
		err = newAPIError(400, "TableNotFoundException", "Table not found: %s", in.TableName)
		return nil, err
	}
	enable := in.PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled
	if enable && !t.pitr {
		t.pitrSince = s.clock.Now()
	}
	t.pitr = enable
	return s.continuousBackupsLocked(t), nil
}

func (s *Server) describeContinuousBackups(body []byte) (any, error) {
	var in tableRequest
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tables[in.TableName]
	if t == nil {
		return nil, newAPIError(400, "TableNotFoundException", "Table not found: %s", in.TableName)
	}
	return s.continuousBackupsLocked(t), nil
}

type ttlSpecification struct {
	Enabled       bool   `json:"Enabled"`
	AttributeName string `json:"AttributeName"`
}

func (s *Server) updateTimeToLive(body []byte) (any, error) {
	var in struct {
		TableName               string           `json:"TableName"`
		TimeToLiveSpecification ttlSpecification `json:"TimeToLiveSpecification"`
	}
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.tableLocked(in.TableName)
	if err != nil {
		return nil, err
	}
	t.ttlAttr = ""
	if in.TimeToLiveSpecification.Enabled {
		t.ttlAttr = in.TimeToLiveSpecification.AttributeName
	}
	return map[string]any{"TimeToLiveSpecification": in.TimeToLiveSpecification}, nil
}

func (s *Server) describeTimeToLive(body []byte) (any, error) {
	var in tableRequest
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.tableLocked(in.TableName)
	if err != nil {
		return nil, err
	}
	d := map[string]string{"TimeToLiveStatus": "DISABLED"}
	if t.ttlAttr != "" {
		d = map[string]string{"TimeToLiveStatus": "ENABLED", "AttributeName": t.ttlAttr}
	}
	return map[string]any{"TimeToLiveDescription": d}, nil
}

// rawItem is an item-valued request member, decoded later against a table.
type rawItem = json.RawMessage
