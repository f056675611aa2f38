package data

import (
	"bytes"
	"compress/gzip"
	"embed"
	"fmt"
	"io"
	"strings"

	"github.com/gradsweep/gradsweep/framework"
)

// The built-in data sets, embedded in the binary. See builtin/ATTRIBUTION.md
// for their sources and licence (UCI Machine Learning Repository, CC BY 4.0).
//
//go:embed builtin/iris.csv builtin/digits.csv.gz builtin/ATTRIBUTION.md
var builtinFS embed.FS

type builtinSpec struct {
	file   string // inside builtinFS
	target string // target column
}

var builtins = map[string]builtinSpec{
	// Fisher's iris (1936): 150 samples, 4 features (sepal/petal length and
	// width in cm), 3 classes of 50: setosa, versicolor, virginica (labels
	// 0, 1, 2, in order of first appearance in the file).
	"iris": {file: "builtin/iris.csv", target: "species"},
	// Optical recognition of handwritten digits (Alpaydin & Kaynak, 1998):
	// 1797 samples of 8×8 grey levels 0..16 (64 features pixel_0..pixel_63,
	// not rescaled), 10 classes "0".."9" where label i is digit i.
	"digits": {file: "builtin/digits.csv.gz", target: "digit"},
}

// BuiltinNames returns the names Builtin accepts, sorted: "digits", "iris".
func BuiltinNames() []string { return []string{"digits", "iris"} }

// Builtin returns one of the data sets embedded in the binary, parsed anew on
// each call (the caller owns the result):
//
//   - "iris": 150×4, classification, target "species", classes setosa,
//     versicolor, virginica (50 each).
//   - "digits": 1797×64, classification, target "digit", classes "0".."9"
//     (label i is digit i); features are raw grey levels 0..16.
//
// Both are from the UCI Machine Learning Repository under CC BY 4.0; see
// builtin/ATTRIBUTION.md.
func Builtin(name string) (*framework.Dataset, error) {
	spec, ok := builtins[name]
	if !ok {
		return nil, fmt.Errorf("data: unknown built-in data set %q (known: %s)", name, strings.Join(BuiltinNames(), ", "))
	}
	raw, err := builtinFS.ReadFile(spec.file)
	if err != nil {
		return nil, fmt.Errorf("data: built-in %q: %w", name, err)
	}
	var r io.Reader = bytes.NewReader(raw)
	if strings.HasSuffix(spec.file, ".gz") {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("data: built-in %q: %w", name, err)
		}
		r = zr
	}
	d, err := ParseCSV(r, spec.file, CSVOptions{Target: spec.target, Task: framework.Classification})
	if err != nil {
		return nil, err
	}
	d.Name = name
	return d, nil
}

// BuiltinSource is the data source `builtin: NAME`: a data set embedded in
// the binary (classification).
type BuiltinSource struct {
	Name string `opt:"builtin" enum:"digits,iris" required:"true" doc:"the data set: iris (150 flowers, 4 features, 3 classes) or digits (1,797 8×8 images, 10 classes)"`
}

func init() {
	framework.Sources.Register(framework.Plugin[framework.DataSource]{Name: "builtin",
		Doc: "a data set embedded in the binary", New: func() framework.DataSource { return new(BuiltinSource) }})
}

// Load returns the embedded data set.
func (s *BuiltinSource) Load(framework.DataEnv) (*framework.Dataset, error) { return Builtin(s.Name) }
