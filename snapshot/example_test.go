package snapshot_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
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

// Write a small incremental export, then open it, verify it and read its
// changes: one per item written in the window.
func ExampleOpenIncremental() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "export")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	from := time.Date(2024, 1, 2, 3, 0, 0, 0, time.UTC)
	// The sink is the AWSDynamoDB folder: the manifests go to <ExportId>/,
	// the data files to the shared data/.
	w, err := snapshot.NewIncrementalWriter(ctx, snapshot.DirSink(dir), snapshot.IncrementalWriterConfig{
		TableArn: "arn:aws:dynamodb:eu-west-2:123456789012:table/Books",
		From:     from, To: from.Add(time.Hour), Files: 1,
	})
	if err != nil {
		panic(err)
	}
	key := ddbjson.Item{"id": &types.AttributeValueMemberN{Value: "1"}}
	for _, c := range []snapshot.Change{
		{Keys: key, WriteTime: from.Add(time.Minute + 123456*time.Microsecond),
			OldImage: key, NewImage: ddbjson.Item{"id": key["id"], "title": &types.AttributeValueMemberS{Value: "Dune"}}},
		{Keys: ddbjson.Item{"id": &types.AttributeValueMemberN{Value: "2"}}, WriteTime: from.Add(2 * time.Minute),
			OldImage: ddbjson.Item{"id": &types.AttributeValueMemberN{Value: "2"}}},
	} {
		if err := w.Write(c); err != nil {
			panic(err)
		}
	}
	if _, err := w.Close(ctx); err != nil {
		panic(err)
	}

	src, err := snapshot.NewDirSource(filepath.Join(dir, w.ExportID()))
	if err != nil {
		panic(err)
	}
	e, err := snapshot.OpenIncremental(ctx, src)
	if err != nil {
		panic(err)
	}
	fmt.Println(e.Summary.TableName(), e.View, e.From.Format(time.TimeOnly), "to", e.To.Format(time.TimeOnly))
	for _, f := range e.Files {
		r, err := e.OpenFile(ctx, f)
		if err != nil {
			panic(err)
		}
		for r.Next() {
			c := r.Change()
			fmt.Println(c.Keys["id"].(*types.AttributeValueMemberN).Value, c.WriteTime.Format(time.StampMicro), "deleted:", c.Deleted())
		}
		if err := r.Err(); err != nil {
			panic(err)
		}
		r.Close()
	}
	// Output:
	// Books NEW_AND_OLD_IMAGES 03:00:00 to 04:00:00
	// 1 Jan  2 03:01:00.123456 deleted: false
	// 2 Jan  2 03:02:00.000000 deleted: true
}
