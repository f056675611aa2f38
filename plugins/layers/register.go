// Package layers holds the built-in layer plugins, one file each. Importing
// the package registers them in framework.Layers; Register adds them to any
// other registry (tests build fresh ones).
package layers

import "github.com/gradsweep/gradsweep/framework"

var builtins []framework.Plugin[framework.Layer]

// add queues a plugin for registration; plugin files call it from a
// package-level var so every plugin is queued before init runs.
func add(p framework.Plugin[framework.Layer]) bool {
	builtins = append(builtins, p)
	return true
}

// Register adds every built-in layer to r.
func Register(r *framework.Registry[framework.Layer]) {
	for _, p := range builtins {
		r.Register(p)
	}
}

func init() { Register(framework.Layers) }
