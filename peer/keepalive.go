package peer

import (
	"time"

	"github.com/aqueduct-cdn/aqueduct/wire"
)

// keepalive sends PING whenever the connection has sent nothing for a third
// of idle, so that the other end, which closes a connection that stays
// silent for idle, hears from this end even while it only sends (a server
// streaming a long READ) or only receives (a client waiting for one).
func keepalive(snd *sender, done <-chan struct{}, idle time.Duration) {
	every := idle / 3
	t := time.NewTicker(every / 3)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			if snd.sinceSent() >= every {
				_ = snd.queue(wire.Ping{Opaque: uint64(time.Now().UnixNano())}.Append(nil))
			}
		}
	}
}
