package follow_test

import (
	"os"
	"testing"

	"github.com/ddbsync/ddbsync/internal/awstest"
	"github.com/ddbsync/ddbsync/internal/pgtest"
)

func TestMain(m *testing.M) {
	awstest.Prestart() // for TestFollow_EndToEndOnExternalEndpoint
	code := pgtest.Main(m)
	awstest.Stop()
	os.Exit(code)
}
