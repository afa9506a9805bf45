package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Clean removes what a crashed lab left behind: network namespaces whose
// names start with prefix (after killing the processes inside), network
// devices in this namespace whose names start with it, and work
// directories in the temporary directory that do. prefix must begin with
// Prefix, so that nothing the lab did not create can match.
//
// A lab that is still running holds its TUN devices open, and a device
// lives only as long as its holder: Clean leaves alone the namespaces that
// still have lab devices, and the work directories of their run, and lists
// them in Cleaned.InUse. With force it removes them too.
func Clean(ctx context.Context, prefix string, force bool) (Cleaned, error) {
	var c Cleaned
	if !strings.HasPrefix(prefix, Prefix) {
		return c, fmt.Errorf("lab: clean: prefix %q does not start with %q", prefix, Prefix)
	}
	if err := Preflight(); err != nil {
		return c, err
	}
	var errs []error
	nss, err := listNS(prefix)
	if err != nil {
		errs = append(errs, err)
	}
	busy := map[string]bool{} // run IDs of labs still running
	for _, ns := range nss {
		if !force {
			devs, err := listDevices(ctx, ns, Prefix)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if len(devs) > 0 {
				c.InUse = append(c.InUse, ns)
				busy[runID(ns)] = true
				continue
			}
		}
		if err := deleteNS(ctx, ns); err != nil {
			errs = append(errs, err)
			continue
		}
		c.Namespaces = append(c.Namespaces, ns)
	}
	devs, err := listDevices(ctx, "", prefix)
	if err != nil {
		errs = append(errs, err)
	}
	for _, d := range devs {
		if err := runCmd(ctx, "", "ip", "link", "delete", "dev", d); err != nil {
			errs = append(errs, err)
			continue
		}
		c.Devices = append(c.Devices, d)
	}
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), prefix+"*"))
	for _, d := range dirs {
		if busy[runID(filepath.Base(d))] {
			c.InUse = append(c.InUse, d)
			continue
		}
		if err := os.RemoveAll(d); err != nil {
			errs = append(errs, err)
			continue
		}
		c.Dirs = append(c.Dirs, d)
	}
	return c, errors.Join(errs...)
}

// Leftovers lists what Clean would remove for prefix, without removing it.
func Leftovers(ctx context.Context, prefix string) (Cleaned, error) {
	var c Cleaned
	var err1, err2 error
	c.Namespaces, err1 = listNS(prefix)
	c.Devices, err2 = listDevices(ctx, "", prefix)
	c.Dirs, _ = filepath.Glob(filepath.Join(os.TempDir(), prefix+"*"))
	return c, errors.Join(err1, err2)
}

// runID returns the run ID in a name Prefix+ID+"-…".
func runID(name string) string {
	id, _, _ := strings.Cut(strings.TrimPrefix(name, Prefix), "-")
	return id
}

// listDevices returns the network devices named prefix* in namespace ns,
// or in this one if ns is empty.
func listDevices(ctx context.Context, ns, prefix string) ([]string, error) {
	args := []string{"-j", "link", "show"}
	if ns != "" {
		args = append([]string{"-n", ns}, args...)
	}
	out, err := exec.CommandContext(ctx, "ip", args...).Output()
	if err != nil {
		return nil, fmt.Errorf("lab: ip %s: %w", strings.Join(args, " "), err)
	}
	var links []struct {
		Name string `json:"ifname"`
	}
	if err := json.Unmarshal(out, &links); err != nil {
		return nil, fmt.Errorf("lab: ip link show: %w", err)
	}
	var names []string
	for _, l := range links {
		if strings.HasPrefix(l.Name, prefix) {
			names = append(names, l.Name)
		}
	}
	return names, nil
}
