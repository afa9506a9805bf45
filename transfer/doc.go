// Package transfer is Aqueduct's parallel transfer engine: it fetches
// objects from several upstream nodes over many peer connections at once
// and hands each consumer an in-order stream.
//
// An object is cut into blocks (see package object). The engine keeps a pool
// of Config.Conns connections spread over the upstreams. Consumers open an
// object ([Engine.Open]) and read a byte range of it ([Object.NewReader]).
// Each reader asks for the blocks of its range, at most Config.Window bytes
// ahead of what its consumer has read; the engine queues the wanted blocks in
// the order they were asked for and gives the next one to whichever
// connection has room for another request, so a faster connection carries
// more blocks. Blocks come back out of order; the reader keeps them in its
// reorder buffer (the MPQueue of seed 001) and releases the in-order prefix
// as soon as it is contiguous, so the consumer gets its first bytes after the
// first block, not after the whole range.
//
// Every block is checked against the object's block hashes before anyone
// sees it. An upstream that sends a bad block is banned for a while (all its
// connections are closed and its blocks fetched again elsewhere); a
// connection that fails or stalls has its blocks reassigned; an upstream
// that cannot be reached loses its share of connections to the others until
// a probe succeeds. When one block holds back a reader and a connection is
// idle, the block is also requested on that connection and the slower copy
// is cancelled.
//
// Blocks that many readers want at once are fetched once. With a
// [store.Store] in the Config, verified blocks are written to disk and later
// readers are served from there.
//
// An object's description is trusted for Config.ManifestTTL, then asked
// for again. When no upstream can be reached to revalidate it (or one
// answers that it cannot for now), the engine serves the description it
// has for up to Config.StaleIfError past its last fetch, the idea of RFC
// 5861's stale-if-error: its blocks are verified as ever, [Object.Stale]
// says so, and a relay passes it on downstream (wire.Object.Stale). An
// upstream that answers NOT_FOUND or any other refusal is believed. Opens
// that find every upstream down ask for them to be redialed at once
// rather than after their backoff, at most once a second each. An open is
// hedged: with no answer after 750 ms (or four round trips), it is also
// sent on another connection, another upstream's if there is one, and the
// first answer wins; an upstream that is connected but frozen holds no
// open for the whole OpenTimeout.
//
// # Structure
//
// The decisions are made by a scheduler (package transfer/internal/sched),
// a pure state machine in the manner of etcd's raft RawNode: it takes
// events (a block is wanted, a request finished or failed, a connection came
// up or died, time passed) and returns a batch of actions (dial, send a
// request, cancel one, close a connection, fail a block) and the next
// deadline. It reads no clock and owns no goroutines, so tests drive it with
// scripted events.
//
// [Engine] is the driver: one goroutine owns the scheduler and applies its
// actions to real connections (package peer); each connection's read loop
// copies DATA into block buffers, verifies finished blocks and reports back.
// Readers block only in their own Read calls.
//
// # Bounds
//
// Memory: each reader holds at most Config.Window bytes of blocks, and all
// readers together at most Config.MemoryLimit (a reader waits for room before
// it asks for a block, in block order, so the block a reader needs next
// always gets room first). Blocks ahead of a reader's next one may use only
// three quarters of MemoryLimit, so that readers whose consumers stopped
// cannot starve the others of their next blocks. Requests in flight: Config.Pipeline per
// connection. Nothing grows with object size.
//
// # Caller's duties
//
//  1. Create the Engine with New and Close it when done; Close stops every
//     goroutine and closes every connection.
//  2. Open objects with Engine.Open; an Object stays valid after the manifest
//     cache forgets it.
//  3. Close every Reader; a Reader that is not closed holds its window.
package transfer
