// Package e2e tests the whole of Aqueduct from the outside: the real
// aqueduct binary, built once by TestMain, runs as origin, relay and edge
// subprocesses on loopback, and the tests talk to them the way players and
// operators do (HTTP, curl, aria2c, ffprobe, raw TCP). The package has no
// non-test code; this file only documents it.
//
// What the tests show:
//
//   - a 256 MiB object arrives byte-identical through origin → 2 relays →
//     edge with 8 connections, and still does when one relay is killed
//     (SIGKILL) mid-transfer;
//   - random Range and conditional requests through the edge answer exactly
//     as the origin does;
//   - many concurrent clients all get correct bytes;
//   - an upstream serving corrupt blocks is detected, banned and routed
//     around;
//   - a node with the wrong cluster key, or a raw client forging AUTH, gets
//     no object bytes;
//   - ffprobe, aria2c and curl work through the edge, and hostile paths are
//     refused at the origin and at the edge;
//   - the edge's memory stays bounded while a slow client drains a large
//     object;
//   - the command line behaves (demo, keygen, --help, a missing key).
//
// The benchmarks (bench_test.go) compare relay forwarding and the edge
// path with direct fetches from the origin, and measure the edge's memory
// under a slow client.
//
// Requirements: a Go toolchain (to build the binary), and ffprobe, aria2c
// and curl in PATH. A missing tool fails the test that needs it; it is never
// skipped. Every process is killed when its test ends, every wait is bounded,
// and all traffic stays on 127.0.0.1.
//
// Run with:
//
//	go test -race ./e2e
//	go test -run xxx -bench . -benchtime 3x ./e2e
package e2e
