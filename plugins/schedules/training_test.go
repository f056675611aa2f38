package schedules_test

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/data"
	_ "github.com/gradsweep/gradsweep/plugins" // layers, losses, optimizers, schedules
)

const python = "/usr/bin/python3"

// torchTraining trains the same MLP in PyTorch from the same weights on
// the same batches (no shuffling) with plain SGD, calling the scheduler as
// the trainer does: scheduler.step() after every epoch, or after every
// optimizer.step() with interval iteration (plateau on the epoch's mean
// training loss). It prints each epoch's mean batch loss (weighted by
// batch size) and each update's learning rate.
const torchTraining = `
import json, sys, torch
cfg = json.load(sys.stdin)
torch.set_num_threads(1)
x = torch.tensor(cfg['x'], dtype=torch.float32); y = torch.tensor(cfg['y'])
model = torch.nn.Sequential(torch.nn.Linear(x.shape[1], 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
model.load_state_dict({k: torch.tensor(v['data'], dtype=torch.float32).reshape(v['shape']) for k, v in cfg['init'].items()})
opt = torch.optim.SGD(model.parameters(), lr=cfg['lr'])
S = torch.optim.lr_scheduler
o, n, iters = cfg['options'], x.shape[0], -(-x.shape[0] // cfg['batch'])
steps = cfg['epochs'] * (iters if cfg['interval'] == 'iteration' else 1)
make = {
  'step': lambda: S.StepLR(opt, o['step_size'], o.get('gamma', 0.1)),
  'exponential': lambda: S.ExponentialLR(opt, o['gamma']),
  'cosine': lambda: S.CosineAnnealingLR(opt, o['t_max'], o.get('eta_min', 0)),
  'onecycle': lambda: S.OneCycleLR(opt, o['max_lr'], total_steps=steps, cycle_momentum=False),
  'plateau': lambda: S.ReduceLROnPlateau(opt, patience=o['patience'], factor=o.get('factor', 0.1)),
}
w = cfg.get('warmup')
if w:
    first = S.LinearLR(opt, start_factor=w['start_factor'], total_iters=w['iterations'])
    sched = S.SequentialLR(opt, [first, make[cfg['schedule']]()], milestones=[w['iterations']])
else:
    sched = make[cfg['schedule']]()
loss_fn = torch.nn.CrossEntropyLoss()
losses, rates = [], []
for epoch in range(cfg['epochs']):
    total = 0.0
    for i in range(iters):
        xb, yb = x[i*cfg['batch']:(i+1)*cfg['batch']], y[i*cfg['batch']:(i+1)*cfg['batch']]
        rates.append(opt.param_groups[0]['lr'])
        opt.zero_grad(); loss = loss_fn(model(xb), yb); loss.backward(); opt.step()
        total += loss.item() * len(yb)
        if cfg['interval'] == 'iteration': sched.step()
    losses.append(total / n)
    if cfg['interval'] == 'epoch':
        sched.step(total / n) if cfg['schedule'] == 'plateau' else sched.step()
print(json.dumps({'losses': losses, 'rates': rates}))
`

