package linkem

import (
	"bufio"
	"encoding/binary"
	"io"
	"sync/atomic"
	"time"
)

// Packet capture: a Forwarder given Options.Capture copies the first
// CaptureSnap bytes of every packet it delivers, with the time of
// delivery, into a ring of fixed-size records, and an ordinary goroutine
// drains the ring into the writer in pcap format (link type "raw IP", one
// record per packet). The release thread never waits for the writer: a
// record that finds the ring full is dropped and counted.

// CaptureSnap is the number of bytes of each packet captured: enough for
// IPv4, TCP with options, and the start of the payload.
const CaptureSnap = 128

const (
	captureRecords = 4096
	captureDrain   = 10 * time.Millisecond
	linkTypeRaw    = 101 // LINKTYPE_RAW: the packet begins with the IP header
	pcapMagicNanos = 0xa1b23c4d
)

type capRecord struct {
	unixNano int64
	origLen  uint32
	n        uint32
	data     [CaptureSnap]byte
}

// capRing is a lock-free single-producer single-consumer ring of records.
type capRing struct {
	recs           []capRecord
	pushed, popped atomic.Uint64
	dropped        atomic.Uint64
}

func newCapRing() *capRing { return &capRing{recs: make([]capRecord, captureRecords)} }

// put records p, or counts a drop if the ring is full. Producer only.
func (r *capRing) put(unixNano int64, p []byte) {
	w := r.pushed.Load()
	if w-r.popped.Load() == uint64(len(r.recs)) {
		r.dropped.Add(1)
		return
	}
	rec := &r.recs[w%uint64(len(r.recs))]
	rec.unixNano, rec.origLen = unixNano, uint32(len(p))
	rec.n = uint32(copy(rec.data[:], p))
	r.pushed.Store(w + 1)
}

// drain writes every record in the ring to w. Consumer only.
func (r *capRing) drain(w *bufio.Writer) error {
	var hdr [16]byte
	for c := r.popped.Load(); c != r.pushed.Load(); c++ {
		rec := &r.recs[c%uint64(len(r.recs))]
		binary.LittleEndian.PutUint32(hdr[0:], uint32(rec.unixNano/1e9))
		binary.LittleEndian.PutUint32(hdr[4:], uint32(rec.unixNano%1e9))
		binary.LittleEndian.PutUint32(hdr[8:], rec.n)
		binary.LittleEndian.PutUint32(hdr[12:], rec.origLen)
		w.Write(hdr[:])
		w.Write(rec.data[:rec.n])
		r.popped.Store(c + 1)
	}
	return w.Flush()
}

// writePcapHeader writes a pcap file header for raw IP packets with
// nanosecond timestamps.
func writePcapHeader(w io.Writer) error {
	var h [24]byte
	binary.LittleEndian.PutUint32(h[0:], pcapMagicNanos)
	binary.LittleEndian.PutUint16(h[4:], 2)
	binary.LittleEndian.PutUint16(h[6:], 4)
	binary.LittleEndian.PutUint32(h[16:], CaptureSnap)
	binary.LittleEndian.PutUint32(h[20:], linkTypeRaw)
	_, err := w.Write(h[:])
	return err
}

// capture runs the capture writer until stop is closed, then drains what
// is left. It returns the first write error; after one it keeps draining
// (and discarding) so that the release thread never stalls.
func (r *capRing) run(w io.Writer, stop <-chan struct{}) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	err := writePcapHeader(bw)
	t := time.NewTicker(captureDrain)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-stop:
			if e := r.drain(bw); err == nil {
				err = e
			}
			return err
		}
		if e := r.drain(bw); err == nil && e != nil {
			err = e
			bw = bufio.NewWriterSize(io.Discard, 64<<10)
		}
	}
}
