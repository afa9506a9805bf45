package hls

import (
	"cmp"
	"slices"
)

// Order ranks variants for a client that can take limit bits per second
// (a measured rate times a headroom) and returns their indexes: the
// sustainable variants (Bandwidth ≤ limit) from the highest bandwidth
// down, then the others from the lowest up, variants of equal bandwidth in
// the playlist's order. Players start on the first one listed. With
// filter, only the sustainable variants are returned, or, if none is, the
// lowest one: never none. A limit of 0 or less sustains nothing.
func Order(variants []Variant, limit float64, filter bool) []int {
	idx := make([]int, len(variants))
	for i := range idx {
		idx[i] = i
	}
	ok := func(i int) bool { return float64(variants[i].Bandwidth) <= limit }
	slices.SortStableFunc(idx, func(a, b int) int {
		switch oa, ob := ok(a), ok(b); {
		case oa && !ob:
			return -1
		case !oa && ob:
			return 1
		case oa:
			return cmp.Compare(variants[b].Bandwidth, variants[a].Bandwidth) // best first
		default:
			return cmp.Compare(variants[a].Bandwidth, variants[b].Bandwidth) // nearest first
		}
	})
	if !filter || len(idx) == 0 {
		return idx
	}
	n := 1
	for n < len(idx) && ok(idx[n]) {
		n++
	}
	return idx[:n]
}

// Identity reports whether order lists every one of n variants in their
// playlist order: a rewrite would change nothing.
func Identity(order []int, n int) bool {
	if len(order) != n {
		return false
	}
	for i, v := range order {
		if v != i {
			return false
		}
	}
	return true
}
