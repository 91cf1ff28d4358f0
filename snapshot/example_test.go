package snapshot_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
	"github.com/ddbsync/ddbsync/snapshot"
)

// Write a small export in the AWS layout, then open it, verify it and read
// its items back.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "export")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	w, err := snapshot.NewWriter(ctx, snapshot.DirSink(dir), snapshot.WriterConfig{
		TableArn:   "arn:aws:dynamodb:eu-west-2:123456789012:table/Books",
		ExportTime: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC),
		Files:      2,
	})
	if err != nil {
		panic(err)
	}
	for _, id := range []string{"1", "2", "3"} {
		if err := w.Write(ddbjson.Item{"id": &types.AttributeValueMemberN{Value: id}}); err != nil {
			panic(err)
		}
	}
	if _, err := w.Close(ctx); err != nil {
		panic(err)
	}

	src, err := snapshot.NewDirSource(dir)
	if err != nil {
		panic(err)
	}
	e, err := snapshot.Open(ctx, src)
	if err != nil {
		panic(err)
	}
	fmt.Println(e.Summary.TableName(), e.Summary.ItemCount, "items in", len(e.Files), "files; verified", e.Verified)
	for _, f := range e.Files {
		r, err := e.OpenFile(ctx, f)
		if err != nil {
			panic(err)
		}
		for r.Next() {
			fmt.Println(r.Item()["id"].(*types.AttributeValueMemberN).Value)
		}
		if err := r.Err(); err != nil {
			panic(err)
		}
		r.Close()
	}
	// Output:
	// Books 3 items in 2 files; verified [manifest-summary.checksum manifest-files.checksum]
	// 1
	// 3
	// 2
}
