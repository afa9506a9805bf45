package peer

import (
	"log/slog"
	"time"

	"github.com/aqueduct-cdn/aqueduct/congestion"
	"github.com/aqueduct-cdn/aqueduct/internal/sockopt"
	"github.com/aqueduct-cdn/aqueduct/wire"
)

// Config configures both ends of a connection. Zero values mean the
// defaults given on each field; Key is required.
type Config struct {
	Key  Key    // the cluster key both ends must hold
	Name string // this node's name, sent in the handshake for the other end's logs

	// NodeID names this node in OPENs' via lists (see wire.Open): a
	// server answers LOOP to an OPEN that has passed it already. Zero
	// turns the check off.
	NodeID wire.NodeID

	MPTCP bool // dial and listen with MPTCP where the kernel offers it

	// Congestion names the congestion control for peer sockets (Linux
	// TCP_CONGESTION), e.g. "bbr" or "cubic"; empty keeps the kernel's
	// default. It matters for the sending side, so the server's listener
	// carries it to accepted connections. If the kernel refuses the name
	// (not loaded, or not allowed in a network namespace), the socket keeps
	// the default; [Conn.Congestion] tells what a connection got.
	Congestion string

	MaxFrame         uint32        // largest frame payload accepted; default wire.DefaultMaxFrame
	HandshakeTimeout time.Duration // default 10 s
	IdleTimeout      time.Duration // close after this long without receiving anything; PING after a third of it; default 45 s

	// Server side.
	MaxHandshakes        int     // connections in the handshake at once; past it the oldest is dropped; default 256
	MaxHandshakesPerHost int     // connections in the handshake from one address; past it new ones are closed; default 64
	HandshakeRate        float64 // new connections per second from one address (bursts of twice that); faster ones are closed; default 50
	MaxHandles           int     // open handles per connection; default 256
	MaxRequests          int     // outstanding requests per connection; default 128
	MaxStreams           int     // READ requests served at once per connection; default 16
	DataFrame            int     // payload bytes per DATA frame; default 128 KiB (capped by the peer's max frame)

	// Flows, if set, is the congestion manager a server registers each
	// authenticated connection with, as a flow it sends on (in the
	// macroflow of the client's host): the CM then samples what the
	// kernel knows of the downstream path, losses included.
	Flows *congestion.Manager

	Logger *slog.Logger // nil discards
}

func (c Config) sockopts() sockopt.Options {
	return sockopt.Options{MPTCP: c.MPTCP, Congestion: c.Congestion}
}

func (c Config) withDefaults() Config {
	if c.MaxFrame == 0 {
		c.MaxFrame = wire.DefaultMaxFrame
	}
	c.MaxFrame = min(max(c.MaxFrame, wire.MinMaxFrame), wire.MaxMaxFrame)
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = 10 * time.Second
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 45 * time.Second
	}
	if c.MaxHandshakes <= 0 {
		c.MaxHandshakes = 256
	}
	if c.MaxHandshakesPerHost <= 0 {
		c.MaxHandshakesPerHost = 64
	}
	if c.HandshakeRate <= 0 {
		c.HandshakeRate = 50
	}
	if c.MaxHandles <= 0 {
		c.MaxHandles = 256
	}
	if c.MaxRequests <= 0 {
		c.MaxRequests = 128
	}
	if c.MaxStreams <= 0 {
		c.MaxStreams = 16
	}
	if c.DataFrame <= 0 {
		c.DataFrame = 128 << 10
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Name == "" {
		c.Name = "aqueduct"
	}
	return c
}
