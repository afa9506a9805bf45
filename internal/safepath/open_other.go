//go:build !unix

package safepath

// openFlags are added to O_RDONLY for every open. Other systems have no
// FIFOs that block on open.
const openFlags = 0
