package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aqueduct-cdn/aqueduct/peer"
)

func runKeygen(ctx context.Context, args []string) error {
	fs := newFlagSet("keygen", "", `Prints a new cluster key. Every node of a cluster needs the same key:
  aqueduct keygen > cluster.key
  aqueduct origin --root DIR --key-file cluster.key
Keep the file private (it is written with the shell's umask).`)
	if err := parse(fs, args); err != nil {
		return err
	}
	k, err := peer.GenerateKey()
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(os.Stdout, k.Encode())
	return err
}