// Whole trainings with a schedule match PyTorch's with the same scheduler
// calls: every update's learning rate to 1e-12 and every epoch's training
// loss to float32 rounding, per epoch and per iteration, behind a warmup
// too.
func TestTrainingAgainstPyTorch(t *testing.T) {
	if _, err := os.Stat(python); err != nil {
		t.Skipf("%s not found: scripts/test.sh installs python3-torch", python)
	}
	d, err := data.Synthetic("spirals", 60, 0.1, 3)
	if err != nil {
		t.Fatal(err)
	}
	cases := []framework.ScheduleSpec{
		{Type: "step", Options: map[string]any{"step_size": 3, "gamma": 0.5}},
		{Type: "exponential", Options: map[string]any{"gamma": 0.97}, Interval: framework.IntervalIteration},
		{Type: "onecycle", Options: map[string]any{"max_lr": 0.8}},
		{Type: "cosine", Options: map[string]any{"t_max": 6}, Warmup: framework.Warmup{Iterations: 3, StartFactor: 0.25}},
		{Type: "plateau", Options: map[string]any{"patience": 1, "factor": 0.5}},
	}
	for _, spec := range cases {
		t.Run(spec.Type, func(t *testing.T) {
			goLosses, goRates, init := trainGo(t, d, spec)
			cfg := map[string]any{"x": rows(d), "y": d.Labels, "init": init, "lr": 0.3, "epochs": 10, "batch": 16,
				"schedule": spec.Type, "options": spec.Options, "interval": interval(t, spec)}
			if spec.Warmup.Iterations > 0 {
				cfg["warmup"] = map[string]any{"iterations": spec.Warmup.Iterations, "start_factor": spec.Warmup.StartFactor}
			}
			in, _ := json.Marshal(cfg)
			cmd := exec.Command(python, "-c", torchTraining)
			cmd.Stdin = strings.NewReader(string(in))
			cmd.Env = append(os.Environ(), "OPENBLAS_CORETYPE=SkylakeX")
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("torch: %v", err)
			}
			var torch struct{ Losses, Rates []float64 }
			if err := json.Unmarshal(out, &torch); err != nil {
				t.Fatal(err)
			}
			if len(torch.Rates) != len(goRates) || len(torch.Losses) != len(goLosses) {
				t.Fatalf("%d rates, %d losses; torch %d, %d", len(goRates), len(goLosses), len(torch.Rates), len(torch.Losses))
			}
			for i := range goRates {
				if math.Abs(goRates[i]-torch.Rates[i]) > 1e-12*torch.Rates[i] {
					t.Errorf("update %d: rate %v, torch %v", i+1, goRates[i], torch.Rates[i])
				}
			}
			for i := range goLosses {
				if math.Abs(goLosses[i]-torch.Losses[i]) > 2e-5*torch.Losses[i] {
					t.Errorf("epoch %d: loss %v, torch %v", i+1, goLosses[i], torch.Losses[i])
				}
			}
		})
	}
}

// interval is the spec's interval, or its schedule's default.
func interval(t *testing.T, spec framework.ScheduleSpec) string {
	_, iv, err := framework.NewSchedule(framework.Schedules, spec)
	if err != nil {
		t.Fatal(err)
	}
	return iv
}

// trainGo trains the MLP 2-8-2 (ReLU) with SGD at rate 0.3, batch 16, 10
// epochs, unshuffled, under spec; it returns the epochs' losses, the rate
// of every update and the initial weights.
func trainGo(t *testing.T, d *framework.Dataset, spec framework.ScheduleSpec) (losses, rates []float64, init map[string]any) {
	layers := []framework.LayerSpec{{Type: "dense", Options: map[string]any{"units": 8}}, {Type: "relu"}, {Type: "dense", Options: map[string]any{"units": 2}}}
	m, err := framework.NewModel(framework.Layers, layers, 2, framework.NewTrainRand(7, 0))
	if err != nil {
		t.Fatal(err)
	}
	init = map[string]any{}
	for _, p := range m.Params() {
		init[p.Name] = map[string]any{"shape": p.Shape, "data": slices.Clone(p.Value)}
	}
	sched, iv, err := framework.NewSchedule(framework.Schedules, spec)
	if err != nil {
		t.Fatal(err)
	}
	spec.Interval = iv
	loss, _ := framework.Losses.New("cross_entropy", nil)
	opt, _ := framework.Optimizers.New("sgd", nil)
	rec := &recorder{}
	tr := &framework.Trainer{Model: m, Loss: loss, Optimizer: opt, Schedule: sched, Observer: rec,
		Config: framework.TrainConfig{LearningRate: 0.3, BatchSize: 16, Epochs: 10, Schedule: spec, DivergeFactor: -1}}
	if _, err := tr.Train(context.Background(), d, nil); err != nil {
		t.Fatal(err)
	}
	return rec.losses, rec.rates, init
}

type recorder struct{ losses, rates []float64 }

func (r *recorder) Iteration(s framework.IterationStats) { r.rates = append(r.rates, s.LearningRate) }
func (r *recorder) Epoch(s framework.EpochStats)         { r.losses = append(r.losses, s.TrainLoss) }

// rows is the data's features as rows.
func rows(d *framework.Dataset) [][]float32 {
	out := make([][]float32, d.Len())
	for i := range out {
		out[i] = d.X.Row(i)
	}
	return out
}
