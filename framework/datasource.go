package framework

// DataSource is a plugin kind: where a trial's data comes from. In an
// experiment file the source is named by the key that carries its main
// argument, which is the option named like the plugin:
//
//	dataset: {csv: data/houses.csv, target: price, validation_split: 0.2}
//
// is the source "csv" with options {csv: data/houses.csv, target: price};
// validation_split, standardize and limit apply to every source and are
// not the source's options. A new source is one file: a struct with `opt`
// tags (see DecodeOptions) that implements Load, registered in Sources.
type DataSource interface {
	// Load reads or generates the whole data set.
	Load(env DataEnv) (*Dataset, error)
}

// DataEnv is what a source needs beside its options.
type DataEnv struct {
	Dir   string // the experiment file's folder: relative paths start here
	Seed  uint64 // the sweep seed, for generated data
	Limit int    // the dataset's limit: a source may read only the first Limit samples (0: all)
}

// FileSource is implemented by sources that read files: the bytes of the
// files, in reading order, identify the data a sweep was run on.
type FileSource interface {
	Files(env DataEnv) ([]string, error)
}

// Sources is the default registry of data sources, filled by package
// framework/data.
var Sources = NewRegistry[DataSource]("data source")

// DataOptions are the dataset keys that apply to every data source.
type DataOptions struct {
	ValidationSplit float64 `opt:"validation_split" default:"0" range:"[0,1)" doc:"the fraction held out for validation, drawn with the sweep seed (the same for every trial)"`
	Standardize     bool    `opt:"standardize" default:"false" doc:"scale every feature to mean 0 and variance 1, fitted on the training split only"`
	Limit           int     `opt:"limit" default:"0" range:"[0,]" doc:"use only the first N samples (0: all); mnist reads no more than these"`
}

// ModelSource is a data source that sets the model and the loss itself:
// the `function` source trains a point on a test function. An experiment
// with such a source omits model and loss, and refuses the keys that do
// not apply to it (training.batch_size, validation_split, standardize).
type ModelSource interface {
	DataSource
	// Model returns the layers and the loss (its type and options).
	Model() (layers []LayerSpec, loss LayerSpec)
}
