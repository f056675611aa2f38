package framework

import "github.com/gradsweep/gradsweep/framework/mat"

// Task says what a data set's targets are.
type Task string

const (
	// Classification targets are integer class indices in Labels.
	Classification Task = "classification"
	// Regression targets are real values in Y (one column per output).
	Regression Task = "regression"
)

// Dataset is an in-memory table of samples: row i of X is one sample's
// features, and its target is Labels[i] (classification) or row i of Y
// (regression).
type Dataset struct {
	Name     string
	Task     Task
	X        *mat.Matrix // N × features
	Y        *mat.Matrix // N × outputs, regression only (nil for classification)
	Labels   []int32     // N class indices in [0, len(Classes)), classification only
	Classes  []string    // class names, classification only
	Features []string    // feature (column) names, may be nil
}

// Len is the number of samples.
func (d *Dataset) Len() int { return d.X.Rows }

// Outputs is the width the model's last layer must have for this data set:
// the number of classes for classification (or 1 for binary classification
// with a logit output, accepted by the losses that take it), or the number
// of target columns for regression.
func (d *Dataset) Outputs() int {
	if d.Task == Classification {
		return len(d.Classes)
	}
	return d.Y.Cols
}
