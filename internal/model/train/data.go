package train

import (
	"errors"
	"fmt"
	"math"
)

// Data is a training set: rows of feature values in the order of
// Features, and the outcome (label) of each row. NaN marks a missing
// feature value; labels must be finite numbers.
type Data struct {
	// Features names the columns of every row; the model keeps the names,
	// and a row given to it later must follow the same order.
	Features []string
	// Rows holds one []float64 per example, of len(Features) values.
	Rows [][]float64
	// Labels holds the outcome of each row.
	Labels []float64
}

// check reports the first problems of d.
func (d *Data) check() error {
	var errs []error
	if len(d.Features) == 0 {
		errs = append(errs, errors.New("train: no features"))
	}
	seen := make(map[string]bool, len(d.Features))
	for i, name := range d.Features {
		switch {
		case name == "":
			errs = append(errs, fmt.Errorf("train: feature %d has no name", i))
		case seen[name]:
			errs = append(errs, fmt.Errorf("train: feature %q appears twice", name))
		}
		seen[name] = true
	}
	if len(d.Rows) != len(d.Labels) {
		errs = append(errs, fmt.Errorf("train: %d rows but %d labels", len(d.Rows), len(d.Labels)))
	}
	if len(d.Rows) < 2 {
		errs = append(errs, fmt.Errorf("train: %d rows; at least 2 are needed", len(d.Rows)))
	}
	if len(d.Rows) > math.MaxInt32 {
		errs = append(errs, fmt.Errorf("train: %d rows; at most %d", len(d.Rows), math.MaxInt32))
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	for i, row := range d.Rows {
		if len(row) != len(d.Features) {
			return fmt.Errorf("train: row %d has %d values for %d features", i, len(row), len(d.Features))
		}
		for j, v := range row {
			if math.IsInf(v, 0) {
				return fmt.Errorf("train: row %d: %s is %v (use NaN for a missing value)", i, d.Features[j], v)
			}
		}
		if y := d.Labels[i]; math.IsNaN(y) || math.IsInf(y, 0) {
			return fmt.Errorf("train: row %d: label %v is not a finite number", i, y)
		}
	}
	return nil
}
