package linkem

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestLoss_meanAndBursts(t *testing.T) {
	tests := []struct {
		name      string
		loss      Loss
		wantMean  float64
		wantBurst float64 // mean run of consecutive losses; 0 skips the check
	}{
		{"none", Loss{}, 0, 0},
		{"iid 1%", IID(0.01), 0.01, 1 / (1 - 0.01)},
		{"iid 30%", IID(0.3), 0.3, 1 / (1 - 0.3)},
		{"bursty 1% x4", Bursty(0.01, 4), 0.01, 4},
		{"bursty 5% x2", Bursty(0.05, 2), 0.05, 2},
		{"general GE", GilbertElliott(0.02, 0.25, 0.001, 0.5), (0.25*0.001 + 0.02*0.5) / 0.27, 0},
	}
	const n = 400_000
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.loss.Validate(); err != nil {
				t.Fatal(err)
			}
			if got := tt.loss.Mean(); math.Abs(got-tt.wantMean) > 1e-12 {
				t.Errorf("Mean() = %v, want %v", got, tt.wantMean)
			}
			s := lossState{Loss: tt.loss}
			rng := rand.New(rand.NewPCG(1, 2))
			lost, runs, inRun := 0, 0, false
			for range n {
				l := s.lose(rng)
				if l {
					lost++
					if !inRun {
						runs++
					}
				}
				inRun = l
			}
			got := float64(lost) / n
			// Five standard deviations of a binomial count, widened for
			// the correlation of bursty chains by the burst length.
			sd := math.Sqrt(tt.wantMean*(1-tt.wantMean)/n) * math.Max(1, 2*tt.loss.MeanBurst())
			if math.Abs(got-tt.wantMean) > 5*sd+1e-9 {
				t.Errorf("measured loss %.5f, want %.5f ± %.5f", got, tt.wantMean, 5*sd)
			}
			if tt.wantBurst > 0 && runs > 0 {
				burst := float64(lost) / float64(runs)
				if math.Abs(burst-tt.wantBurst)/tt.wantBurst > 0.05 {
					t.Errorf("mean burst %.3f, want %.3f", burst, tt.wantBurst)
				}
			}
		})
	}
}

func TestLoss_Validate(t *testing.T) {
	tests := []struct {
		loss    Loss
		wantErr string
	}{
		{IID(0), ""},
		{IID(1), ""},
		{IID(-0.1), "outside"},
		{IID(math.NaN()), "outside"},
		{GilbertElliott(0.1, 0, 0, 1), "forever"},
		{GilbertElliott(0.1, 1.5, 0, 1), "outside"},
	}
	for _, tt := range tests {
		err := tt.loss.Validate()
		if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("%+v.Validate() = %v, want error containing %q", tt.loss, err, tt.wantErr)
		}
	}
}

func TestLoss_String(t *testing.T) {
	for _, tt := range []struct {
		loss Loss
		want string
	}{
		{Loss{}, "none"},
		{IID(0.01), "1%"},
		{IID(0.003), "0.3%"},
		{Bursty(0.01, 4), "1% in bursts of 4 (Gilbert–Elliott p=0.002525 r=0.25 good=0 bad=1)"},
	} {
		if got := tt.loss.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}
