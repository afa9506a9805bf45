package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/aqueduct-cdn/aqueduct/internal/conf"
)

func runConfig(ctx context.Context, args []string) error {
	usage := func(w *os.File) {
		fmt.Fprint(w, `Usage: aqueduct config example [ROLE]
       aqueduct config check [--role ROLE] [--print] FILE

example  prints a configuration file with every key, its comment and its
         default: of one role (origin, relay or edge), or, with no role, every
         key of every role (examples/aqueduct.yml is this file).
check    reads FILE as a node's configuration, reports every mistake with the
         key and the line, and checks what the node would need at start (the
         cluster key, the content directory). It exits 0 when the file is
         good; --print then writes the configuration it makes. The role comes
         from the file's "role:" key or from --role. Environment variables
         and flags are not applied, except $AQUEDUCT_KEY, where the key is
         looked up as the node would.
`)
	}
	if len(args) == 0 {
		usage(os.Stderr)
		return errUsage
	}
	switch args[0] {
	case "example":
		return configExample(args[1:])
	case "check":
		return configCheck(args[1:])
	case "help", "-h", "--help", "-help":
		usage(os.Stdout)
		return nil
	}
	fmt.Fprintf(os.Stderr, "aqueduct config: unknown subcommand %q\n\n", args[0])
	usage(os.Stderr)
	return errUsage
}

func configExample(args []string) error {
	var role conf.Role
	switch len(args) {
	case 0:
	case 1:
		r, err := conf.ParseRole(args[0])
		if err != nil {
			fmt.Fprintf(os.Stderr, "aqueduct config example: %v\n", err)
			return errUsage
		}
		role = r
	default:
		fmt.Fprintln(os.Stderr, "Usage: aqueduct config example [origin|relay|edge]")
		return errUsage
	}
	return conf.Example(os.Stdout, role)
}

func configCheck(args []string) error {
	fs := flag.NewFlagSet("config check", flag.ContinueOnError)
	roleName := fs.String("role", "", "the node's role, if the file does not name it: origin, relay or edge")
	print := fs.Bool("print", false, "print the configuration the file makes, defaults included")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: aqueduct config check [--role ROLE] [--print] FILE")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errUsage
	}
	file := fs.Arg(0)
	var role conf.Role
	if *roleName != "" {
		r, err := conf.ParseRole(*roleName)
		if err != nil {
			fmt.Fprintf(os.Stderr, "aqueduct config check: --role: %v\n", err)
			return errUsage
		}
		role = r
	}
	cfg, err := conf.LoadFile(role, file, nil)
	if err == nil {
		err = cfg.CheckEnvironment(os.LookupEnv)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: not a good %sconfiguration:\n", file, roleWord(cfg.Role))
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintf(os.Stderr, "  %s\n", line)
		}
		return errUsage
	}
	for _, k := range cfg.Unused() {
		fmt.Fprintf(os.Stderr, "%s: note: %s is not used by a %s; it is ignored\n", file, k, cfg.Role)
	}
	if *print {
		return cfg.Write(os.Stdout)
	}
	fmt.Fprintf(os.Stderr, "%s: a good %s configuration\n", file, cfg.Role)
	return nil
}

func roleWord(r conf.Role) string {
	if r == "" {
		return ""
	}
	return string(r) + " "
}
