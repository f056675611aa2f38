// Package bench runs the reference training workload that gradsweep is
// measured by, the same one as its yardsticks torch_mlp.py (PyTorch) and
// numpy_mlp.py in this folder, which scripts/bench.py runs beside it: an MLP (by
// default 784-128-64-10) with ReLU hidden activations, softmax
// cross-entropy, plain SGD (lr 0.05), float32, one pass over the first N
// MNIST training images in order (no shuffle), on Options.Threads threads
// (matrix products split over them, see internal/threads; the numbers do
// not depend on it).
package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/data"
	"github.com/gradsweep/gradsweep/framework/mat"
	"github.com/gradsweep/gradsweep/framework/safetensors"
	"github.com/gradsweep/gradsweep/internal/gemm"
	"github.com/gradsweep/gradsweep/internal/threads"
	_ "github.com/gradsweep/gradsweep/plugins"
)

// Options describe one benchmark run. Zero values mean the reference
// workload's settings.
type Options struct {
	Batch     int    // default 32
	Samples   int    // default 60000
	Arch      string // "784,128,64,10" (dashes also accepted)
	Optimizer string // sgd (default), momentum (μ = 0.9), adam (lr/50), as torch_mlp.py
	LR        float64
	MNISTDir  string // IDX folder; "" uses synthetic data of the same shape
	Init      string // safetensors file of initial weights (torch_mlp.py --save-init)
	// Activation is the hidden layers' activation, one of Activations
	// (default relu); leaky_relu has slope 0.01, as nn.LeakyReLU.
	Activation string
	// Threads is the number of threads the training may use (default: all
	// cores, runtime.NumCPU); 1 is one thread, as the one-thread yardsticks.
	Threads int
}

// Activations are the hidden activations the workload offers, as the
// yardsticks' --activation.
var Activations = []string{"relu", "leaky_relu", "tanh", "sigmoid"}

// Result is the JSON line the benchmark prints; field names follow
// torch_mlp.py so the two can be compared directly.
type Result struct {
	Peer        string  `json:"peer"`
	Arch        string  `json:"arch"`
	Batch       int     `json:"batch"`
	Threads     int     `json:"threads"`
	Opt         string  `json:"opt"`
	Activation  string  `json:"activation"`
	Data        string  `json:"data"`
	Kernel      string  `json:"kernel"`
	Samples     int     `json:"samples"`
	SamplesPerS float64 `json:"samples_per_s"`
	StepsPerS   float64 `json:"steps_per_s"`
	Seconds     float64 `json:"seconds"`
	FinalLoss   float64 `json:"final_loss"`
	MeanLoss    float64 `json:"mean_loss"`
}

// ParseArch reads "784,128,64,10" or "784-128-64-10".
func ParseArch(s string) ([]int, error) {
	parts := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '-' || r == 'x' })
	if len(parts) < 2 {
		return nil, fmt.Errorf("--arch %q: want at least input and output widths, e.g. 784,128,64,10", s)
	}
	dims := make([]int, len(parts))
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("--arch %q: %q is not a positive width", s, p)
		}
		dims[i] = n
	}
	return dims, nil
}

func (o *Options) defaults() {
	if o.Batch == 0 {
		o.Batch = 32
	}
	if o.Samples == 0 {
		o.Samples = 60000
	}
	if o.Arch == "" {
		o.Arch = "784,128,64,10"
	}
	if o.Optimizer == "" {
		o.Optimizer = "sgd"
	}
	if o.LR == 0 {
		o.LR = 0.05
	}
	if o.Activation == "" {
		o.Activation = "relu"
	}
	if o.Threads <= 0 {
		o.Threads = runtime.NumCPU()
	}
}

// checkActivation reports an activation the workload does not offer.
func checkActivation(a string) error {
	if !slices.Contains(Activations, a) {
		return fmt.Errorf("--activation %q: the workload knows %s", a, strings.Join(Activations, ", "))
	}
	return nil
}

// Data loads the benchmark's data: the first n MNIST training images (or
// synthetic images of the same shape: pixels in [0,1], labels 0..classes-1).
func Data(dir string, n, inputs, classes int) (*framework.Dataset, string, error) {
	if dir != "" {
		d, err := data.LoadMNIST(dir, "train", n)
		if err != nil {
			return nil, "", err
		}
		if d.Len() < n {
			return nil, "", fmt.Errorf("MNIST has %d training images, fewer than --samples %d", d.Len(), n)
		}
		return d, "mnist", nil
	}
	rng := rand.New(rand.NewPCG(1, 2))
	d := &framework.Dataset{Name: "synthetic-mnist", Task: framework.Classification, X: mat.New(n, inputs), Labels: make([]int32, n)}
	for i := range d.X.Data {
		d.X.Data[i] = float32(rng.IntN(256)) / 255
	}
	for i := range d.Labels {
		d.Labels[i] = int32(rng.IntN(classes))
	}
	for c := 0; c < classes; c++ {
		d.Classes = append(d.Classes, strconv.Itoa(c))
	}
	return d, "synthetic", nil
}

