package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// toolTimeout bounds one run of ffprobe, aria2c or curl.
const toolTimeout = 60 * time.Second

// runTool runs an external tool with the subprocess environment and returns
// its stdout; it fails the test on a non-zero exit or a timeout.
func runTool(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), toolTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = childEnv()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v after %v\nstderr:\n%s", name, strings.Join(args, " "), err, time.Since(start).Round(time.Millisecond), stderr.String())
	}
	return out
}

type probe struct {
	Streams []struct {
		CodecName     string `json:"codec_name"`
		CodecType     string `json:"codec_type"`
		Width         int    `json:"width"`
		Height        int    `json:"height"`
		NbReadPackets string `json:"nb_read_packets"`
	} `json:"streams"`
	Format struct {
		FormatName string `json:"format_name"`
		Duration   string `json:"duration"`
	} `json:"format"`
}

func ffprobe(t *testing.T, url string) probe {
	t.Helper()
	out := runTool(t, "ffprobe", "-v", "error", "-rw_timeout", "20000000", "-count_packets",
		"-show_entries", "stream=codec_name,codec_type,width,height,nb_read_packets:format=format_name,duration",
		"-of", "json", url)
	var p probe
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatalf("ffprobe output: %v\n%s", err, out)
	}
	return p
}

// checkProbe checks the sample's known properties: H.264 at 640x360, ten
// seconds, 250 video packets (25 fps; counting them makes ffprobe read
// the whole file, or every segment).
func checkProbe(t *testing.T, url string, p probe) {
	t.Helper()
	var video int
	for _, s := range p.Streams {
		if s.CodecType != "video" {
			continue
		}
		video++
		if s.CodecName != "h264" || s.Width != 640 || s.Height != 360 {
			t.Errorf("%s: video stream %s %dx%d, want h264 640x360", url, s.CodecName, s.Width, s.Height)
		}
		if s.NbReadPackets != "250" {
			t.Errorf("%s: %s video packets read, want 250", url, s.NbReadPackets)
		}
	}
	if video != 1 {
		t.Errorf("%s: %d video streams, want 1: %+v", url, video, p)
	}
	d, err := strconv.ParseFloat(p.Format.Duration, 64)
	if err != nil || d < 9.5 || d > 10.5 {
		t.Errorf("%s: duration %q, want about 10 s", url, p.Format.Duration)
	}
	t.Logf("%s: format %s, duration %s, streams %+v", url, p.Format.FormatName, p.Format.Duration, p.Streams)
}

// TestFFprobeThroughEdge has ffprobe read the sample MP4 and its HLS
// rendition through the edge, and checks that it followed the playlist to
// every segment.
func TestFFprobeThroughEdge(t *testing.T) {
	needTool(t, "ffprobe", "ffmpeg")
	access := filepath.Join(t.TempDir(), "access.log")
	c := startCluster(t, "--access-log", access)

	mp4 := c.edgeURL("/video/sample.mp4")
	checkProbe(t, mp4, ffprobe(t, mp4))

	m3u8 := c.edgeURL("/video/hls/index.m3u8")
	p := ffprobe(t, m3u8)
	checkProbe(t, m3u8, p)
	if !strings.Contains(p.Format.FormatName, "hls") {
		t.Errorf("format %q, want hls", p.Format.FormatName)
	}
	for i := range 5 {
		seg := fmt.Sprintf("/video/hls/segment%03d.ts", i)
		waitAccessLog(t, access, "a GET of "+seg, func(l accessLine) bool {
			return l.method == "GET" && l.target == seg && (l.status == 200 || l.status == 206) && l.bytes > 0
		})
	}
}

// accessLine is a line of the Combined Log Format.
type accessLine struct {
	host, method, target, proto string
	status                      int
	bytes                       int64
	referer, agent              string
}

var combinedLine = regexp.MustCompile(`^(\S+) - - \[([^\]]+)\] "(\S+) (\S+) (\S+)" (\d{3}) (\d+|-) "([^"]*)" "([^"]*)"$`)

// readAccessLog parses an access log; a line that is not in the Combined
// Log Format fails the test.
func readAccessLog(t testing.TB, path string) []accessLine {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var out []accessLine
	for _, s := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if s == "" {
			continue
		}
		m := combinedLine.FindStringSubmatch(s)
		if m == nil {
			t.Fatalf("access log line not in the Combined Log Format: %q", s)
		}
		if _, err := time.Parse("02/Jan/2006:15:04:05 -0700", m[2]); err != nil {
			t.Fatalf("access log time %q: %v", m[2], err)
		}
		l := accessLine{host: m[1], method: m[3], target: m[4], proto: m[5], referer: m[8], agent: m[9]}
		l.status, _ = strconv.Atoi(m[6])
		l.bytes, _ = strconv.ParseInt(m[7], 10, 64)
		out = append(out, l)
	}
	return out
}

// waitAccessLog waits up to 5 s for a line of the access log that match
// accepts (a request is logged when its handler returns, a moment after
// the client has all its bytes).
func waitAccessLog(t testing.TB, path, what string, match func(accessLine) bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		for _, l := range readAccessLog(t, path) {
			if match(l) {
				return
			}
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(path)
			t.Fatalf("no %s in the access log within 5 s:\n%s", what, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestAria2cThroughEdge downloads the 256 MiB object with aria2c over 8
// connections in 8 pieces (ranged GETs) and checks its SHA-256.
func TestAria2cThroughEdge(t *testing.T) {
	needTool(t, "aria2c", "aria2")
	dir := t.TempDir()
	access := filepath.Join(dir, "access.log")
	c := startCluster(t, "--access-log", access)
	const rel = "large.bin"
	start := time.Now()
	runTool(t, "aria2c", "--no-conf=true", "-x8", "-s8", "-k1M", "--dir", dir, "--out", "got.bin",
		"--allow-overwrite=true", "--auto-file-renaming=false", "--file-allocation=none",
		"--max-tries=1", "--connect-timeout=10", "--timeout=30", "--summary-interval=0",
		"--console-log-level=warn", "--download-result=hide", c.edgeURL("/"+rel))
	took := time.Since(start)
	f, err := os.Open(filepath.Join(dir, "got.bin"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		t.Fatal(err)
	}
	if sum := hex.EncodeToString(h.Sum(nil)); n != c.content.Sizes[rel] || sum != c.content.Sums[rel] {
		t.Fatalf("aria2c got %d bytes, sha256 %s; want %d bytes, sha256 %s", n, sum, c.content.Sizes[rel], c.content.Sums[rel])
	}
	var ranged []accessLine
	waitAccessLog(t, access, "a ranged GET of "+rel, func(l accessLine) bool { return l.status == 206 })
	for _, l := range readAccessLog(t, access) {
		if l.method == "GET" && l.target == "/"+rel && l.status == 206 && l.bytes > 0 && strings.HasPrefix(l.agent, "aria2") {
			ranged = append(ranged, l)
		}
	}
	if len(ranged) < 2 {
		t.Errorf("the edge served %d ranged GETs of %s; aria2c -s8 should have split the download", len(ranged), rel)
	}
	t.Logf("aria2c: %d bytes in %v (%.0f MB/s), %d ranged GETs, sha256 matches", n, took.Round(time.Millisecond), float64(n)/took.Seconds()/1e6, len(ranged))
}
