// Package relay is the role of a proxy node of an Aqueduct cluster. It
// serves the peer protocol to downstream nodes (edges or other relays) with
// objects it fetches from its own upstreams (the origin or other relays)
// through the parallel transfer engine, and keeps the verified blocks in a
// disk cache within a byte budget (least recently used objects go first).
//
// A relay is loosely coupled in the sense of seed 002: every downstream
// request is served from blocks that the engine has fetched and verified,
// held in bounded buffers and on disk, so a slow downstream holds only its
// own buffers; it never slows the upstream transfer or the other
// downstreams. Blocks that several downstreams want at once are fetched
// once.
//
// The bound: a downstream connection that stops reading holds at most
// MaxStreams READs (peer.Config, 16) × max(transfer.window, block size)
// bytes of block buffers: 16 MiB with the defaults (1 MiB window, 256 KiB
// blocks), out of transfer.memory (256 MiB). More than transfer.memory /
// (16 × window) downstream connections, 16 with the defaults, that all stop
// reading at once make the others wait for buffers; peers are
// authenticated members of the cluster, so this is a fault to fix, not an
// attack to absorb.
//
// [Mount] makes a node (package internal/node) a relay.
package relay
