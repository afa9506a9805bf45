package lab

import (
	"math"
	"testing"
	"time"
)

// TestPredict_figure6 checks the model on seed 002's Figure 6: A–B 10 ms and
// 0.1%, B–C 10 ms and 0.2%, A–C 20 ms and 0.3%.
func TestPredict_figure6(t *testing.T) {
	ab := Hop{RTT: 10 * time.Millisecond, Loss: 0.001}
	bc := Hop{RTT: 10 * time.Millisecond, Loss: 0.002}
	ac := Hop{RTT: 20 * time.Millisecond, Loss: 0.003}
	near := func(got, want, tol float64) bool { return math.Abs(got-want) <= tol*want }

	// The paper's numbers (9.0 and 22.2 Mbit/s) come from 1 KB packets.
	direct := Predict([]string{"a", "c"}, []Hop{ac}, 1000)
	chain := Predict([]string{"a", "b", "c"}, []Hop{ab, bc}, 1000)
	if !near(direct.Eq2, 9.0, 0.03) || !near(chain.Eq2, 22.2, 0.03) {
		t.Errorf("1 KB packets: direct %.2f, chain %.2f Mbit/s; paper 9.0 and 22.2", direct.Eq2, chain.Eq2)
	}
	// Equation (3) treats the detour as one path: no better than direct.
	if !near(chain.Eq3, direct.Eq2, 0.01) {
		t.Errorf("eq (3) for the chain %.2f, want about direct's %.2f", chain.Eq3, direct.Eq2)
	}
	if r := chain.Eq2 / direct.Eq2; !near(r, 2*math.Sqrt(1.5), 1e-9) {
		t.Errorf("chain/direct = %.4f, want 2·√1.5 = 2.449", r)
	}
	// With the lab's MSS.
	d := Predict(nil, []Hop{ac}, ModelMSS)
	if !near(d.Eq2, 12.95, 0.005) {
		t.Errorf("MSS 1448: direct %.3f Mbit/s, want 12.95", d.Eq2)
	}
	// The full form is lower than the simple one (timeouts).
	if !(d.Eq1Full < d.Eq2 && d.Eq1Full > 0.8*d.Eq2) {
		t.Errorf("full eq (1) %.2f vs simple %.2f", d.Eq1Full, d.Eq2)
	}
	if l := Predict(nil, []Hop{{RTT: time.Millisecond}}, ModelMSS); !math.IsInf(l.Eq2, 1) {
		t.Errorf("lossless hop: %v, want +Inf", l.Eq2)
	}
}
