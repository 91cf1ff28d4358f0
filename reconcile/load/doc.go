// Package load loads a verified DynamoDB export into PostgreSQL and
// publishes it as the table's copy: its one job.
//
// [Run] (load.go) copies each data file of an export into an unpublished
// load table, one transaction per file together with its bookkeeping row,
// so an interrupted load resumes where it stopped; publish.go then adds
// the primary key and makes the load table the data table, all-or-nothing,
// keeping what users built on the previous copy. With [Config.Worker],
// several processes run [Run] on one export together: each file is copied
// by whichever process first takes its lock, a dead process's files are
// copied by another once PostgreSQL has ended its session, and exactly one
// of them publishes (publishAsWorker). [Abandon] drops an
// unfinished load. [RunIncremental] (incremental.go) applies an incremental
// export onto the published copy instead: staged per file the same way,
// then applied in one transaction that also moves the copy's instant to the
// export's end. Every statement is [store]'s; the errors callers branch on
// are [reconcile]'s.
package load
