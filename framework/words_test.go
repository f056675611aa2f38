package framework

import "testing"

func TestCount(t *testing.T) {
	if got := Count(1, "epoch", "epochs") + ", " + Count(0, "output", "outputs") + ", " + Count(2, "class", "classes"); got != "1 epoch, 0 outputs, 2 classes" {
		t.Error(got)
	}
}
