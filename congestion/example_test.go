package congestion_test

import (
	"fmt"
	"time"

	"github.com/aqueduct-cdn/aqueduct/congestion"
)

// Two connections to one host form one macroflow; their goodputs add.
func Example() {
	now := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	m := congestion.New(congestion.Config{Now: func() time.Time { return now }})
	defer m.Close()
	a, b := m.Open("192.0.2.7:7000"), m.Open("192.0.2.7:7001")
	for range 10 {
		now = now.Add(100 * time.Millisecond)
		a.Update(300_000, 300_000, congestion.NoLoss, 40*time.Millisecond) // 3 MB/s
		b.Update(100_000, 100_000, congestion.NoLoss, 40*time.Millisecond) // 1 MB/s
	}
	e, _ := m.Query(a.Macroflow())
	fmt.Printf("%s: %.1f MB/s, RTT %v\n", a.Macroflow(), e.Rate/1e6, e.RTT)
	// Output: 192.0.2.7: 4.0 MB/s, RTT 40ms
}