// Model builds the benchmark MLP: dense layers with the activation act
// between them, initialised like nn.Linear, or from a safetensors file.
func Model(dims []int, act, initFile string) (*framework.Model, error) {
	m, err := framework.NewModel(framework.Layers, layerSpecs(dims, act), dims[0], framework.NewTrainRand(0, 0))
	if err != nil {
		return nil, err
	}
	if initFile != "" {
		ts, _, err := safetensors.ReadFile(initFile)
		if err != nil {
			return nil, err
		}
		sd := map[string]framework.Tensor{}
		for k, t := range ts {
			sd[k] = framework.Tensor{Shape: t.Shape, Data: t.Data}
		}
		if err := m.LoadStateDict(sd); err != nil {
			return nil, fmt.Errorf("%s: %w", initFile, err)
		}
	}
	return m, nil
}

// layerSpecs are the benchmark MLP's layers: dense layers of the widths
// dims[1:], with the activation act between them.
func layerSpecs(dims []int, act string) []framework.LayerSpec {
	var specs []framework.LayerSpec
	for i := 1; i < len(dims); i++ {
		specs = append(specs, framework.LayerSpec{Type: "dense", Options: map[string]any{"units": dims[i]}})
		if i < len(dims)-1 {
			specs = append(specs, framework.LayerSpec{Type: act})
		}
	}
	return specs
}

// Trainer builds the benchmark trainer over d.
func Trainer(o Options, d *framework.Dataset) (*framework.Trainer, error) {
	o.defaults()
	dims, err := ParseArch(o.Arch)
	if err != nil {
		return nil, err
	}
	if dims[0] != d.X.Cols {
		return nil, fmt.Errorf("--arch input width %d does not match the data's %d features", dims[0], d.X.Cols)
	}
	if err := checkActivation(o.Activation); err != nil {
		return nil, err
	}
	m, err := Model(dims, o.Activation, o.Init)
	if err != nil {
		return nil, err
	}
	loss, _ := framework.Losses.New("cross_entropy", nil)
	lr := o.LR
	var opt framework.Optimizer
	switch o.Optimizer {
	case "sgd":
		opt, err = framework.Optimizers.New("sgd", nil)
	case "momentum":
		opt, err = framework.Optimizers.New("momentum", map[string]any{"momentum": 0.9})
	case "adam":
		opt, err = framework.Optimizers.New("adam", nil)
		lr /= 50
	default:
		err = fmt.Errorf("--optimizer %q: the workload knows sgd, momentum, adam", o.Optimizer)
	}
	if err != nil {
		return nil, err
	}
	return &framework.Trainer{Model: m, Loss: loss, Optimizer: opt,
		Config: framework.TrainConfig{LearningRate: lr, BatchSize: o.Batch, Epochs: 1, Shuffle: false, DivergeFactor: -1}}, nil
}

// lossRecorder keeps the last batch loss and the sample-weighted mean.
type lossRecorder struct {
	last, sum float64
	n         int
}

func (l *lossRecorder) Iteration(s framework.IterationStats) {
	l.last = s.Loss
	l.sum += s.Loss * float64(s.BatchSize)
	l.n += s.BatchSize
}
func (l *lossRecorder) Epoch(framework.EpochStats) {}

// Run trains one pass and measures it. The model is built before the
// clock starts, as in torch_mlp.py.
func Run(o Options) (Result, error) {
	o.defaults()
	dims, err := ParseArch(o.Arch)
	if err != nil {
		return Result{}, err
	}
	if o.Batch < 1 || o.Samples < o.Batch {
		return Result{}, fmt.Errorf("need 1 ≤ --batch ≤ --samples, got batch %d, samples %d", o.Batch, o.Samples)
	}
	// The same memory limits as an experiment's model and data, checked
	// before anything is allocated.
	if err := checkActivation(o.Activation); err != nil {
		return Result{}, err
	}
	if err := framework.CheckModelSize(framework.Layers, layerSpecs(dims, o.Activation), dims[0], o.Batch); err != nil {
		return Result{}, fmt.Errorf("--arch: %w", err)
	}
	if err := data.CheckSize("--samples", int64(o.Samples), int64(dims[0])); err != nil {
		return Result{}, err
	}
	d, kind, err := Data(o.MNISTDir, o.Samples, dims[0], dims[len(dims)-1])
	if err != nil {
		return Result{}, err
	}
	tr, err := Trainer(o, d)
	if err != nil {
		return Result{}, err
	}
	rec := &lossRecorder{}
	tr.Observer = rec
	prev := runtime.GOMAXPROCS(o.Threads)
	defer runtime.GOMAXPROCS(prev)
	defer threads.SetLimit(threads.SetLimit(o.Threads))
	runtime.GC() // the data's loading garbage is not the training's
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start := time.Now()
	res, err := tr.Train(context.Background(), d, nil)
	secs := time.Since(start).Seconds()
	if err != nil {
		return Result{}, err
	}
	return Result{Peer: "gradsweep-" + runtime.Version(), Arch: o.Arch, Batch: o.Batch, Threads: o.Threads, Opt: o.Optimizer, Activation: o.Activation, Data: kind,
		Kernel: gemm.Kernel(), Samples: res.Samples, SamplesPerS: float64(res.Samples) / secs, StepsPerS: float64(res.Iterations) / secs,
		Seconds: secs, FinalLoss: rec.last, MeanLoss: rec.sum / float64(rec.n)}, nil
}
