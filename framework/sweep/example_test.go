package sweep_test

import (
	"context"
	"fmt"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/experiment"
	"github.com/gradsweep/gradsweep/framework/sweep"
	_ "github.com/gradsweep/gradsweep/plugins" // the built-in layers, losses, optimizers and pruners
)

// Running a sweep from Go: parse an experiment, prepare it against the
// plugin registries (every trial is checked before any trains), and run it.
// With no store the trials are claimed in memory; pass a store (package
// store/sqlite) to keep every number, and sinks for live metrics.
func ExampleRun() {
	e, err := experiment.Parse([]byte(`
name: example
seed: 1
dataset: {builtin: iris, standardize: true}
model: [{type: dense, units: 3}]
loss: cross_entropy
training: {learning_rate: 0.1, batch_size: 16, epochs: 5}
grid:
  training.learning_rate: [0.001, 0.1]
repeats: 2
`), "example.yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	p, err := sweep.Prepare(e, framework.Default())
	if err != nil {
		fmt.Println(err)
		return
	}
	sum, err := sweep.Run(context.Background(), p, sweep.Options{Workers: 2})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(sum.Counts[framework.Completed], "trials completed")
	fmt.Println("best learning rate:", sum.Best.Settings().Training.LearningRate, "by", e.Metric)
	// Output:
	// 4 trials completed
	// best learning rate: 0.1 by train_loss
}
