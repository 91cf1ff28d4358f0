package cli_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/pgtest"
	"github.com/ddbsync/ddbsync/internal/tenure"
)

// TestViews_WrittenByLoadAndKeptByFollow: with views: true, load writes
// the typed views after publishing, and follow --until-caught-up leaves
// them with the attribute its stream brought.
func TestViews_WrittenByLoadAndKeptByFollow(t *testing.T) {
	t.Parallel()
	emu, _ := emulatedTable(t, 10)
	dir := t.TempDir()
	_, err := emu.ExportToDir(t.Context(), tenure.TableName, emu.Clock().Now(), dir)
	require.NoError(t, err)
	db := pgtest.URL(t)
	cfg := writeConfig(t, `
database_url: `+db+`
endpoint_url: `+emu.URL()+`
tables:
  - name: TenureInformation
    key: id
    export: `+dir+`
    views: true
    views_schema: housing_views
`)
	code, out, errOut := run(t, "load", "--config", cfg, "--progress", "none")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "TenureInformation: read 10 items (all of them)")
	require.Contains(t, out, `"housing_views"."tenure_information": created`)
	require.Contains(t, out, `"housing_views"."tenure_information__household_members": created`)

	item := tenure.NewGenerator(9).Item()
	item["riskFlag"] = &types.AttributeValueMemberBOOL{Value: true}
	_, err = emu.DynamoDB().PutItem(t.Context(), &dynamodb.PutItemInput{TableName: aws.String(tenure.TableName), Item: item})
	require.NoError(t, err)
	code, _, errOut = run(t, "follow", "--config", cfg, "--table", tenure.TableName, "--until-caught-up", "--poll-interval", "10ms")
	require.Equal(t, 0, code, errOut)
	var flagged int
	execQuery(t, db, `SELECT count(*) FROM housing_views.tenure_information WHERE risk_flag`, &flagged)
	require.Equal(t, 1, flagged)

	code, out, errOut = run(t, "views", "--config", cfg, "--sample", "0")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "TenureInformation: read 11 items (all of them)")
	require.Contains(t, out, `"housing_views"."tenure_information": up to date, `)
}
