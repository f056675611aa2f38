package framework_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/gradsweep/gradsweep/framework"
)

// A layer's error is a *LayerError: the layer's index (and type, once it
// is built) are fields, and the message keeps naming them.
func TestLayerError(t *testing.T) {
	huge := framework.LayerSpec{Type: "dense", Options: map[string]any{"units": 2000000000}}
	for _, c := range []struct {
		name  string
		build func() error
		index int
		typ   string
		msg   string
	}{
		{"unknown layer", func() error {
			_, err := framework.NewModel(framework.Layers, []framework.LayerSpec{dense(4, "he"), act("reLU")}, 3, framework.NewTrainRand(0, 0))
			return err
		}, 1, "", `model layer 1: unknown layer "reLU"`},
		{"bad option, estimated", func() error {
			_, _, err := framework.EstimateModel(framework.Layers, []framework.LayerSpec{act("relu"), dense(-1, "he")}, 3, 8)
			return err
		}, 1, "", `model layer 1: layer "dense": option "units"`},
		{"too large", func() error {
			return framework.CheckModelSize(framework.Layers, []framework.LayerSpec{act("relu"), huge, act("relu")}, 3, 8)
		}, 1, "dense", "model layer 1 (dense): the model would need about"},
	} {
		err := c.build()
		var le *framework.LayerError
		if !errors.As(err, &le) || le.Index != c.index || le.Type != c.typ || !strings.HasPrefix(err.Error(), c.msg) {
			t.Errorf("%s: %v (%#v), want layer %d %q and a message starting %q", c.name, err, le, c.index, c.typ, c.msg)
		}
	}
}
