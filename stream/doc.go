// Package stream reads DynamoDB Streams for ddbsync's follower: it lists a
// stream's shards, orders them by lineage, reads one shard at a time with the
// retry and gap rules of the design, and computes the watermark from the
// progress of every shard. It knows nothing of PostgreSQL: the caller (package
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
//   - [ComputeWatermark] is the watermark rule: the minimum, over unfinished
//     shards, of their read position's time.
//   - [CompareSequenceNumbers] compares sequence numbers numerically, the only
//     correct way (they are decimal strings of up to 40 digits, of varying
//     length, and not contiguous).
//
// # A follower loop
//
//	desc, err := stream.Describe(ctx, api, arn)
//	if err := stream.CheckViewType(desc.ViewType); err != nil { ... }
//	lin, err := stream.NewShardLineage(desc.Shards)
//	for _, o := range lin.Orphans(finished) { ... decide: refuse or --accept-gap }
//	for _, id := range lin.Ready(finished) {
//		start := stream.TrimHorizon()          // or AfterSequenceNumber(checkpoint)
//		r, err := stream.NewShardReader(api, arn, id, start,
//			stream.WithSkipBefore(exportTime.Add(-5*time.Minute)))
//		for {
//			page, err := r.Next(ctx)       // a *GapError stops the follower
//			// apply page.Changes and checkpoint page.Position in one transaction
//			states[id] = page.State
//			if page.Finished { finished[id] = true; break } // children may now be ready
//		}
//	}
//	w := stream.ComputeWatermark(statesOfUnfinishedShards) // publish max(previous, w.Time)
//
// Nothing here logs per record; retries are counted per cause
// ([ShardReader.Retries]) and reported to an optional hook ([WithRetryHook]).
package stream
