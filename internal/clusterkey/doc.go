// Package clusterkey loads a node's cluster key (a [peer.Key]) from the
// file named by --key-file, or from the AQUEDUCT_KEY environment variable,
// and says how to make one when there is none.
package clusterkey
