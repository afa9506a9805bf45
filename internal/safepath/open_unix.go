//go:build unix

package safepath

import "syscall"

// openFlags are added to O_RDONLY for every open: O_NONBLOCK so that opening
// a FIFO does not wait for a writer, O_NOCTTY so that opening a terminal
// never makes it the process's controlling terminal. Neither changes reads
// from a regular file.
const openFlags = syscall.O_NONBLOCK | syscall.O_NOCTTY
