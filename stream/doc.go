// Package stream reads DynamoDB Streams for ddbsync's follower: it lists a
// stream's shards, orders them by lineage, reads one shard at a time with the
// retry and gap rules of the design, and decides the watermark from the
// listings and the progress of every shard. It knows nothing of PostgreSQL: the caller (package
// reconcile) applies each [Page] of [Change]s and stores the shard's
// checkpoint in the same transaction.
//
// # Pieces
//
//   - [API] is the three DynamoDB Streams calls the package makes;
//     *dynamodbstreams.Client satisfies it, and tests pass a fake.
//   - [Describe] pages DescribeStream until LastEvaluatedShardId is empty and
//     returns a [Description] with every shard. [CheckViewType] refuses
//     streams whose records carry no new image.
//   - [ShardLineage] is a pure view of the shard listing: parents before
//     children ([ShardLineage.Order]), the shards ready to read given the
//     finished ones ([ShardLineage.Ready]), and orphans whose parent is gone
//     without our having finished it ([ShardLineage.Orphans]), the structural
//     gap case the caller must decide on.
//   - [ShardReader] reads one shard from a [Position] ([TrimHorizon] or
//     [AfterSequenceNumber]) and returns [Page]s. It renews expired iterators,
//     backs off on throttling and server errors, decides when an open shard is
//     caught up, and turns lost data into a [*GapError] wrapping [ErrGap].
//   - [Tracker] decides the watermark W, in one place: fed the listings and
//     each page's [ShardState], it returns W, never earlier than before. Its
//     doc gives every rule (finished shards whose children are not listed
//     yet, caught-up shards that have closed, shards not read yet).
//   - [CompareSequenceNumbers] compares sequence numbers numerically, the only
//     correct way (they are decimal strings of up to 40 digits, of varying
//     length, and not contiguous).
//
// # A follower loop
//
//	tracker := stream.NewTracker(s)         // S = exportTime − 5 min on the first run; on resume, the stored S
//	tracker.Resume(publishedW)               // on resume: W never goes back
//	for _, id := range finishedInCheckpoints { tracker.Finished(id) }
//	listedAt := now()                        // before the call
//	desc, err := stream.Describe(ctx, api, arn)
//	if err := stream.CheckViewType(desc.ViewType); err != nil { ... }
//	lin, err := stream.NewShardLineage(desc.Shards)
//	tracker.Listed(listedAt, shardsOf(lin)...) // again after every listing (periodically, and when a shard finishes)
//	for _, o := range lin.Orphans(finished) { ... decide: refuse, or accept the gap }
//	for _, id := range lin.Ready(finished) {  // each in its own goroutine; one goroutine feeds the tracker
//		pos := stream.TrimHorizon()            // or AfterSequenceNumber(checkpoint)
//		r, err := stream.NewShardReader(api, arn, id, pos, stream.WithSkipBefore(s))
//		for {
//			page, err := r.Next(ctx)       // a *GapError stops the follower
//			// apply page.Changes and checkpoint page.Position in one transaction
//			tracker.Read(page.State)
//			if w := tracker.Watermark(now()); w.Time.After(published) { publish w.Time }
//			if page.Finished { finished[id] = true; break } // list again: children may now be ready
//		}
//	}
//
// Nothing here logs per record; retries are counted per cause
// ([ShardReader.Retries]) and reported to an optional hook ([WithRetryHook]).
package stream
