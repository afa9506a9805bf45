package lab_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"testing"

	"github.com/aqueduct-cdn/aqueduct/internal/lab"
)

// asAqueductEnv makes the test binary play the aqueduct binary for the
// runner test: it answers "lab fileserver", "lab splice" and "keygen".
const asAqueductEnv = "AQL_TEST_AS_AQUEDUCT"

func TestMain(m *testing.M) {
	if os.Getenv(asAqueductEnv) == "1" {
		os.Exit(fakeAqueduct(os.Args[1:]))
	}
	os.Exit(m.Run())
}

func fakeAqueduct(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	fs := flag.NewFlagSet("fake", flag.ContinueOnError)
	root := fs.String("root", "", "")
	listen := fs.String("listen", ":8080", "")
	to := fs.String("to", "", "")
	var err error
	switch {
	case len(args) >= 2 && args[0] == "lab" && args[1] == "fileserver":
		if err = fs.Parse(args[2:]); err == nil {
			err = lab.ServeFiles(ctx, *root, *listen, nil)
		}
	case len(args) >= 2 && args[0] == "lab" && args[1] == "splice":
		if err = fs.Parse(args[2:]); err == nil {
			err = lab.Splice(ctx, lab.SpliceConfig{Listen: *listen, To: *to})
		}
	default:
		err = fmt.Errorf("fake aqueduct: unsupported %q", args)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}
