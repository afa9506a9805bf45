package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aqueduct-cdn/aqueduct/congestion"
	"github.com/aqueduct-cdn/aqueduct/internal/node"
)

func runStatus(ctx context.Context, args []string) error {
	fs := newFlagSet("status", "[--json] ADDR", `Prints what a running node knows of its paths: the congestion manager's
estimate of each macroflow (the connections to one destination host), and
on a relay or edge each upstream's connections, how many the engine wants
and why, and the estimates of each. ADDR is the node's admin address
(--admin; 127.0.0.1:9070 for an origin, :9071 a relay, :9081 an edge).`)
	asJSON := fs.Bool("json", false, "print the admin endpoint's JSON as it is")
	if err := parseArgs(fs, args, "ADDR, the node's admin address"); err != nil {
		return err
	}
	addr := fs.Arg(0)
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(addr, "/")+"/status", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("reading %s: %w", req.URL, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", req.URL, resp.Status)
	}
	if *asJSON {
		_, err := os.Stdout.Write(body)
		return err
	}
	var st node.Status
	if err := json.Unmarshal(body, &st); err != nil {
		return fmt.Errorf("%s: not a node's status: %w", req.URL, err)
	}
	return printStatus(os.Stdout, st)
}

// printStatus writes st as tables.
func printStatus(w io.Writer, st node.Status) error {
	fmt.Fprintf(w, "%s %q at %s\n\n", st.Role, st.Name, st.At.Format(time.RFC3339))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MACROFLOW\tFLOWS\tRATE\tGOODPUT\tRTT\tMIN RTT\tLOSS")
	if len(st.Macroflows) == 0 {
		fmt.Fprintln(tw, "(none: no connection carries data yet)")
	}
	for _, mf := range st.Macroflows {
		if !mf.Known {
			fmt.Fprintf(tw, "%s\t%d\t-\t-\t-\t-\t-\n", mf.Name, mf.Flows)
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%.2f%%\n", mf.Name, mf.Flows, congestion.Mbps(mf.Rate), congestion.Mbps(mf.Goodput),
			ms(mf.RTT), ms(mf.MinRTT), mf.Loss*100)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, u := range st.Upstreams {
		fmt.Fprintf(w, "\nupstream %s: %d connections", u.Addr, len(u.Conns))
		if u.Target > 0 {
			fmt.Fprintf(w, ", %d wanted (%s: %s)", u.Target, u.Reason, u.Detail)
		}
		fmt.Fprintf(w, "; %d bytes received\n", u.ReceivedBytes)
		if len(u.Conns) == 0 {
			continue
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "CONN\tMPTCP\tRATE\tGOODPUT\tRTT\tMIN RTT\tCWND\tKERNEL RATE\tRETRANS")
		for _, c := range u.Conns {
			fmt.Fprintf(tw, "%d\t%v\t%s\t%s\t%s\t%s\t%d\t%s\t%d\n", c.ID, c.MPTCP, congestion.Mbps(c.Rate), congestion.Mbps(c.Goodput),
				ms(c.RTT), ms(c.MinRTT), c.Cwnd, congestion.Mbps(float64(c.DeliveryRate)), c.Retransmits)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

func ms(d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f ms", float64(d)/1e6)
}
