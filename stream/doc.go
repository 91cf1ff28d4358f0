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
//     gap case the caller must decide on. [Orphan.ParentClosedBefore] settles
//     it from the orphan's id when the id proves the parent closed before the
//     replay start ([ShardCreated] reads the creation time AWS's shard ids
//     are observed to carry).
//   - [ShardReader] reads one shard from a [Position] ([TrimHorizon] or
//     [AfterSequenceNumber]) and returns [Page]s. It renews expired iterators,
//     backs off on throttling and server errors, decides when an open shard is
//     caught up, and turns lost data into a [*GapError] wrapping [ErrGap].
//   - [Tracker] decides the watermark W, in one place: fed the listings and
//     each page's [ShardState], it returns W, never earlier than before, and
//     says when a fresh listing would move W on ([Tracker.ListingDue]). Its
//     doc gives every rule and what in the Streams API each rests on.
//   - [CompareSequenceNumbers] compares sequence numbers numerically, the only
//     correct way (they are decimal strings of up to 40 digits, of varying
//     length, and not contiguous).
//
// # What the watermark rests on
//
// AWS never says that an open shard was read to its end, and does not
// promise when a change shows in the stream or in what order of creation
// times. W rests on three assumptions, each an option with a default chosen
// in options.go: at most k−1 spurious empty pages in a row
// ([WithCaughtUpRule], k = 5 over 1 s); a change shows in its shard, and a
// closing in DescribeStream, within the propagation margin
// ([WithPropagationMargin], 0.5 s); a record is never dated more than the
// tolerance before one ahead of it in its lineage
// ([WithCreationTimeTolerance], 1 s). On a quiet table W trails the present
// by about the caught-up run (1 s), the margin and a second of rounding,
// under 3 s, provided the follower lists the stream when
// [Tracker.ListingDue] says so; under steady writes, by about the tolerance
// and the rounding.
//
// # A follower loop
//
//	tracker := stream.NewTracker(s)         // S = exportTime − 5 min on the first run; on resume, the stored S
//	tracker.Resume(publishedW)               // on resume: W never goes back
//	for _, id := range finishedInCheckpoints { tracker.Finished(id) }
//	list := func() {                         // at start, every discover interval, when a shard finishes,
//		listedAt := now()                    // and when tracker.ListingDue(); before the call, on the readers' clock
//		desc, err := stream.Describe(ctx, paced(api), arn) // DescribeStream: 10 calls/s; ddbsync's followers share 5
//		if err := stream.CheckViewType(desc.ViewType); err != nil { ... }
//		lin, err := stream.NewShardLineage(desc.Shards)
//		tracker.Listed(listedAt, shardsOf(lin)...)
//		for _, o := range lin.Orphans(finished) {
//			if o.ParentClosedBefore(s) { continue } // its id proves nothing of the parent is needed
//			// else: check the orphan's first record before applying it
//			// (Page.FirstRecordTime <= S), or refuse, or accept the gap
//		}
//	}
//	for _, id := range lin.Ready(finished) {  // each in its own goroutine; one goroutine feeds the tracker
//		pos := stream.TrimHorizon()            // or AfterSequenceNumber(checkpoint)
//		r, err := stream.NewShardReader(api, arn, id, pos, stream.WithSkipBefore(s), stream.WithClock(now))
//		for {
//			page, err := r.Next(ctx)       // a *GapError stops the follower
//			// apply page.Changes and checkpoint page.Position in one transaction
//			page.Release()                 // its changes' strings are its memory's: copy what must outlive it
//			tracker.Read(page.State)
//			if w := tracker.Watermark(now()); w.Time.After(published) { publish w.Time }
//			if tracker.ListingDue() { list() }  // paced: at most one listing a second per table
//			if page.Finished { finished[id] = true; list(); break } // its children may now be ready
//		}
//	}
//
// Nothing here logs per record; retries are counted per cause
// ([ShardReader.Retries]) and reported to an optional hook ([WithRetryHook]).
package stream
