package cli

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/logging"

	"github.com/ddbsync/ddbsync/reconcile"
)

// awsConfig loads the standard AWS configuration chain (environment, shared
// files, SSO, instance roles), with --region and --endpoint-url on top.
func (g *globals) awsConfig(ctx context.Context) (aws.Config, error) {
	// The SDK's own warnings (IMDS fallbacks while looking for credentials,
	// a response body left unread when a follow stops) are not the user's
	// concern: they go to our log at debug level.
	opts := []func(*config.LoadOptions) error{config.WithLogger(sdkLogger{g.logger})}
	if g.region != "" {
		opts = append(opts, config.WithRegion(g.region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("loading AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	// Ask for credentials now, so that their absence is said plainly rather
	// than inside the first request's error. They are cached for later.
	if cfg.Credentials != nil {
		if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
			hint := ""
			if g.endpointURL != "" {
				hint = "; an emulator (moto, LocalStack) takes any, e.g. AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test"
			}
			return aws.Config{}, fmt.Errorf("no AWS credentials: the standard chain (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "+
				"AWS_PROFILE and the shared files, SSO, a container or instance role) found none%s (%w)", hint, err)
		}
	}
	return cfg, nil
}

// sdkLogger hands the AWS SDK's log lines to slog at debug level.
type sdkLogger struct{ log *slog.Logger }

func (l sdkLogger) Logf(class logging.Classification, format string, v ...any) {
	if l.log != nil {
		l.log.Debug(fmt.Sprintf(format, v...), "source", "aws-sdk", "sdk_level", string(class))
	}
}

// dynamodbClient keeps the SDK's standard retryer: ddbsync does not retry
// DynamoDB calls itself (DescribeTable, ExportTableToPointInTime, and diff's
// Scan, whose --max-rcu limiter paces reads but retries nothing), so the
// SDK's retries are the only ones, and they do not stack.
func (g *globals) dynamodbClient(cfg aws.Config) *dynamodb.Client {
	return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		if g.endpointURL != "" {
			o.BaseEndpoint = aws.String(g.endpointURL)
		}
	})
}

func (g *globals) s3Client(cfg aws.Config) *s3.Client {
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		if g.endpointURL != "" {
			o.BaseEndpoint = aws.String(g.endpointURL)
			o.UsePathStyle = true // S3-compatible servers rarely do virtual hosts
		}
	})
}

// shortTimeout bounds calls that only help (DescribeTable for a key we
// could be told), so an unreachable AWS fails fast instead of retrying.
const shortTimeout = 15 * time.Second

// keyFromDescription reads a table's key schema from DescribeTable output.
func keyFromDescription(t *ddbtypes.TableDescription) (reconcile.KeySchema, error) {
	if t == nil {
		return reconcile.KeySchema{}, fmt.Errorf("DescribeTable returned no table")
	}
	types := make(map[string]string)
	for _, d := range t.AttributeDefinitions {
		types[aws.ToString(d.AttributeName)] = string(d.AttributeType)
	}
	var key reconcile.KeySchema
	for _, e := range t.KeySchema {
		a := reconcile.KeyAttribute{Name: aws.ToString(e.AttributeName), Type: types[aws.ToString(e.AttributeName)]}
		switch e.KeyType {
		case ddbtypes.KeyTypeHash:
			key.Hash = a
		case ddbtypes.KeyTypeRange:
			key.Range = a
		}
	}
	if key.Hash.Name == "" || !key.Typed() {
		return key, fmt.Errorf("table %s has an incomplete key schema", aws.ToString(t.TableName))
	}
	return key, nil
}
