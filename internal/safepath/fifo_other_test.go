//go:build !unix

package safepath

import "errors"

const haveFIFO = false

var errNoFIFO = errors.New("no FIFOs")

func mkfifo(string) error { return errNoFIFO }
