package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// makeLadder encodes a 4-second test picture into a three-variant HLS
// ladder under dir with ffmpeg: master.m3u8 lists 160x90, 320x180 and
// 640x360, lowest first, as ffmpeg writes them.
func makeLadder(t *testing.T, dir string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), toolTimeout)
	defer cancel()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, "ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=640x360:rate=25", "-t", "4",
		"-filter_complex", "[0:v]split=3[a][b][c];[b]scale=320:180[b2];[c]scale=160:90[c2]",
		"-map", "[c2]", "-map", "[b2]", "-map", "[a]", "-c:v", "libx264", "-preset", "ultrafast", "-g", "25",
		"-b:v:0", "200k", "-b:v:1", "500k", "-b:v:2", "1200k",
		"-f", "hls", "-hls_time", "2", "-hls_playlist_type", "vod", "-master_pl_name", "master.m3u8",
		"-var_stream_map", "v:0 v:1 v:2", "-hls_segment_filename", "v%v/seg%03d.ts", "v%v/index.m3u8")
	cmd.Dir, cmd.Env = dir, childEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
}

// TestEdge_contentAdaptation serves an ffmpeg ladder through an edge. Once
// the edge has measured the path to this host (a download on a
// connection that stays open), the master playlist comes with the best
// variant the path sustains first (on loopback, the highest), ffprobe
// reads the reordered playlist and finds that variant as its first
// program, and master.m3u8?variant=auto leads ffprobe to that variant
// alone.
func TestEdge_contentAdaptation(t *testing.T) {
	needTool(t, "ffmpeg", "ffmpeg")
	needTool(t, "ffprobe", "ffmpeg")
	root := t.TempDir()
	makeLadder(t, filepath.Join(root, "ladder"))
	if _, err := writeRandom(filepath.Join(root, "warm.bin"), 32<<20, 11); err != nil {
		t.Fatal(err)
	}
	origin := startOrigin(t, root)
	edge := startEdge(t, "edge", []string{origin.peerAddr})
	base := "http://" + edge.httpAddr

	// Measure: a download on a keep-alive connection of the shared client,
	// then the master until the edge says what rate it used.
	tr := &http.Transport{Proxy: nil, DisableCompression: true}
	defer tr.CloseIdleConnections()
	warm := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	if status, n, err := fetchWith(warm, base+"/warm.bin"); err != nil || status != 200 || n != 32<<20 {
		t.Fatalf("warm-up download: %d, %d bytes, %v", status, n, err)
	}
	var master string
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := warm.Get(base + "/ladder/master.m3u8")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		rate := resp.Header.Get("Aqueduct-Variant-Rate")
		if resp.StatusCode != 200 || rate == "" {
			t.Fatalf("master: %s, %s %q", resp.Status, "Aqueduct-Variant-Rate", rate)
		}
		if rate != "unknown" {
			master = string(b)
			t.Logf("rate used: %s Mbit/s", rate)
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the edge measured no rate to this host")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if first := strings.Index(master, "v2/index.m3u8"); first < 0 || first > strings.Index(master, "v0/index.m3u8") {
		t.Fatalf("the master does not list the 640x360 variant first:\n%s", master)
	}

	// ffprobe reads the reordered master: every variant plays, and its
	// first program is the first listed, 640x360.
	var p struct {
		Programs []struct {
			Streams []struct {
				Width  int `json:"width"`
				Height int `json:"height"`
			} `json:"streams"`
		} `json:"programs"`
		Streams []struct {
			Width int `json:"width"`
		} `json:"streams"`
	}
	probe := func(url string) {
		out := runTool(t, "ffprobe", "-v", "error", "-rw_timeout", "20000000",
			"-show_entries", "program=program_id:stream=width,height", "-of", "json", url)
		p.Programs, p.Streams = nil, nil
		if err := json.Unmarshal(out, &p); err != nil {
			t.Fatalf("ffprobe %s: %v\n%s", url, err, out)
		}
	}
	probe(base + "/ladder/master.m3u8")
	if len(p.Programs) != 3 || len(p.Programs[0].Streams) == 0 || p.Programs[0].Streams[0].Width != 640 {
		t.Fatalf("ffprobe of the master: %+v, want 3 programs, the first 640 wide", p)
	}
	probe(base + "/ladder/master.m3u8?variant=auto")
	if len(p.Streams) != 1 || p.Streams[0].Width != 640 {
		t.Fatalf("ffprobe of ?variant=auto: %+v, want the one 640x360 stream", p)
	}
}

// fetchWith downloads url with c and returns the status and length.
func fetchWith(c *http.Client, url string) (int, int64, error) {
	resp, err := c.Get(url)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, n, err
}
