package diff_test

import (
	"os"
	"testing"

	"github.com/ddbsync/ddbsync/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
