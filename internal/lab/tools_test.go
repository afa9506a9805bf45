package lab

import (
	"errors"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

func TestCommandTools(t *testing.T) {
	for _, tt := range []struct {
		line string
		want []string
	}{
		{"curl -sS --fail -o /d/run/out http://10.77.0.1:8080/f.bin", []string{"curl"}},
		{"mptcpize run curl -sS -o out http://x/", []string{"mptcpize", "curl"}},
		{"mptcpize run -d aria2c -q http://x/", []string{"mptcpize", "aria2c"}},
		{"mptcpize enable nginx.service", []string{"mptcpize"}},
		{"aqueduct keygen > /d/run/cluster.key", []string{"aqueduct"}},
		{"ip mptcp endpoint flush", []string{"ip"}},
		{"ip mptcp endpoint flush; ip mptcp limits set subflows 2", []string{"ip"}},
		{"echo cannot start >&2; exit 3", nil},
		{"true", nil},
		{"head -c 1000 /d/content/f.bin > /d/run/out; exec sleep 30", []string{"head", "sleep"}},
		{"nft -f rules.nft && ping -c 1 10.77.0.1 || ffprobe -v error x.mp4", []string{"nft", "ping", "ffprobe"}},
		{"ffmpeg -i in.mp4 -f null - 2>&1 | tee log | grep -q frame=", []string{"ffmpeg", "tee", "grep"}},
		{"FOO=1 BAR='a b' env -i PATH=/bin X=2 aria2c -q", []string{"env", "aria2c"}},
		{"nohup socat TCP-LISTEN:1 TCP:x:2 </dev/null >/dev/null 2>&1 &", []string{"nohup", "socat"}},
		{`sh -c "curl x"`, []string{"sh"}},
		{`"curl" 'x;y' "a|b" c\;d`, []string{"curl"}},
		{"(cd /tmp && wget -q x) # and then: nothing", []string{"wget"}},
		{"if test -e x; then iperf3 -s; fi", []string{"iperf3"}},
		{"for i in 1 2; do curl -o $i x; done", []string{"curl"}},
		{"echo $((1+2)) $(date +%s) `uname` $CURL x", []string{"date"}},
		{"/usr/bin/curl x; ./run.sh", nil},
		{"curl a\ncurl b\naria2c c", []string{"curl", "aria2c"}},
		{"", nil},
	} {
		if got := commandTools(tt.line); !slices.Equal(got, tt.want) {
			t.Errorf("commandTools(%q) = %q, want %q", tt.line, got, tt.want)
		}
	}
}

// TestExperimentTools_examples derives the seeds' tools from their files:
// the aqueduct binary and the shell's builtins are not tools.
func TestExperimentTools_examples(t *testing.T) {
	for _, tt := range []struct {
		file string
		want []string
	}{
		{"seed001-long-path.yaml", []string{"ip", "curl", "aria2c", "mptcpize"}},
		{"seed002-figure6.yaml", []string{"curl"}},
		{"tcp-rome.yaml", []string{"curl", "aria2c"}},
		{"mptcp-peer-link.yaml", []string{"ip", "curl"}},
		{"parallel-lossy-path.yaml", []string{"curl", "aria2c"}},
	} {
		e, err := LoadExperiment("../../examples/lab/" + tt.file)
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.Tools()
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("%s: Tools() = %q, %v; want %q", tt.file, got, err, tt.want)
		}
	}
}

func TestCheckTools_missing(t *testing.T) {
	e, err := LoadExperiment("../../examples/lab/seed001-long-path.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var looked []string
	lookPath := func(missing ...string) func(string) (string, error) {
		return func(name string) (string, error) {
			looked = append(looked, name)
			if slices.Contains(missing, name) {
				return "", exec.ErrNotFound
			}
			return "/usr/bin/" + name, nil
		}
	}
	if err := checkTools(e, lookPath()); err != nil {
		t.Errorf("nothing missing: %v", err)
	}
	if want := []string{"ip", "curl", "aria2c", "mptcpize"}; !slices.Equal(looked, want) {
		t.Errorf("looked up %q, want %q", looked, want)
	}

	err = checkTools(e, lookPath("mptcpize"))
	const want = `lab: experiment seed001-long-path runs mptcpize, which is not installed (Debian package "mptcpize")`
	if err == nil || err.Error() != want {
		t.Errorf("mptcpize missing: %v, want %s", err, want)
	}
	var mt *MissingToolError
	if !errors.As(err, &mt) || mt.Tool != "mptcpize" || mt.Package != "mptcpize" {
		t.Errorf("error %#v is no MissingToolError for mptcpize", err)
	}

	err = checkTools(e, lookPath("aria2c", "curl"))
	if err == nil || !strings.Contains(err.Error(), `runs curl, which is not installed (Debian package "curl")`) ||
		!strings.Contains(err.Error(), `runs aria2c, which is not installed (Debian package "aria2")`) {
		t.Errorf("curl and aria2c missing: %v", err)
	}

	// Only the cases that run count: without the MPTCP case, mptcpize is
	// not needed.
	q, err := prepare(e, RunOptions{Cases: []string{"Direct", "aria2c ×16"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := checkTools(q, lookPath("mptcpize")); err != nil {
		t.Errorf("mptcpize missing, MPTCP case not selected: %v", err)
	}

	// A tool the lab does not know is named without a package.
	u, err := ParseExperiment([]byte(strings.Replace(minimal, "client: {host: c, run: 'curl", "client: {host: c, run: 'frobnicate", 1)))
	if err != nil {
		t.Fatal(err)
	}
	err = checkTools(u, lookPath("frobnicate"))
	if err == nil || err.Error() != "lab: experiment tiny runs frobnicate, which is not installed" {
		t.Errorf("unknown tool missing: %v", err)
	}
}
