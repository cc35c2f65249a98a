package main

import (
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// series is one row of the chart: a scenario's mean throughput and latencies.
type series struct {
	name     string
	rps      float64
	p50, p99 time.Duration
}

// chartRows collects the HTTP scenarios (first occurrence of each key) and the Go-driven
// ones, in report order.
func (s *suite) chartRows() (httpRows, driverRows []series) {
	seen := map[string]bool{}
	for _, g := range s.groups {
		for _, v := range append([]*variant{g.baseline}, g.variants...) {
			if v.skip != "" || len(v.legs) == 0 || seen[v.key] {
				continue
			}
			seen[v.key] = true
			httpRows = append(httpRows, series{name: v.key, rps: meanOf(v, thrRPS),
				p50: meanDur(v, func(l leg) time.Duration { return l.lat.p50 }),
				p99: meanDur(v, func(l leg) time.Duration { return l.lat.p99 })})
		}
	}
	add := func(name string, ls []driverLeg) {
		if len(ls) > 0 {
			driverRows = append(driverRows, series{name: name,
				rps: meanDriver(ls, func(l driverLeg) float64 { return l.rps }),
				p50: time.Duration(meanDriver(ls, func(l driverLeg) float64 { return float64(l.p50) })),
				p99: time.Duration(meanDriver(ls, func(l driverLeg) float64 { return float64(l.p99) }))})
		}
	}
	for _, r := range s.refresh {
		add("refresh-"+r.alg, r.legs)
	}
	if s.login != nil {
		add("login (burst)", s.login.legs)
	}
	return httpRows, driverRows
}

// chart writes an SVG of four panels: throughput and latency of the HTTP scenarios,
// then of the refresh and login drivers.
func (s *suite) chart(path string) error {
	httpRows, driverRows := s.chartRows()
	if len(httpRows) == 0 {
		return fmt.Errorf("nothing was measured")
	}
	rows := [][]*plot.Plot{}
	for _, set := range []struct {
		rows  []series
		what  string
		latAt string
	}{
		{httpRows, fmt.Sprintf("requests/s at %d connections", s.opts.plan.conns), fmt.Sprintf("latency at a fixed %d req/s (ms)", s.opts.plan.rate)},
		{driverRows, fmt.Sprintf("operations/s (refresh: %d sessions in a loop; login: bursts of %d)", s.opts.sessions, s.opts.logins), "latency (ms)"},
	} {
		if len(set.rows) == 0 {
			continue
		}
		thr, err := barPlot(set.rows, set.what, false)
		if err != nil {
			return err
		}
		lat, err := barPlot(set.rows, set.latAt, true)
		if err != nil {
			return err
		}
		rows = append(rows, []*plot.Plot{thr, lat})
	}
	height := vg.Length(0)
	for _, r := range [][]series{httpRows, driverRows} {
		if len(r) > 0 {
			height += vg.Length(len(r))*0.42*vg.Inch + 1.2*vg.Inch
		}
	}
	var c vg.CanvasWriterTo = vgsvg.New(12*vg.Inch, height)
	if filepath.Ext(path) == ".png" {
		c = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(12*vg.Inch, height), vgimg.UseDPI(110))}
	}
	dc := draw.New(c)
	tiles := draw.Tiles{Rows: len(rows), Cols: 2, PadX: vg.Inch / 4, PadY: vg.Inch / 4,
		PadTop: vg.Inch / 8, PadBottom: vg.Inch / 8, PadLeft: vg.Inch / 8, PadRight: vg.Inch / 4}
	canvases := plot.Align(rows, tiles, dc)
	for i := range rows {
		for j := range rows[i] {
			rows[i][j].Draw(canvases[i][j])
		}
	}
	f, err := os.Create(path) //nolint:gosec // G304: the results directory of this run
	if err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	if _, err := c.WriteTo(f); err != nil {
		_ = f.Close()
		return fmt.Errorf("chart: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	return nil
}

// barPlot draws horizontal bars, one per row: throughput, or p50 and p99 side by side.
func barPlot(rows []series, title string, latency bool) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	names := make([]string, len(rows))
	for i, r := range rows {
		names[len(rows)-1-i] = r.name // first row on top
	}
	p.NominalY(names...)
	p.X.Min = 0
	values := func(f func(series) float64) plotter.Values {
		vs := make(plotter.Values, len(rows))
		for i, r := range rows {
			vs[len(rows)-1-i] = f(r)
		}
		return vs
	}
	w := vg.Points(11)
	add := func(vs plotter.Values, offset vg.Length, c color.Color, legend string) error {
		bc, err := plotter.NewBarChart(vs, w)
		if err != nil {
			return fmt.Errorf("chart: %w", err)
		}
		bc.Horizontal, bc.Offset, bc.Color, bc.LineStyle.Width = true, offset, c, 0
		p.Add(bc)
		if legend != "" {
			p.Legend.Add(legend, bc)
		}
		return nil
	}
	if !latency {
		return p, add(values(func(r series) float64 { return r.rps }), 0, color.RGBA{R: 0x3b, G: 0x6e, B: 0xa8, A: 0xff}, "")
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	if err := add(values(func(r series) float64 { return ms(r.p50) }), w/2, color.RGBA{R: 0x8c, G: 0xb3, B: 0xd9, A: 0xff}, "p50"); err != nil {
		return nil, err
	}
	if err := add(values(func(r series) float64 { return ms(r.p99) }), -w/2, color.RGBA{R: 0xc0, G: 0x50, B: 0x4d, A: 0xff}, "p99"); err != nil {
		return nil, err
	}
	p.Legend.Top = true
	return p, nil
}
