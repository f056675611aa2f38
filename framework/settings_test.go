package framework_test

import (
	"testing"

	"github.com/gradsweep/gradsweep/framework"
)

// A trial's typed settings are decoded from its stored params by the
// schema's own decoders: "full" is batch size 0, nested keys reach
// training.stop, a key another version stored is ignored, and a value that
// does not decode keeps its default without hiding the other settings.
func TestTrialSettings(t *testing.T) {
	p := framework.TrialPlan{Params: map[string]any{
		"training.learning_rate": 0.05, "training.batch_size": "full", "training.epochs": 7,
		"training.stop.target_loss": 0.1, "training.from_the_future": 1, "training.shuffle": "no",
		"dataset.builtin": "iris", "dataset.validation_split": 0.25,
		"optimizer.type": "adam", "loss.type": "cross_entropy",
	}}
	s := p.Settings()
	tr := s.Training
	if tr.LearningRate != 0.05 || tr.BatchSize != 0 || tr.Epochs != 7 || !tr.HasTargetLoss || tr.TargetLoss != 0.1 ||
		!tr.Shuffle || tr.DivergeFactor != 1e4 {
		t.Errorf("training: %+v", tr)
	}
	if s.ValidationSplit != 0.25 || s.Optimizer != "adam" || s.Loss != "cross_entropy" {
		t.Errorf("settings: %+v", s)
	}
	if s := (framework.TrialPlan{}).Settings(); s.Training.LearningRate != 0 || s.Training.BatchSize != 0 || !s.Training.Shuffle {
		t.Errorf("no params: %+v", s)
	}
}
