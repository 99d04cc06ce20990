// Package plot draws a finetune run's train and eval loss curves to a PNG.
package plot

import (
	"fmt"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// Series is one named curve of (step, loss) points.
type Series struct {
	Name string
	X, Y []float64
}

// Loss writes a PNG of the series to path (written to a temporary file and
// renamed).
func Loss(path, title string, series ...Series) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "step"
	p.Y.Label.Text = "loss (nats/token)"
	p.Add(plotter.NewGrid())
	for i, s := range series {
		if len(s.X) == 0 {
			continue
		}
		xy := make(plotter.XYs, len(s.X))
		for j := range s.X {
			xy[j].X, xy[j].Y = s.X[j], s.Y[j]
		}
		l, err := plotter.NewLine(xy)
		if err != nil {
			return fmt.Errorf("plot %s: %w", path, err)
		}
		l.Color = plotColor(i)
		l.Width = vg.Points(1.5)
		p.Add(l)
		p.Legend.Add(s.Name, l)
	}
	p.Legend.Top = true
	tmp := filepath.Join(filepath.Dir(path), ".plot-tmp.png")
	if err := p.Save(8*vg.Inch, 5*vg.Inch, tmp); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("plot %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("plot %s: %w", path, err)
	}
	return nil
}
