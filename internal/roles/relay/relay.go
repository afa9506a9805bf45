package relay

import (
	"context"
	"errors"
	"io"
	"log/slog"

	"github.com/aqueduct-cdn/aqueduct/internal/node"
	"github.com/aqueduct-cdn/aqueduct/internal/safepath"
	"github.com/aqueduct-cdn/aqueduct/object"
	"github.com/aqueduct-cdn/aqueduct/peer"
	"github.com/aqueduct-cdn/aqueduct/transfer"
	"github.com/aqueduct-cdn/aqueduct/wire"
)

// Mount makes n a relay: a block cache (in cache.dir, or a temporary
// directory), a transfer engine over the configured upstreams that caches
// what it fetches, and a peer server that answers downstream nodes from it.
func Mount(n *node.Node) error {
	cfg := n.Config()
	st, err := n.OpenStore(cfg.Cache.Dir)
	if err != nil {
		return err
	}
	e, err := n.StartEngine(st)
	if err != nil {
		return err
	}
	ln, err := n.ListenPeer(cfg.Peer.Listen)
	if err != nil {
		return err
	}
	n.ServePeer(ln, &handler{engine: e, log: n.Logger()})
	return nil
}

// handler serves downstream peers from the engine.
type handler struct {
	engine *transfer.Engine
	log    *slog.Logger
}

func (h *handler) Open(ctx context.Context, path string) (peer.Object, error) {
	if err := safepath.Check(path); err != nil {
		var se *safepath.Error
		errors.As(err, &se)
		h.log.Info("peer request refused", "path", path, "reason", se.Reason)
		return nil, peer.Errorf(se.Code(), "%s", se.Reason)
	}
	o, err := h.engine.Open(ctx, path, peer.Via(ctx)...)
	if err != nil {
		return nil, upstreamError(err)
	}
	return &relayObject{o: o}, nil
}

// upstreamError passes on what an upstream said about an object and turns
// the engine's own failures into UNAVAILABLE, so the downstream tries
// elsewhere.
func upstreamError(err error) error {
	if pe := (*peer.Error)(nil); errors.As(err, &pe) && pe.Code.Refusal() {
		return pe
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	return peer.Errorf(wire.CodeUnavailable, "upstream unavailable")
}

type relayObject struct{ o *transfer.Object }

func (r *relayObject) Meta() object.Meta     { return r.o.Meta() }
func (r *relayObject) Hashes() object.Hashes { return r.o.Hashes() }
func (r *relayObject) Close() error          { return r.o.Close() }
func (r *relayObject) Stale() bool           { return r.o.Stale() } // says so downstream: wire.Object.Stale

func (r *relayObject) NewReader(ctx context.Context, off, n int64) (io.ReadCloser, error) {
	rd, err := r.o.NewReader(ctx, off, n)
	if err != nil {
		return nil, upstreamError(err)
	}
	return errorMapper{rd}, nil
}

// errorMapper maps the engine's read errors to protocol errors.
type errorMapper struct{ *transfer.Reader }

func (m errorMapper) Read(p []byte) (int, error) {
	n, err := m.Reader.Read(p)
	if err != nil && err != io.EOF {
		err = upstreamError(err)
	}
	return n, err
}
