package hls

import (
	"slices"
	"testing"
)

func ladder(bws ...int64) []Variant {
	vs := make([]Variant, len(bws))
	for i, bw := range bws {
		vs[i] = Variant{URI: string(rune('a' + i)), Bandwidth: bw}
	}
	return vs
}

func TestOrder(t *testing.T) {
	const M = 1_000_000
	for _, tc := range []struct {
		name   string
		bws    []int64
		limit  float64
		filter bool
		want   []int
	}{
		{"ascending ladder, middle rate", []int64{1 * M, 3 * M, 6 * M}, 4 * M, false, []int{1, 0, 2}},
		{"descending ladder, middle rate", []int64{6 * M, 3 * M, 1 * M}, 4 * M, false, []int{1, 2, 0}},
		{"all sustainable", []int64{1 * M, 3 * M, 6 * M}, 100 * M, false, []int{2, 1, 0}},
		{"none sustainable: lowest first", []int64{3 * M, 1 * M, 6 * M}, 0.5 * M, false, []int{1, 0, 2}},
		{"exactly at the limit is sustainable", []int64{1 * M, 2 * M}, 2 * M, false, []int{1, 0}},
		{"no rate sustains nothing", []int64{2 * M, 1 * M}, 0, false, []int{1, 0}},
		{"ties keep the playlist's order", []int64{2 * M, 2 * M, 1 * M}, 3 * M, false, []int{0, 1, 2}},
		{"unsustainable nearest first", []int64{9 * M, 1 * M, 5 * M, 7 * M}, 2 * M, false, []int{1, 2, 3, 0}},
		{"filter drops the unsustainable", []int64{1 * M, 3 * M, 6 * M}, 4 * M, true, []int{1, 0}},
		{"filter keeps the lowest when none is sustainable", []int64{3 * M, 1 * M, 6 * M}, 0.5 * M, true, []int{1}},
		{"filter keeps all when all are sustainable", []int64{1 * M, 3 * M}, 10 * M, true, []int{1, 0}},
		{"one variant", []int64{5 * M}, 1 * M, true, []int{0}},
		{"no variant", nil, 1 * M, true, []int{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Order(ladder(tc.bws...), tc.limit, tc.filter)
			if !slices.Equal(got, tc.want) {
				t.Errorf("Order(%v, %v, filter %v) = %v, want %v", tc.bws, tc.limit, tc.filter, got, tc.want)
			}
		})
	}
}

func TestIdentity(t *testing.T) {
	for _, tc := range []struct {
		order []int
		n     int
		want  bool
	}{
		{[]int{0, 1, 2}, 3, true},
		{[]int{0, 2, 1}, 3, false},
		{[]int{0, 1}, 3, false},
		{nil, 0, true},
	} {
		if got := Identity(tc.order, tc.n); got != tc.want {
			t.Errorf("Identity(%v, %d) = %v, want %v", tc.order, tc.n, got, tc.want)
		}
	}
}
