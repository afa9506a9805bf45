// Package store is the on-disk block cache that relays and edges share: it
// keeps blocks of objects in a directory, within a byte budget, and evicts
// the least recently used objects to stay within it.
//
// An object is identified by its 32-byte digest and cut into blocks of one
// size B (a power of two; the last block may be short), as described in
// docs/protocol.md ("Objects, digests and blocks"). The store knows nothing
// of hashes, block sizes or metadata: it keeps the bytes it is given under
// (digest, block index) and gives them back. It is safe for concurrent use.
//
// # Caller's duties
//
//  1. Verify every block against its hash before [Store.Put]. The store
//     trusts what it is given.
//  2. Verify every block that [Store.Get] returns, exactly as if it came
//     from the network. Disks rot, files are edited by hand, and after a
//     power loss a block file may hold garbage (see "Crashes" below). When a
//     block fails verification, call [Store.Remove] and fetch it elsewhere.
//  3. Treat every failure as a cache miss. Get reports a read error as a
//     miss (it logs it and drops the block). A Put error means only that the
//     block was not cached: the caller carries on without the cache. Test
//     for [ErrNoSpace] to notice a full disk and [ErrClosed] for a closed
//     store, with errors.Is.
//  4. Give Get a buffer of at least the block's length: B is always enough.
//     A buffer that is too short is treated as a read error (a miss, and the
//     block is dropped), because the store cannot tell a caller's bug from a
//     damaged file.
//  5. Call [Store.Close] once no more calls are coming. It waits for calls
//     in flight, saves the LRU order and releases the directory. Every method
//     is safe after Close: Put returns ErrClosed, Get and Has miss, Remove
//     and RemoveObject do nothing.
//
// # On-disk layout
//
//	Dir/
//	  lock                  held with flock(2) while a Store has Dir open
//	  lru                   LRU order written by Close, read and deleted by Open
//	  objects/
//	    3f/                 first two hex digits of the digest
//	      3fa2…e1/          the whole digest, 64 lower-case hex digits
//	        0.blk           block 0: its bytes, nothing else
//	        1.blk
//	        41.blk          the index in decimal, without leading zeros
//	        7.blk.182736455.tmp   a block being written
//
// A block file holds the block's bytes and nothing else, so `ls -l` shows
// what is cached and `sha256sum 3.blk` checks a block by hand. Block
// lengths are the files' lengths; no metadata file exists. The lru file is
// text: a header line ("aqueduct store lru 1"), then one digest per line in
// hex, least recently used first.
//
// Put writes a block to a temporary file in the object's directory, closes
// it and renames it to its final name, so a block file that exists is
// complete: a write cut short by a crash leaves only a *.tmp file, never a
// torn block. Open deletes the *.tmp files it finds, and empty *.blk files
// (see "Crashes"). It leaves every name it does not recognise alone (other
// files, upper-case hex, "007.blk", an index above the limit below), and
// eviction deletes only the files it recognises: a directory holding
// something else stays, with that file in it. The 256 prefix directories
// are never deleted. Files are created with mode 0600 and directories with
// 0700.
//
// # Budget and eviction
//
// Config.MaxBytes bounds the total length of the block files, which the
// store counts exactly; file-system overhead (inodes, directories, the
// rounding of files up to whole file-system blocks) is not counted, so leave
// some room on the disk. The store never starts writing a block unless the
// block fits within the budget together with every block already on disk
// or being written, so the bound holds at every moment, not only between
// calls.
//
// Eviction removes whole objects, least recently used first. An object is
// used by a Get that hits or a Put of one of its blocks; Has does not count.
// The object a Put writes to is evicted only if it alone is too big for the
// budget: then its other blocks go and the new block stays. A block larger
// than MaxBytes is refused with [ErrTooLarge].
//
// If deleting a file fails, its bytes keep counting against the budget
// (Stats.Unreclaimed) until the next Open counts the directory afresh, so
// the budget still bounds the disk.
//
// # Opening and restarting
//
// Open walks Dir/objects and indexes every block file it recognises, so a
// restarted node keeps its cache. The initial LRU order comes from the lru
// file that the last Close wrote; objects it does not list (written after
// it, or all of them after a crash) count as more recent than those it
// lists, and are ordered among themselves by the modification time of their
// newest block file, that is by when they were last written, not read.
// If Dir holds more than MaxBytes, Open evicts in that order until it fits.
// Open takes time proportional to the number of block files.
//
// Only one Store may have a directory open at a time: Open takes an
// exclusive flock(2) on Dir/lock and fails if another Store, in this process
// or another, holds it. On systems without flock (Windows, Plan 9, …) the
// lock is not taken and the rule is the caller's to keep.
//
// # Crashes
//
// The store does not fsync. It is a cache of content the caller verifies, and
// syncing every block would cost more than refetching the few blocks a power
// loss can damage. A process crash loses nothing that was renamed into
// place. A power loss can leave a renamed block file empty (Open deletes it)
// or holding zeros, which the caller's verification catches (duty 2).
//
// # Concurrency
//
// The index (which blocks exist, their lengths, the LRU list) lives in
// memory under one mutex, held only for map and list updates, never across
// disk I/O. Get and Has never wait for another call's disk I/O: Get reads
// with a single pread(2) (os.File.ReadAt) into the caller's buffer, without
// any per-object lock. Each object has a read-write lock: Puts share it
// while they write the object's files, and deleting its files (eviction,
// Remove, RemoveObject, and a Get dropping a block it failed to read) takes
// it exclusively, so those wait for Puts of the same object.
//
// A Put waits for other calls only when it needs room: it deletes the
// objects it evicts itself, after any Puts still writing to them, and if
// the budget is held by blocks that other calls are writing or deleting, it
// waits for them to finish. Puts of different objects that fit write in
// parallel. The store starts no goroutines.
//
// # Limits
//
//   - Block indices run from 0 to 16 777 215 (2^24-1); Put refuses a larger
//     index with ErrTooLarge. Blocks may be 1 byte to MaxBytes long;
//     the protocol's block-size rules are not checked here.
//   - Memory: about 250 bytes per cached object, plus one bit per block index
//     from 0 to the highest cached index of the object (8 KiB for a full
//     object of 65536 blocks), plus 8 bytes for each cached block shorter
//     than the object's longest cached block, which for verified blocks is
//     at most one (the last). A cache of 1 TiB in 256 KiB blocks needs about
//     0.5 MiB of bitsets and one entry per object.
//   - Open reads the whole directory tree and lists each object directory in
//     full, and evicting an object lists its directory, so very large
//     objects cost time to open and evict.
//   - If the disk fills up before the budget does, the Put that hits it
//     lowers the budget to what the store holds, evicts the least recently
//     used objects and writes its block again, so caching goes on within
//     what the disk has (Stats.DiskFull counts these). The lowered budget
//     rises again towards MaxBytes as the file system frees space, looked
//     at every 10 s, keeping 16 MiB free.
package store
