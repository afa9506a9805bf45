package lab

import (
	"fmt"
	"html"
	"math"
	"strings"
	"unicode/utf8"
)

// palette colours the cases, in order; it repeats past eight cases.
var palette = []string{"#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f"}

// SVG draws the summaries as a grouped bar chart: one group per congestion
// control, one bar per case at its mean goodput, a whisker from the minimum
// to the maximum run, a black tick at the model's equation (2) where the
// case has one, and "failed" where no run succeeded.
func (r *Results) SVG() string {
	const (
		barW, gap, groupGap = 34.0, 6.0, 36.0
		left, right, top    = 70.0, 20.0, 50.0
		plotH, legendLineH  = 300.0, 18.0
		axisLabelH          = 40.0
	)
	nCases := len(r.Cases)
	groupW := float64(nCases)*(barW+gap) - gap
	width := left + right + float64(len(r.Congestion))*(groupW+groupGap) - groupGap
	// Room for the title (bold 15 px: about 9 px a character) and legend.
	width = math.Max(width, math.Max(420, left+9*float64(utf8.RuneCountInString(r.Title))))
	height := top + plotH + axisLabelH + float64(nCases)*legendLineH + 20

	ymax := 0.0
	for _, s := range r.Summaries {
		ymax = math.Max(ymax, s.MaxMbps)
		if s.Model != nil && !math.IsInf(s.Model.Eq2, 0) {
			ymax = math.Max(ymax, s.Model.Eq2)
		}
	}
	step := niceStep(ymax / 5)
	ymax = math.Max(step, math.Ceil(ymax/step)*step)
	y := func(v float64) float64 { return top + plotH - v/ymax*plotH }

	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p(`<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	p(`<rect width="100%%" height="100%%" fill="white"/>` + "\n")
	p(`<text x="%.0f" y="24" font-size="15" font-weight="bold">%s</text>`+"\n", left, html.EscapeString(r.Title))
	decimals := max(0, -int(math.Floor(math.Log10(step))))
	for v := 0.0; v <= ymax+step/2; v += step {
		p(`<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", left, width-right, y(v), y(v))
		p(`<text x="%.1f" y="%.1f" text-anchor="end">%.*f</text>`+"\n", left-6, y(v)+4, decimals, v)
	}
	p(`<text transform="translate(18 %.1f) rotate(-90)" text-anchor="middle">goodput (Mbit/s)</text>`+"\n", top+plotH/2)
	// Spread the groups over the width, each centred in its slot.
	slot := (width - left - right) / float64(max(1, len(r.Congestion)))
	for g, cc := range r.Congestion {
		x0 := left + float64(g)*slot + (slot-groupW)/2
		for i, name := range r.Cases {
			s, ok := r.summary(cc, name)
			x := x0 + float64(i)*(barW+gap)
			color := palette[i%len(palette)]
			switch {
			case !ok || s.Runs == 0:
			case s.OK == 0:
				p(`<text x="%.1f" y="%.1f" text-anchor="middle" fill="#c00" font-size="10" transform="rotate(-90 %.1f %.1f)">failed</text>`+"\n",
					x+barW/2, y(0)-6, x+barW/2, y(0)-6)
			default:
				p(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s, %s: mean %.2f Mbit/s (%d runs)</title></rect>`+"\n",
					x, y(s.MeanMbps), barW, y(0)-y(s.MeanMbps), color, html.EscapeString(cc), html.EscapeString(name), s.MeanMbps, s.OK)
				cx := x + barW/2
				p(`<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#333"/>`+"\n", cx, cx, y(s.MinMbps), y(s.MaxMbps))
				for _, v := range []float64{s.MinMbps, s.MaxMbps} {
					p(`<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#333"/>`+"\n", cx-5, cx+5, y(v), y(v))
				}
				p(`<text x="%.1f" y="%.1f" text-anchor="middle" font-size="10">%s</text>`+"\n", cx, y(s.MaxMbps)-4, trimFloat(s.MeanMbps))
			}
			if ok && s.Model != nil && modelApplies(cc) && !math.IsInf(s.Model.Eq2, 0) {
				p(`<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="black" stroke-width="3"><title>model eq. (2): %.2f Mbit/s</title></line>`+"\n",
					x-2, x+barW+2, y(s.Model.Eq2), y(s.Model.Eq2), s.Model.Eq2)
			}
		}
		p(`<text x="%.1f" y="%.1f" text-anchor="middle" font-weight="bold">%s</text>`+"\n", x0+groupW/2, top+plotH+20, html.EscapeString(cc))
	}
	p(`<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="black"/>`+"\n", left, width-right, y(0), y(0))
	ly := top + plotH + axisLabelH
	for i, name := range r.Cases {
		p(`<rect x="%.1f" y="%.1f" width="12" height="12" fill="%s"/>`+"\n", left, ly+float64(i)*legendLineH, palette[i%len(palette)])
		p(`<text x="%.1f" y="%.1f">%s</text>`+"\n", left+18, ly+float64(i)*legendLineH+10, html.EscapeString(name))
	}
	note := "bars: mean; whiskers: min–max over runs"
	for _, s := range r.Summaries {
		if s.Model != nil {
			note += "; black tick: model eq. (2), for loss-based congestion control"
			break
		}
	}
	p(`<text x="%.1f" y="%.1f" font-size="10" fill="#555">%s</text>`+"\n", left, height-6, note)
	p("</svg>\n")
	return b.String()
}

// niceStep rounds v up to 1, 2 or 5 times a power of ten.
func niceStep(v float64) float64 {
	if v <= 0 {
		return 1
	}
	e := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*e >= v {
			return m * e
		}
	}
	return 10 * e
}

func trimFloat(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}
