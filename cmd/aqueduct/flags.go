package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/aqueduct-cdn/aqueduct/internal/conf"
)

// errUsage reports a command-line mistake that has already been described
// to the user.
var errUsage = errors.New("usage error")

// commandFlags is a flag set with the usage text of its command. A mistake
// on the command line gets a one-line hint; --help gets the whole text.
type commandFlags struct {
	*flag.FlagSet
	full func()
}

// newFlagSet returns a flag set whose usage text shows synopsis, about and
// the flags with their placeholders and defaults.
func newFlagSet(name, synopsis, about string) *commandFlags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	full := func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: aqueduct %s %s\n\n", name, synopsis)
		fmt.Fprintln(w, strings.TrimSpace(about))
		fmt.Fprintln(w, "\nFlags:")
		conf.PrintDefaults(w, fs)
	}
	fs.Usage = func() { fmt.Fprintf(fs.Output(), "Run \"aqueduct %s --help\" for the flags.\n", name) }
	return &commandFlags{fs, full}
}

// parse parses args and refuses arguments other than flags; a mistake has
// been reported to the user when it returns errUsage.
func parse(fs *commandFlags, args []string) error { return parseArgs(fs, args, "") }

// parseArgs is parse for a command that takes one argument besides its
// flags, described by what ("ADDR, the node's admin address"); with what
// empty it takes none.
func parseArgs(fs *commandFlags, args []string, what string) error {
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "-h" || a == "-help" || a == "--help" {
			fs.SetOutput(os.Stdout)
			fs.full()
			return flag.ErrHelp
		}
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return err
		}
		return errUsage
	}
	want := 0
	if what != "" {
		want = 1
	}
	switch {
	case fs.NArg() > want:
		fmt.Fprintf(fs.Output(), "aqueduct %s: unexpected argument %q\n", fs.Name(), fs.Arg(want))
	case fs.NArg() < want:
		fmt.Fprintf(fs.Output(), "aqueduct %s: want %s\n", fs.Name(), what)
	default:
		return nil
	}
	fs.Usage()
	return errUsage
}

// configError reports a configuration's mistakes, one per line, and says
// where the flags are explained.
func configError(fs *commandFlags, err error) error {
	w := fs.Output()
	fmt.Fprintf(w, "aqueduct %s: the configuration has mistakes:\n", fs.Name())
	for _, line := range strings.Split(err.Error(), "\n") {
		fmt.Fprintf(w, "  %s\n", line)
	}
	fmt.Fprintf(w, "Run \"aqueduct %s --help\" for the flags, \"aqueduct config example\" for the file's keys.\n", fs.Name())
	return errUsage
}
