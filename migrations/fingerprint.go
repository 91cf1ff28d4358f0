package migrations

import (
	"crypto/sha256"
	_ "embed" // for upSource
	"encoding/hex"
	"fmt"
	"io/fs"
	"sync"
)

// upSource is the code of [Up], which runs statements of its own (the
// schema) besides the migration files.
//
//go:embed migrations.go
var upSource []byte

var fingerprint = sync.OnceValue(func() string {
	h := sha256.New()
	entries, err := fs.ReadDir(files, ".")
	if err != nil {
		panic(fmt.Sprintf("migrations: reading the embedded files: %v", err))
	}
	for _, e := range entries {
		b, err := files.ReadFile(e.Name())
		if err != nil {
			panic(fmt.Sprintf("migrations: reading %s: %v", e.Name(), err))
		}
		fmt.Fprintf(h, "%s\x00%d\x00", e.Name(), len(b))
		h.Write(b)
	}
	fmt.Fprintf(h, "migrations.go\x00%d\x00", len(upSource))
	h.Write(upSource)
	return hex.EncodeToString(h.Sum(nil))
})

// Fingerprint is a hex SHA-256 of the embedded migration files (names and
// contents, in order) and of the code of [Up]: it changes whenever a
// migration is added or edited, or Up changes what it runs. Tests key their
// migrated template databases on it. Safe for concurrent use.
func Fingerprint() string { return fingerprint() }
