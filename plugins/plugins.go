// Package plugins pulls every built-in layer, loss, optimizer, pruner,
// schedule and test function into a binary: import it for its side
// effect. An outside plugin is one more blank import in a custom main.
package plugins

import (
	_ "github.com/gradsweep/gradsweep/plugins/functions"
	_ "github.com/gradsweep/gradsweep/plugins/layers"
	_ "github.com/gradsweep/gradsweep/plugins/losses"
	_ "github.com/gradsweep/gradsweep/plugins/optimizers"
	_ "github.com/gradsweep/gradsweep/plugins/pruners"
	_ "github.com/gradsweep/gradsweep/plugins/schedules"
)
